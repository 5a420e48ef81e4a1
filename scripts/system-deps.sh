#!/usr/bin/env bash
# System packages the tests need, installed from Debian's archive when missing (CI starts clean).
set -euo pipefail
need=()
# (browser tests add chromium here)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
