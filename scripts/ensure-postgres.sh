#!/usr/bin/env bash
# Make a PostgreSQL server reachable for the test suite and print its admin URL on stdout.
# 1. TEST_PG_URL already set and answering → use it.
# 2. A server on 127.0.0.1:5432 (the local cluster, started if it merely stopped) → use it.
# 3. Otherwise install the server package if needed (root) and run a throwaway cluster on :54329.
set -euo pipefail
log() { echo "[ensure-postgres] $*" >&2; }

ready() { pg_isready -q -d "$1" 2>/dev/null || psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

if [ -n "${TEST_PG_URL:-}" ] && ready "$TEST_PG_URL"; then echo "$TEST_PG_URL"; exit 0; fi

DEFAULT_URL="postgresql://postgres@127.0.0.1:5432/postgres"
if command -v psql >/dev/null && ready "$DEFAULT_URL"; then echo "$DEFAULT_URL"; exit 0; fi

if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting the local cluster $ver/main"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || true
  for _ in $(seq 1 30); do ready "$DEFAULT_URL" && { echo "$DEFAULT_URL"; exit 0; }; sleep 1; done
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then log "PostgreSQL is not installed; install it (apt-get install postgresql) or set TEST_PG_URL"; exit 1; fi
  log "installing postgresql from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DIR=${PG_THROWAWAY_DIR:-/tmp/autopilot-pg}
PORT=54329
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
if ready "$URL"; then echo "$URL"; exit 0; fi
log "starting a throwaway cluster in $DIR on 127.0.0.1:$PORT"
rm -rf "$DIR"; mkdir -p "$DIR"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$DIR"; AS="runuser -u postgres --"; else AS=""; fi
$AS "$BIN/initdb" -D "$DIR/data" -U postgres -A trust >/dev/null
$AS "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR" -w start >&2
echo "$URL"
