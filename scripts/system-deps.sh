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
# The loopback cluster (make cluster, #20) runs its own pgbouncer and nginx (stream module) on its own ports:
# installed without starting Debian's services (no system-wide listener on :80 or :6432).
cluster=()
[ -x /usr/sbin/pgbouncer ] || cluster+=(pgbouncer)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || cluster+=(nginx-light libnginx-mod-stream)
if [ ${#cluster[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${cluster[@]}" >/dev/null
  [ -z "$own_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now -q nginx pgbouncer 2>/dev/null || true
  fi
fi
