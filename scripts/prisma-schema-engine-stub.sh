#!/bin/sh
# Prisma's CLI wants its native schema-engine binary, which it would download from a host this
# project cannot reach. Generation does not need it; migrations go through scripts/db.ts, which
# uses the WebAssembly build of the same engine.
echo "The native Prisma schema engine is not used here: run 'npm run db -- <command>' instead (see docs/ARCHITECTURE.md)." >&2
exit 1
