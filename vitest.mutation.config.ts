import { defineConfig } from "vitest/config";
import base from "./vitest.config";

/**
 * The tests StrykerJS runs against mutated server/engine code (stryker.config.mjs): the pure
 * engine tests only, so a mutant is judged in milliseconds. The gate has its own run over the
 * database tests (stryker.gate.config.mjs). Not mergeConfig: it would concatenate the includes.
 */
export default defineConfig({ ...base, test: { ...base.test, include: ["test/engine/**/*.test.ts"] } });
