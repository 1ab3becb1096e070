#!/usr/bin/env bash
# Debian packages some tests drive as real programs (never downloaded browsers or binaries):
#   chromium                    - the trader's dashboard test, through playwright-core
#   prometheus                  - `promtool check metrics/config/rules`, a real Prometheus scraping monitoring
#   prometheus-alertmanager     - `amtool check-config` on the deployment's Alertmanager config
#   clickhouse-server           - @cryptoscalp/db-pool's ClickHouse backend against a disposable server
#   podman runc netavark aardvark-dns slirp4netns debootstrap podman-compose
#                               - the trader's image, built from a debootstrapped base and run (no Docker engine)
#   docker-compose              - `docker-compose config` validates the production compose file (no engine)
#   nginx                       - `nginx -t` on the deployment's config and the zero-downtime rehearsal
#   redis-sentinel              - Redis high availability under the trader
#   testssl.sh sqlmap           - the security suite (TLS policy, SQL injection probe)
#   wrk                         - load during the rehearsal
# Installs what is missing when we can (root with apt-get, --no-install-recommends); otherwise says how.
# Package maintainer scripts never start services here: a policy-rc.d that refuses is in place for the
# install (tests start their own servers on free ports).
set -euo pipefail
declare -A probe=(
  [chromium]=/usr/bin/chromium
  [prometheus]=promtool
  [prometheus-alertmanager]=amtool
  [clickhouse-server]=clickhouse-server
  [podman]=podman
  [runc]=runc
  [netavark]=/usr/lib/podman/netavark
  [aardvark-dns]=/usr/lib/podman/aardvark-dns
  [slirp4netns]=slirp4netns
  [debootstrap]=debootstrap
  [podman-compose]=podman-compose
  [docker-compose]=docker-compose
  [nginx]=nginx
  [redis-sentinel]=redis-sentinel
  [testssl.sh]=testssl
  [sqlmap]=sqlmap
  [wrk]=wrk
)
missing=()
for pkg in "${!probe[@]}"; do
  p="${probe[$pkg]}"
  if [[ "$p" == /* ]]; then [[ -x "$p" ]] || missing+=("$pkg"); else command -v "$p" >/dev/null || missing+=("$pkg"); fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system deps: all ${#probe[@]} present"
  exit 0
fi
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
  echo "system deps: installing ${missing[*]}"
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  trap '[[ $created_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "system deps: installed ${missing[*]}"
else
  echo "system deps: missing ${missing[*]}; install with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
