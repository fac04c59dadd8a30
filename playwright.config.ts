import { execFileSync } from "node:child_process";
import { defineConfig } from "@playwright/test";
import { CHROMIUM_ARGS, CHROMIUM_PATH, VIEWPORT } from "./e2e/chromium";

// A free port, chosen once: the config is loaded again in every worker process, and they inherit
// E2E_PORT from the runner, so all of them talk to the one server the runner started.
process.env.E2E_PORT ??= execFileSync(process.execPath, [
  "-e",
  "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})",
]).toString();
const PORT = Number(process.env.E2E_PORT);
const BASE = `http://127.0.0.1:${PORT}`;

/**
 * End-to-end against the real product: `npm start` (migrate → seed → serve) on a fresh SQLite
 * file, driven by Debian's Chromium (never a downloaded browser).
 */
export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/e2e",
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL: BASE,
    viewport: VIEWPORT,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
  webServer: {
    command: "rm -f test-results/e2e.db* && npm start",
    url: `${BASE}/api/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      DATABASE_URL: "file:./test-results/e2e.db",
      PORT: String(PORT),
      HOST: "127.0.0.1",
      BETTER_AUTH_URL: BASE,
      BETTER_AUTH_TRUSTED_ORIGINS: `http://localhost:${PORT}`,
      AUTH_SIGNIN_RATE_LIMIT: "200",
      SCHEDULER: "off",
    },
  },
});
