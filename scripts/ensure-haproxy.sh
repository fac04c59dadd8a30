#!/usr/bin/env bash
# The scale-out test runs the app behind Debian's HAProxy; install it if missing (root only).
# Only the binary is used: the test starts it in the foreground with a generated config, never
# as a system service.
set -euo pipefail
if command -v haproxy >/dev/null; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[ensure-haproxy] haproxy not found: run 'sudo apt-get install -y haproxy'" >&2
  exit 1
fi
echo "[ensure-haproxy] installing haproxy from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
# The package's maintainer script would start the service where an init system runs; a policy-rc.d
# that refuses (exit 101) keeps the install to the binary. Removed again afterwards.
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
fi
trap 'if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
apt-get install -y -qq haproxy >&2 || { apt-get update -qq >&2 && apt-get install -y -qq haproxy >&2; }
command -v haproxy >/dev/null
