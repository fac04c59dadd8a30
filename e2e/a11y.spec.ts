import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { signIn } from "./helpers";

/**
 * Every page, for every role that can open it, passes axe-core (WCAG 2.1 A/AA rules) with no
 * serious or critical violation. Pages are reached the way people reach them — through links —
 * so a page that only exists behind a click (an explanation, an account) is checked too.
 */
async function expectAccessible(page: Page, label: string) {
  await page.waitForLoadState("networkidle");
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.length} × e.g. ${v.nodes[0]?.target.join(" ")} — ${v.help}`);
  expect.soft(bad, `${label}: serious or critical accessibility violations`).toEqual([]);
}

test("the sign-in page is accessible", async ({ page }) => {
  await page.goto("/sign-in");
  await expectAccessible(page, "/sign-in");
});

test("the one-time approval page is accessible (signed out; an unknown token is a 404)", async ({ page }) => {
  const res = await page.goto("/approve/AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  expect(res?.status()).toBe(404);
  await expectAccessible(page, "/approve/:token (not found)");
});

const ADMIN_PAGES = [
  "/accounts",
  "/inbox",
  "/timeline",
  "/ledger",
  "/admin/autonomy",
  "/admin/kill-switches",
  "/admin/decisions",
  "/admin/jobs",
  "/admin/api-keys",
  "/admin/import",
  "/admin/exports",
  "/admin/connectors",
  "/admin/perception",
  "/admin/learning",
  "/admin/monitoring",
  "/admin/what-if",
  "/admin/reliability",
  "/heat",
  "/next",
  "/digest",
];

// One test per page: each gets its own timeout, and a failure names the page.
for (const path of ADMIN_PAGES) {
  test(`admin: ${path} is accessible`, async ({ page }) => {
    await signIn(page, "admin@demo.test");
    await page.goto(path);
    await expectAccessible(page, path);
  });
}

test("admin: an account page and an explanation, reached by their links, are accessible", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/accounts");
  await page.locator("tbody tr a").first().click();
  await expect(page).toHaveURL(/\/accounts\/[^/]+$/);
  await expectAccessible(page, "/accounts/:id");

  await page.goto("/timeline");
  const why = page.getByRole("link", { name: /Why\?/ }).first();
  await expect(why).toBeVisible();
  await why.click();
  await expect(page).toHaveURL(/\/explain\//);
  await expectAccessible(page, "/explain/:id");
});

test("the seller's and auditor's pages, and the forbidden page, are accessible", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, "seller@demo.test");
  for (const path of ["/accounts", "/inbox", "/timeline", "/heat", "/next", "/digest"]) {
    await page.goto(path);
    await expectAccessible(page, `seller ${path}`);
  }
  const res = await page.goto("/ledger");
  expect(res?.status()).toBe(403);
  await expectAccessible(page, "403 page");

  await page.context().clearCookies();
  await signIn(page, "auditor@demo.test");
  await page.goto("/ledger");
  await expectAccessible(page, "auditor /ledger");
  await page.goto("/admin/connectors");
  await expectAccessible(page, "auditor /admin/connectors");
  await page.goto("/admin/learning");
  await expectAccessible(page, "auditor /admin/learning");
});
