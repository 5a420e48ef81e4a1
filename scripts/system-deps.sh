#!/usr/bin/env bash
# System packages the tests need, installed from Debian's archive when missing (CI starts clean).
set -euo pipefail
need=()
# Browser tests (tests/web) drive Debian's Chromium through Playwright; never `playwright install`.
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
