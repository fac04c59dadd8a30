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

test("an entry opens its story, and the time range filters the list", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/ledger?type=POLICY_EVALUATED");
  const first = page.locator("tbody tr").first();
  await expect(first).toContainText("POLICY_EVALUATED");
  await page
    .getByRole("button", { name: /Open the story of entry/ })
    .first()
    .click();
  const dialog = page.getByRole("dialog", { name: "Story" });
  await expect(dialog).toBeVisible();
  // The story holds the entry itself and what led to it, in seq order.
  const items = dialog.getByTestId("story-entries").locator("li");
  await expect(items.filter({ hasText: "POLICY_EVALUATED" }).first()).toBeVisible();
  expect(await items.count()).toBeGreaterThan(1);
  const seqs = (await items.locator("span.tabular-nums").allTextContents()).map((t) => Number(t.replace("#", "")));
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  await shot(page, "ledger-story");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();

  // A range in the future holds nothing; clearing it brings the entries back.
  await page.getByLabel("From", { exact: true }).fill("2099-01-01T00:00");
  await expect(page.getByText("No entries match")).toBeVisible();
  await page.getByLabel("From", { exact: true }).fill("");
  await expect(page.locator("tbody tr").first()).toContainText("POLICY_EVALUATED");
  await page.getByLabel("To", { exact: true }).fill("2000-01-01T00:00");
  await expect(page.getByText("No entries match")).toBeVisible();
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
