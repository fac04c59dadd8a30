import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, test } from "@playwright/test";
import { card, shot, signIn, tickDecisions } from "./helpers";

/**
 * CSV import from the admin page (SPEC §4.4): a file with a multi-line quoted field, an unknown
 * column and two bad rows is previewed in the browser (header mapping, the bad row flagged with
 * its real line), imported, worked off by the job queue, and its result shows the counts and
 * each bad row by line and column. Then the same file again: nothing created, nothing updated.
 */
test.describe.configure({ mode: "serial" });

const CSV = [
  "External_ID,Name,Owner Email,Lifecycle,Posture,ARR,Notes",
  'e2e-1,Northwind Traders,seller@demo.test,CUSTOMER,OK,120000,"Renewal call booked;',
  'second line of the note"',
  "e2e-2,Contoso Ltd,,PROSPECT,WATCH,,",
  "e2e-3,Fabrikam Inc,,CUSTOMER,ON_FIRE,5000,",
  "e2e-4,Tailspin Toys,nobody@nowhere.test,SUSPECT,OK,10,",
  "e2e-5,Wide World Importers,,,,-10,",
].join("\r\n");

/** The preview and result only exist after a file is chosen: axe them there (a11y.spec sees the empty page). */
async function expectAccessible(page: Page) {
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}

test("admin previews a CSV, imports it, and reads the row errors by line and column", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "CSV import" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "CSV import" })).toBeVisible();
  await expect(card(page, "2. Preview").getByText("No file chosen")).toBeVisible();

  await page.getByLabel("What the file holds").selectOption("accounts");
  await page.getByLabel("CSV file").setInputFiles({ name: "accounts.csv", mimeType: "text/csv", buffer: Buffer.from(CSV) });
  const preview = card(page, "2. Preview");
  await expect(preview.getByText("accounts.csv · 5 rows", { exact: false })).toBeVisible();
  await expect(preview.getByRole("list", { name: "Header mapping" })).toContainText("Notes → ignored (unknown column)");
  await expect(preview.getByRole("list", { name: "Header mapping" })).toContainText("Owner Email → owner_email");
  // line 5 is the ON_FIRE row: the multi-line note above it spans lines 2–3
  const bad = preview.getByRole("row").filter({ hasText: "Fabrikam" });
  await expect(bad.getByRole("cell").first()).toHaveText("5");
  await expect(bad).toContainText("posture: unknown posture");
  await expectAccessible(page);
  await shot(page, "import-preview");

  await preview.getByRole("button", { name: /^Import accounts/ }).click();
  const result = card(page, "3. Result");
  await expect(result.getByRole("progressbar")).toBeVisible();
  await tickDecisions();
  await expect(result.getByText("completed")).toBeVisible({ timeout: 15_000 });
  await expect(result.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "5");
  const stat = (label: string) => result.locator("dl div").filter({ hasText: label }).locator("dd");
  await expect(stat("Created")).toHaveText("2");
  await expect(stat("Updated")).toHaveText("0");
  await expect(stat("Rows with errors")).toHaveText("3");
  const errors = result.getByRole("table", { name: "Row errors" });
  await expect(errors.getByRole("row").filter({ hasText: "posture" }).getByRole("cell").first()).toHaveText("5");
  await expect(errors.getByRole("row").filter({ hasText: "owner_email" }).getByRole("cell").first()).toHaveText("6");
  await expect(errors.getByRole("row").filter({ hasText: "arr" }).getByRole("cell").first()).toHaveText("7");
  await expect(result.getByText("Ignored columns (not part of this format): Notes")).toBeVisible();
  await expect(card(page, "Recent imports").getByRole("row").filter({ hasText: "accounts.csv" }).first()).toContainText("completed");
  await expectAccessible(page);
  await shot(page, "import-result");

  // The same file again is idempotent by external id.
  await preview.getByRole("button", { name: /^Import accounts/ }).click();
  await expect(result.getByText("queued", { exact: false }).first()).toBeVisible();
  await tickDecisions();
  await expect(result.getByText("completed")).toBeVisible({ timeout: 15_000 });
  await expect(stat("Created")).toHaveText("0");
  await expect(stat("Updated")).toHaveText("0");

  // The imported account is there, owned by the seller named in owner_email.
  await page.goto("/accounts");
  await expect(page.getByRole("link", { name: "Northwind Traders" })).toBeVisible();
});

test("a file missing a required column is refused before import", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/admin/import");
  await page.getByLabel("What the file holds").selectOption("contacts");
  await page
    .getByLabel("CSV file")
    .setInputFiles({ name: "contacts.csv", mimeType: "text/csv", buffer: Buffer.from("external_id,name\nc1,Ann\n") });
  const preview = card(page, "2. Preview");
  await expect(preview.getByRole("alert")).toContainText("missing from the header: account_external_id");
  await expect(preview.getByRole("button", { name: /^Import/ })).toBeDisabled();
  await shot(page, "import-refused");
});

test("sellers do not see the import page", async ({ page }) => {
  await signIn(page, "seller@demo.test");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "CSV import" })).toHaveCount(0);
  await page.goto("/admin/import");
  await expect(page.getByRole("heading", { level: 1, name: "CSV import" })).toHaveCount(0);
});
