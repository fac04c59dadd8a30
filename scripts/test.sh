#!/usr/bin/env bash
# `npm test`: everything CI checks, in order of speed. Both databases, the real browser.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
step() { printf '\n\033[1m▶ %s\033[0m\n' "$*"; }

step "typecheck";            npm run -s typecheck
step "lint";                 npm run -s lint
step "migrations match the schema (SQLite + PostgreSQL)"
TEST_PG_URL=$(bash scripts/ensure-postgres.sh); export TEST_PG_URL
PG_URL="$TEST_PG_URL" npm run -s db:check
step "unit + integration on SQLite";     TEST_DB=sqlite npx vitest run
step "unit + integration on PostgreSQL"; TEST_DB=postgres npx vitest run
step "build";                npm run -s build
step "end-to-end in Chromium"
bash scripts/ensure-chromium.sh
npx playwright test
step "all green"
