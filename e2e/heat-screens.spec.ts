import { expect, test } from "@playwright/test";
import { signIn } from "./helpers";

/** Screenshots of the heat page and an account's heat over time, for a person to look at. */
test("heat page and account heat chart render with the demo's real tiers", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/heat");
  await expect(page.getByRole("heading", { name: "Tier distribution" })).toBeVisible();
  await expect(page.locator("tbody tr").first()).toBeVisible();
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: "test-results/heat-page.png", fullPage: true });
  await page.locator("tbody tr a").first().click();
  await expect(page).toHaveURL(/\/accounts\/[^/]+$/);
  await expect(page.getByRole("heading", { name: /Heat over the last/ })).toBeVisible();
  await expect(page.getByRole("figure", { name: /Daily heat of this account/ })).toBeVisible();
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: "test-results/account-heat.png", fullPage: true });
});
