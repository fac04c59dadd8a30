import path from "node:path";
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["test/**/*.test.ts"],
    // The scale-out run needs the production build: vitest.scaleout.config.ts runs it after `npm run build`.
    exclude: [...configDefaults.exclude, "test/scaleout/**"],
    environment: "node",
    // Each file gets its own database (see test/helpers/db.ts), so files run in parallel safely.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: {
      NEXT_TELEMETRY_DISABLED: "1",
      BETTER_AUTH_SECRET: "test-secret-test-secret-test-secret",
      BETTER_AUTH_URL: "http://127.0.0.1:3999",
    },
  },
});
