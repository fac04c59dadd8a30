import { expect, type Locator, type Page, test } from "@playwright/test";
import { card, shot, signIn } from "./helpers";

/**
 * The shared table (components/ui/data-table.tsx) and the settings forms on react-hook-form with
 * the server's zod schemas: a header click really reorders the rows and says so in aria-sort, the
 * text filter narrows them, and a bad value shows the schema's message next to its field.
 */

/** The texts of one column's cells, top to bottom. */
async function column(table: Locator, index: number) {
  return table
    .locator("tbody tr")
    .evaluateAll((rows, i) => rows.map((r) => (r.querySelectorAll("td")[i]?.textContent ?? "").trim()), index);
}

const byText = (a: string, b: string) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0);

async function hottest(page: Page) {
  await page.goto("/heat");
  const table = page.getByRole("table", { name: "Hottest accounts, hottest first" });
  await expect(table.locator("tbody tr").first()).toBeVisible();
  return table;
}

test("sorting a table reorders its rows and marks the header; the filter narrows them", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  const table = await hottest(page);
  const names = await column(table, 1);
  expect(names.length).toBeGreaterThan(2);
  const ascending = [...names].sort(byText);
  // The server orders by heat, not by name: otherwise this test could not tell a sort happened.
  expect(names).not.toEqual(ascending);

  const accountHeader = table.getByRole("columnheader", { name: "Account" });
  await expect(accountHeader).not.toHaveAttribute("aria-sort");
  await accountHeader.getByRole("button").click();
  await expect(accountHeader).toHaveAttribute("aria-sort", "ascending");
  expect(await column(table, 1)).toEqual(ascending);

  await accountHeader.getByRole("button").click();
  await expect(accountHeader).toHaveAttribute("aria-sort", "descending");
  expect(await column(table, 1)).toEqual([...ascending].reverse());

  // Scores sort as numbers (a text sort would put 10.5 before 9.1).
  const scoreHeader = table.getByRole("columnheader", { name: "Score" });
  await scoreHeader.getByRole("button").click();
  await expect(scoreHeader).toHaveAttribute("aria-sort", /ascending|descending/);
  const scores = (await column(table, 3)).map(Number);
  const dir = await scoreHeader.getAttribute("aria-sort");
  expect(scores).toEqual([...scores].sort((a, b) => (dir === "ascending" ? a - b : b - a)));
  await expect(accountHeader).not.toHaveAttribute("aria-sort");

  // The labelled filter keeps only rows whose account name contains the text.
  const needle = (names[0] ?? "").slice(0, 4);
  await page.getByLabel("Filter accounts").fill(needle);
  const kept = await column(table, 1);
  expect(kept.length).toBeGreaterThan(0);
  expect(kept.length).toBeLessThan(names.length);
  for (const n of kept) expect(n.toLowerCase()).toContain(needle.toLowerCase());
  await shot(page, "tables-heat-sorted-filtered");

  await page.getByLabel("Filter accounts").fill("no account is called this");
  await expect(table).toContainText("No loaded rows match");
});

test("the accounts table sorts the loaded rows by ARR and keeps Load more", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  const table = page.getByRole("table", { name: "Accounts" });
  await expect(table.locator("tbody tr").first()).toBeVisible();
  const arr = table.getByRole("columnheader", { name: "ARR" });
  await arr.getByRole("button").click();
  const dir = await arr.getAttribute("aria-sort");
  expect(dir).toMatch(/ascending|descending/);
  const money = (await column(table, 6)).map((t) => (t === "—" ? 0 : Number(t.replace(/[^0-9.]/g, ""))));
  expect(money).toEqual([...money].sort((a, b) => (dir === "ascending" ? a - b : b - a)));
  // More accounts wait on the server: the table says the sort covers what is loaded.
  await expect(page.getByRole("button", { name: "Load more" })).toBeVisible();
  await expect(page.getByTestId("partial-note")).toContainText("rows loaded so far");
  await shot(page, "tables-accounts-sorted");
});

test("settings forms show the server schema's message next to a bad field and refuse to save", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/admin/decisions");
  const gate = card(page, "Cost gate");
  const runs = gate.getByLabel("Decision runs per day");
  await expect(runs).not.toHaveValue("");
  await runs.fill("2.5");
  await expect(runs).toHaveAttribute("aria-invalid", "true");
  await expect(runs).toHaveAccessibleDescription("A whole number from 0 to 1000000");
  await expect(gate.getByRole("button", { name: "Save cost gate" })).toBeDisabled();
  await gate.getByRole("button", { name: "Discard" }).click();
  await expect(runs).not.toHaveAttribute("aria-invalid", "true");

  // The cross-field rule the client adds to the server's schema: max wait at least the debounce.
  const triggers = card(page, "Triggers");
  const debounce = triggers.getByLabel(/^Debounce for /).first();
  const maxWait = triggers.getByLabel(/^Max wait for /).first();
  await debounce.fill("600");
  await maxWait.fill("60");
  await expect(triggers.getByText("At least the debounce (600 s), or the debounce never applies")).toBeVisible();
  await expect(maxWait).toHaveAttribute("aria-invalid", "true");
  await expect(maxWait).toHaveAccessibleDescription("At least the debounce (600 s), or the debounce never applies");
  await expect(triggers.getByRole("button", { name: "Save triggers" })).toBeDisabled();
  await shot(page, "forms-decisions-errors");

  await page.goto("/admin/learning");
  const settings = card(page, "Learning settings");
  const tolerance = settings.getByLabel("Guard tolerance");
  await expect(tolerance).not.toHaveValue("");
  await tolerance.fill("2");
  await expect(settings.getByText("A number from 0 to 1")).toBeVisible();
  await expect(tolerance).toHaveAttribute("aria-invalid", "true");
  await expect(tolerance).toHaveAccessibleDescription("A number from 0 to 1");
  await expect(settings.getByRole("button", { name: "Save settings" })).toBeDisabled();
  await shot(page, "forms-learning-error");

  // The autonomy budget validates with the API's own number rule; the save waits for a valid form.
  await page.goto("/admin/autonomy");
  const budget = card(page, "Budget — workspace default");
  const max = budget.getByLabel("Max autonomous actions per day");
  await expect(max).not.toHaveValue("");
  await max.fill("1001");
  await expect(max).toHaveAttribute("aria-invalid", "true");
  await expect(max).toHaveAccessibleDescription("At most 1000");
  await expect(budget.getByRole("button", { name: "Save budget" })).toBeDisabled();
  await max.fill("2.5");
  await expect(max).toHaveAccessibleDescription("Use a whole number");
  await shot(page, "forms-budget-error");
  await budget.getByRole("button", { name: "Discard" }).click();
  await expect(max).not.toHaveAttribute("aria-invalid", "true");

  // The CRM token: blank keeps the stored one; a token with a space is refused before any request.
  await page.goto("/admin/connectors");
  const crm = page.getByRole("form", { name: "CRM connector settings" });
  const token = crm.getByLabel("Private-app token");
  await token.fill("pat with spaces");
  await expect(token).toHaveAttribute("aria-invalid", "true");
  await expect(token).toHaveAccessibleDescription("token must be one line of printable characters without spaces");
  await expect(crm.getByRole("button", { name: "Save CRM settings" })).toBeDisabled();
  await token.fill("");
  await expect(crm.getByRole("button", { name: "Save CRM settings" })).toBeEnabled();
});
