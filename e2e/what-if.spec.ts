import { expect, test } from "@playwright/test";
import { shot, signIn } from "./helpers";

/**
 * Policy what-if end to end (SPEC §4.8): an admin replays the demo's stored evaluations with a
 * proposed change, sees the counts by action type and the changed intents, then runs the same
 * change in log-only mode and discards it from its report (the demo server is left as found).
 */
test("admin runs a what-if, starts the change in log-only mode and discards it", async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page, "admin@demo.test");
  await page.goto("/admin/what-if");
  await expect(page.getByRole("heading", { name: "Policy what-if" })).toBeVisible();

  const change = page.getByTestId("what-if-change").first();
  await expect(change.getByLabel("Action type")).toHaveValue("CREATE_INTERNAL_TASK");
  await expect(change.getByLabel("Mode")).toHaveValue("APPROVAL_REQUIRED");
  await page.getByLabel("Replay the last").selectOption("92");

  // A change with nothing to change is refused next to the field, before any request.
  await page.getByRole("button", { name: "Add a change" }).click();
  await page.getByRole("button", { name: "Run what-if" }).click();
  await expect(page.getByTestId("what-if-change").nth(1).getByRole("alert")).toHaveText(
    "Choose a mode, an allowlist change or a daily budget",
  );
  await page.getByRole("button", { name: "Remove change 2" }).click();

  await page.getByRole("button", { name: "Run what-if" }).click();
  const summary = page.getByTestId("what-if-summary");
  await expect(summary).toContainText(/\d+ evaluations? replayed: \d+ would be decided differently/);
  const changed = Number((await summary.locator("strong").textContent()) ?? "-1");
  const table = page.getByTestId("what-if-changed");
  if (changed > 0) {
    await expect(page.getByTestId("what-if-chart")).toBeVisible();
    await expect(table.locator("tbody tr").first()).toContainText("CREATE_INTERNAL_TASK");
    await expect(table.locator("tbody tr").first()).toContainText("Needs approval");
  } else await expect(table).toContainText("No decision would change");
  await shot(page, "what-if");

  const name = `e2e tasks need approval ${Date.now()}`;
  await page.getByRole("button", { name: "Run in log-only mode" }).click();
  const dialog = page.getByRole("dialog", { name: "Run in log-only mode" });
  await dialog.getByLabel("Name").fill(name);
  await expect(dialog).toContainText("workspace · CREATE_INTERNAL_TASK: mode APPROVAL_REQUIRED");
  await dialog.getByRole("button", { name: "Start log-only mode" }).click();
  await expect(dialog).toBeHidden();
  const proposal = page.getByRole("article", { name });
  await expect(proposal).toContainText("log-only");
  await expect(proposal.getByTestId("proposal-summary")).toContainText("evaluations logged");
  await shot(page, "what-if-proposal");

  await proposal.getByRole("button", { name: "Discard" }).click();
  const confirm = page.getByRole("dialog", { name: `Discard “${name}”` });
  await confirm.getByRole("textbox").fill("e2e: only a drill");
  await confirm.getByRole("button", { name: "Discard" }).click();
  await expect(confirm).toBeHidden();
  await expect(proposal).toContainText("discarded");
  await expect(proposal.getByRole("button", { name: "Enforce" })).toHaveCount(0);
});
