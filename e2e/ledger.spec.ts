import { expect, test } from "@playwright/test";
import { shot, signIn } from "./helpers";

test("admin explores the ledger, filters it and verifies the chain", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.getByRole("link", { name: "Ledger" }).click();
  await expect(page.getByRole("heading", { name: "Ledger" })).toBeVisible();
  await expect(page.locator("tbody tr").first()).toBeVisible();

  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByTestId("verify-result")).toContainText("Intact");

  await page.getByLabel("Entry type").selectOption("SIGNAL_RECEIVED");
  await expect(page.locator("tbody tr").first()).toContainText("SIGNAL_RECEIVED");
  await page
    .getByRole("button", { name: /Show details of entry/ })
    .first()
    .click();
  await expect(page.getByText("Previous hash")).toBeVisible();
  await shot(page, "ledger");

  // Filters travel in the URL (explanation pages link to one story's entries).
  await page.goto("/ledger?type=SIGN_IN");
  await expect(page.getByLabel("Entry type")).toHaveValue("SIGN_IN");
  await expect(page.locator("tbody tr").first()).toContainText("SIGN_IN");
  await page.screenshot({ path: "test-results/screenshots/ledger-viewport.png" });
});

test("admin creates an API key, it works once shown, and revoking it locks it out", async ({ page, request }) => {
  await signIn(page, "admin@demo.test");
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Name").fill("e2e reader");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = ((await page.getByTestId("new-api-key").textContent()) ?? "").trim();
  expect(key).toMatch(/^apk_/);
  await shot(page, "api-keys");

  const ok = await request.get("/api/v1/accounts?limit=2", { headers: { authorization: `Bearer ${key}` } });
  expect(ok.status()).toBe(200);
  expect((await ok.json()).items).toHaveLength(2);

  page.once("dialog", (d) => d.accept());
  await page
    .getByRole("row", { name: /e2e reader/ })
    .getByRole("button", { name: "Revoke" })
    .click();
  await expect(page.getByRole("row", { name: /e2e reader/ })).toContainText("revoked");
  const denied = await request.get("/api/v1/accounts", { headers: { authorization: `Bearer ${key}` } });
  expect(denied.status()).toBe(401);
});
