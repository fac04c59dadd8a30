import { expect, test } from "@playwright/test";
import { shot, signIn } from "./helpers";

/**
 * A seller reads their daily digest: the counts, the four sections, the budget chart, and sets
 * the digest email (the next send time follows the chosen hour and zone).
 */
test("the seller reads the digest and sets the digest email", async ({ page }) => {
  await signIn(page, "seller@demo.test");
  await page.getByRole("link", { name: "Daily digest" }).click();
  await expect(page).toHaveURL(/\/digest$/);
  await expect(page.getByRole("heading", { name: "Daily digest" })).toBeVisible();
  await expect(page.getByTestId("digest-counts")).toBeVisible();
  for (const title of [/What autopilot did on its own \(\d+\)/, /Waiting for your input \(\d+\)/, /Blocked \(\d+\)/, "Budget use"]) {
    await expect(page.getByRole("heading", { name: title })).toBeVisible();
  }
  await expect(page.getByRole("link", { name: "Open the inbox" })).toHaveAttribute("href", "/inbox");
  await expect(page.getByTestId("digest-budget-chart")).toBeVisible();

  // A day is chosen with the picker; the page says which local day and zone it covers (the demo
  // seed set the seller's digest up in Europe/Berlin when it opted their accounts into always-on).
  const day = page.getByLabel("Day", { exact: true });
  const shown = await day.inputValue();
  expect(shown).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  await expect(page.getByText(`${shown} in Europe/Berlin, the whole local day`)).toBeVisible();

  // Invalid address: the form says so on the field and saves nothing.
  await page.getByLabel("Email me the digest every day").check();
  await page.getByLabel("Email address").fill("not-an-address");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Enter an email address")).toBeVisible();

  await page.getByLabel("Email address").fill("seller.digest@example.com");
  await page.getByLabel("Send at (local hour)").selectOption("7");
  await page.getByLabel("Time zone").fill("America/New_York");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await expect(page.getByTestId("digest-next-send")).toContainText(/Next digest: .*7:00 (AM|PM) \(America\/New_York\)/);
  // The digest now counts the seller's day in their zone.
  await expect(page.getByText(/in America\/New_York, the whole local day/)).toBeVisible();
  await shot(page, "digest-seller");
});
