import { execFile } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import { expect, type Page } from "@playwright/test";

export const PASSWORD = process.env.DEMO_PASSWORD ?? "autopilot-demo";

export async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/accounts$/);
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}

/** Create an API key on /admin/api-keys as the signed-in admin and return the one-time secret. */
export async function createApiKey(page: Page, name: string, scopes: ("read" | "ingest" | "approve" | "admin")[]) {
  await page.goto("/admin/api-keys");
  await page.getByLabel("Name").fill(name);
  for (const s of ["read", "ingest", "approve", "admin"] as const) {
    await page.getByLabel(s, { exact: true }).setChecked(scopes.includes(s));
  }
  await page.getByRole("button", { name: "Create key" }).click();
  const key = ((await page.getByTestId("new-api-key").textContent()) ?? "").trim();
  expect(key).toMatch(/^apk_/);
  return key;
}

/** Viewport-only screenshot: for modal dialogs, whose backdrop covers the viewport, not the page. */
export async function shotViewport(page: Page, name: string) {
  await page.screenshot({ path: `test-results/screenshots/${name}.png` });
}

/** A `Card` (its `<section>`) by the text of its heading. */
export function card(page: Page, title: string | RegExp) {
  return page.locator("section").filter({ has: page.getByRole("heading", { level: 2, name: title }) });
}

/**
 * The e2e server runs with SCHEDULER=off: run the `decisions` tick the way the scheduler would —
 * due triggers, then the queue (decision runs, imports, exports, approved executions, approval
 * messages) — with the server's database, signing secret and public origin. Asynchronous, so HTTP
 * receivers the test runs in this process answer the tick's calls meanwhile.
 */
export async function tickDecisions() {
  const secret = process.env.BETTER_AUTH_SECRET ?? fs.readFileSync("data/.better_auth_secret", "utf8").trim();
  await promisify(execFile)("npx", ["tsx", "scripts/cli.ts", "tick", "decisions"], {
    env: {
      ...process.env,
      DATABASE_URL: "file:./test-results/e2e.db",
      BETTER_AUTH_SECRET: secret,
      APP_URL: `http://127.0.0.1:${process.env.E2E_PORT}`,
    },
  });
}
