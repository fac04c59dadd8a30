import { createHash } from "node:crypto";
import fs from "node:fs";
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { shot, signIn, tickDecisions } from "./helpers";

/**
 * Audit export from the admin page (SPEC §4.6): request the demo tenant's last 30 days as CSV,
 * the queue writes it, the table shows the row count and sha256, and the downloaded file matches
 * both.
 */

test("admin requests a CSV export, it completes, and the download matches its row count and sha256", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Exports" }).click();
  await expect(page).toHaveURL(/\/admin\/exports$/);

  // A backwards range is refused in the form, naming the last day.
  await page.getByLabel("First day (UTC)").fill("2026-11-10");
  await page.getByLabel("Last day (UTC, included)").fill("2026-11-01");
  await page.getByRole("button", { name: "Request export" }).click();
  await expect(page.getByText("The last day cannot be before the first")).toBeVisible();

  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel("First day (UTC)").fill(monthAgo);
  await page.getByLabel("Last day (UTC, included)").fill(today);
  await page.getByRole("button", { name: "Request export" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Export requested" })).toBeVisible();
  await expect(page.getByTestId("export-row-PENDING")).toBeVisible();

  await tickDecisions();
  const done = page.getByTestId("export-row-COMPLETED").first();
  await expect(done).toBeVisible({ timeout: 15_000 });
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await shot(page, "audit-exports");

  const sha = await done.locator("code").getAttribute("title");
  const rows = Number((await done.locator("td").nth(4).innerText()).replace(/,/g, ""));
  expect(rows).toBeGreaterThan(0);
  const [download] = await Promise.all([page.waitForEvent("download"), done.getByTestId("export-download").click()]);
  expect(download.suggestedFilename()).toMatch(/^audit-.+\.csv$/);
  const file = fs.readFileSync((await download.path()) ?? "");
  expect(createHash("sha256").update(file).digest("hex")).toBe(sha);
  const text = file.toString("utf8");
  expect(text.split("\n")[0]).toBe("seq,created_at,type,account_id,correlation_id,actor_type,actor_id,payload,prev_hash,hash");
});
