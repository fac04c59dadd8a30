#!/usr/bin/env bash
# `npm test`: everything CI checks, in order of speed. Both databases, the real browser.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
step() { printf '\n\033[1m▶ %s\033[0m\n' "$*"; }
mkdir -p test-results

step "typecheck";            npm run -s typecheck
step "lint";                 npm run -s lint
step "migrations match the schema (SQLite + PostgreSQL)"
TEST_PG_URL=$(bash scripts/ensure-postgres.sh); export TEST_PG_URL
PG_URL="$TEST_PG_URL" npm run -s db:check
step "unit + integration on SQLite"
TEST_DB=sqlite npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest-sqlite.json
step "unit + integration on PostgreSQL"
TEST_DB=postgres npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest-postgres.json
step "build";                npm run -s build
step "end-to-end in Chromium (npm start on a fresh SQLite file)"
bash scripts/ensure-chromium.sh
PLAYWRIGHT_JSON_OUTPUT_NAME=test-results/playwright.json npx playwright test --reporter=list,json
step "scale-out: two instances (npm start) and a worker on PostgreSQL behind HAProxy, one killed mid-run"
bash scripts/ensure-haproxy.sh
npx vitest run -c vitest.scaleout.config.ts --reporter=default --reporter=json --outputFile.json=test-results/vitest-scaleout.json

# One plain closing line over all runners (each runner above already failed the script on a failure).
node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of ["vitest-sqlite", "vitest-postgres", "vitest-scaleout"]) {
  const r = JSON.parse(fs.readFileSync(`test-results/${f}.json`, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
}
const p = JSON.parse(fs.readFileSync("test-results/playwright.json", "utf8")).stats;
passed += p.expected; failed += p.unexpected + p.flaky; skipped += p.skipped;
if (passed === 0) { console.error("no tests ran"); process.exit(1); }
console.log(`\nSummary: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
'
