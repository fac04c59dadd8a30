import path from "node:path";
import { defineConfig } from "vitest/config";

/**
 * The scale-out run (test/scaleout): real `npm start` instances behind HAProxy, so it needs the
 * production build and runs after it (scripts/test.sh, `npm run test:scaleout`), never in the
 * main suite (vitest.config.ts excludes it).
 */
export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["test/scaleout/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 400_000,
  },
});
