#!/usr/bin/env bash
# The trader's dashboard test drives Debian's Chromium through playwright-core (never a downloaded browser).
# Installs it when it is missing and we can (root with apt-get); otherwise says how.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) present"
  exit 0
fi
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
  echo "browser: installing Debian chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null)"
else
  echo "browser: /usr/bin/chromium is missing; install it with: sudo apt-get install -y chromium" >&2
  exit 1
fi
