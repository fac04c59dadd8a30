import { defineConfig } from "vitest/config";
import base from "./vitest.config";

/** The tests StrykerJS runs against a mutated gate (stryker.gate.config.mjs): the gate's database tests. */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/integration/gate*.test.ts", "test/integration/rest-autonomy.test.ts"] },
});
