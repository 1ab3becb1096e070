#!/usr/bin/env bash
# Debian packages some tests drive as real programs (never downloaded browsers or binaries):
#   chromium    - the trader's dashboard test, through playwright-core
#   prometheus  - `promtool check metrics` and a real Prometheus scraping @cryptoscalp/monitoring
#   clickhouse-server - @cryptoscalp/db-pool's ClickHouse backend against a disposable server
# Installs what is missing when we can (root with apt-get); otherwise says how.
set -euo pipefail
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v clickhouse-server >/dev/null || missing+=(clickhouse-server)
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system deps: chromium, prometheus and clickhouse-server present"
  exit 0
fi
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
  echo "system deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # Their packages may start system services; tests start their own disposable servers on free ports.
  pkill -x prometheus 2>/dev/null || true
  pkill -x clickhouse-server 2>/dev/null || true
  echo "system deps: installed ${missing[*]}"
else
  echo "system deps: missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
