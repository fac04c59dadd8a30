import { expect, test } from "@playwright/test";
import { PASSWORD, shot, signIn } from "./helpers";

test("signed-out visitors are sent to sign-in, and a wrong password is refused", async ({ page }) => {
  await page.goto("/accounts");
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.getByLabel("Email").fill("admin@demo.test");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("Email or password is incorrect.")).toBeVisible();
  await shot(page, "sign-in");
});

test("admin sees every account and every admin page", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Ledger" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "API keys" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: "Accounts" })).toBeVisible();
  await expect(page.locator("tbody tr")).toHaveCount(25);
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(page.locator("tbody tr")).toHaveCount(50);
  await shot(page, "accounts-admin");

  await page.locator("tbody tr a").first().click();
  await expect(page.getByRole("heading", { name: "Activity" })).toBeVisible();
  await expect(page.getByText(/^Signal:/).first()).toBeVisible();
  await shot(page, "account-detail");
});

test("a seller sees only their own accounts and gets a forbidden page on admin pages", async ({ page }) => {
  await signIn(page, "seller@demo.test");
  await expect(page.getByText("The accounts you own.")).toBeVisible();
  await expect(page.locator("tbody tr").first()).toBeVisible();
  const owners = await page.locator("tbody tr td:nth-child(2)").allInnerTexts();
  expect(owners.length).toBeGreaterThan(0);
  expect(new Set(owners)).toEqual(new Set(["Sam Seller"]));
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Ledger" })).toHaveCount(0);
  await shot(page, "accounts-seller");

  for (const path of ["/admin/api-keys", "/ledger"]) {
    const res = await page.goto(path);
    expect(res?.status()).toBe(403);
    await expect(page.getByRole("heading", { name: "You don't have access to this page" })).toBeVisible();
  }
  await shot(page, "forbidden-seller");
});

test("an auditor reads the ledger but not API keys", async ({ page }) => {
  await signIn(page, "auditor@demo.test");
  await page.getByRole("link", { name: "Ledger" }).click();
  await expect(page.getByRole("heading", { name: "Ledger" })).toBeVisible();
  await expect(page.locator("tbody tr").first()).toBeVisible();
  const res = await page.goto("/admin/api-keys");
  expect(res?.status()).toBe(403);
});

test("globex users never see demo data, and demo account URLs are not found for them", async ({ page, browser }) => {
  // Find a demo account id as the demo admin.
  const demo = await browser.newPage();
  await signIn(demo, "admin@demo.test", PASSWORD);
  const demoHref = await demo.locator("tbody tr a").first().getAttribute("href");
  const demoNames = await demo.locator("tbody tr a").allInnerTexts();
  await demo.close();

  await signIn(page, "admin@globex.test");
  await expect(page.getByText("Every account in Globex Corporation.")).toBeVisible();
  await expect(page.locator("tbody tr")).toHaveCount(12);
  const globexIds = await page.locator("tbody tr a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  expect(globexIds).not.toContain(demoHref);
  const res = await page.goto(demoHref as string);
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  expect(demoNames.length).toBeGreaterThan(0);
});
