// Mutation testing of the autonomy gate (server/services/gate/) against its database integration
// tests (SQLite by default; TEST_DB=postgres works too). Opt-in because it is slow: each mutant is
// judged by re-running the gate's database tests (tens of minutes on two shared cores):
// `npm run test:mutation -- stryker.gate.config.mjs` (reports/mutation/gate.html).
import engine from "./stryker.config.mjs";

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...engine,
  vitest: { configFile: "vitest.mutation-gate.config.ts" },
  mutate: ["server/services/gate/**/*.ts"],
  htmlReporter: { fileName: "reports/mutation/gate.html" },
  jsonReporter: { fileName: "reports/mutation/gate.json" },
  // each database test file builds a fresh database
  timeoutMS: 60_000,
  concurrency: 1,
};
