import { expect, test } from "@playwright/test";
import { card, shot, signIn } from "./helpers";

/**
 * Always-on decisions, admin side (SPEC §4.3): trigger caps and ritual cadences persist, a bad cron
 * is refused inline, "Run a decision now" queues a RUN_DECISION job that the job queue shows, and
 * both pages are admin-only (page and API).
 */
test.describe.configure({ mode: "serial" });

test("admin tunes triggers and cadences, runs a decision, and sees its job queued", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Decisions" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Decisions" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Decisions" })).toHaveAttribute("aria-current", "page");

  // Triggers: the per-account hourly cap persists across a reload.
  const triggers = card(page, "Triggers");
  const cap = triggers.getByLabel("Per-account hourly cap");
  await expect(cap).not.toHaveValue("");
  const next = (await cap.inputValue()) === "9" ? "8" : "9";
  await expect(triggers.getByRole("button", { name: "Save triggers" })).toBeDisabled();
  await cap.fill("1001");
  await expect(triggers.getByText("A whole number from 0 to 1000")).toBeVisible();
  await expect(triggers.getByRole("button", { name: "Save triggers" })).toBeDisabled();
  await cap.fill(next);
  await triggers.getByRole("button", { name: "Save triggers" }).click();
  await expect(page.getByTestId("triggers-notice")).toContainText("Trigger settings saved");
  await page.reload();
  await expect(card(page, "Triggers").getByLabel("Per-account hourly cap")).toHaveValue(next);

  // Cadences: enable the daily brief with a valid cron; it is still on after a reload.
  const cadences = card(page, "Ritual cadences");
  const schedule = cadences.getByLabel("Schedule for Daily brief", { exact: true });
  await schedule.fill("30 7 * * 1-5");
  await cadences.getByLabel("Enabled: Daily brief", { exact: true }).check();
  await cadences.getByRole("button", { name: "Save Daily brief schedule" }).click();
  const dailyRow = cadences.getByTestId("cadence-TIME_RITUAL_DAILY_BRIEF");
  await expect(dailyRow.getByText("Saved")).toBeVisible();
  await expect(dailyRow.getByText(/^Next /)).toBeVisible();
  await page.reload();
  await expect(card(page, "Ritual cadences").getByLabel("Schedule for Daily brief", { exact: true })).toHaveValue("30 7 * * 1-5");
  await expect(card(page, "Ritual cadences").getByLabel("Enabled: Daily brief", { exact: true })).toBeChecked();

  // An invalid cron is refused by the server and the error shows inline, next to the field.
  await card(page, "Ritual cadences").getByLabel("Schedule for Weekly review", { exact: true }).fill("99 99 * * *");
  await card(page, "Ritual cadences").getByRole("button", { name: "Save Weekly review schedule" }).click();
  const weeklyRow = card(page, "Ritual cadences").getByTestId("cadence-TIME_RITUAL_WEEKLY_REVIEW");
  await expect(weeklyRow.getByRole("alert")).toContainText("Not a valid schedule");
  await expect(card(page, "Ritual cadences").getByLabel("Schedule for Weekly review", { exact: true })).toHaveAttribute(
    "aria-invalid",
    "true",
  );

  // An unknown time zone is caught next to its own field, before it reaches the server.
  const tz = card(page, "Ritual cadences").getByLabel("Time zone for Renewal runway", { exact: true });
  await tz.fill("Mars/Olympus");
  await expect(card(page, "Ritual cadences").getByText("Not a known time zone")).toBeVisible();
  await expect(card(page, "Ritual cadences").getByRole("button", { name: "Save Renewal runway schedule" })).toBeDisabled();
  await tz.fill("Europe/Berlin");
  await expect(card(page, "Ritual cadences").getByText("Not a known time zone")).toHaveCount(0);

  // A per-account schedule for one account is saved and listed with the account schedules.
  const cad = card(page, "Ritual cadences");
  const cadAccount = cad.getByLabel("Account", { exact: true });
  await expect(cadAccount.locator("option")).not.toHaveCount(1);
  await cadAccount.selectOption({ index: 1 });
  const acctName = ((await cadAccount.locator("option:checked").textContent()) ?? "").trim();
  await cad.getByLabel(`Enabled: Renewal runway (${acctName})`, { exact: true }).check();
  await cad.getByRole("button", { name: `Save Renewal runway (${acctName}) schedule` }).click();
  await expect(cad.getByRole("listitem").filter({ hasText: "Renewal runway" })).toContainText("On");

  // Run a decision now → QUEUED, and the run shows as queued in the recent runs.
  const runNow = card(page, "Run a decision now");
  await expect(runNow.getByRole("button", { name: "Run now" })).toBeDisabled();
  const account = runNow.getByLabel("Account", { exact: true });
  await expect(account.locator("option")).not.toHaveCount(1);
  await account.selectOption({ index: 1 });
  await runNow.getByLabel("Trigger type").selectOption({ label: "Daily brief" });
  await runNow.getByRole("button", { name: "Run now" }).click();
  await expect(page.getByTestId("run-now-result")).toContainText("QUEUED");
  await expect(page.getByTestId("decision-run").first()).toContainText("Daily brief");
  await expect(page.getByTestId("decision-run").first()).toContainText("Queued");
  await page.mouse.move(0, 0);
  await shot(page, "decisions-admin");

  // The job queue shows the RUN_DECISION job, queued (SCHEDULER=off in e2e, so no worker takes it).
  await nav.getByRole("link", { name: "Job queue" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Job queue" })).toBeVisible();
  const job = page.getByTestId("job-row").filter({ hasText: "RUN_DECISION" }).first();
  await expect(job).toBeVisible();
  await expect(job).toContainText("Queued");
  await expect(job).toContainText("0/5");
  await expect(page.getByTestId("queue-count-QUEUED")).not.toContainText(/^\s*Queued\s*0\s*$/);
  await expect(page.getByTestId("updated-note")).toContainText(/Updated|Refreshing/);
  const jobName = (await job.getByRole("button", { name: /Show details of job/ }).getAttribute("aria-label")) ?? "";
  expect(jobName).toMatch(/^Show details of job \S+$/);
  // The demo's history ran through this same queue, so DONE has rows of its own — but not the
  // job just queued, and nothing that is not done.
  await page.getByLabel("Status", { exact: true }).selectOption("DONE");
  await expect(page.getByRole("button", { name: jobName, exact: true })).toHaveCount(0);
  await expect(page.getByTestId("job-row").first()).toContainText("Done");
  await expect(page.getByTestId("job-row").filter({ hasText: "Queued" })).toHaveCount(0);
  await page.getByLabel("Status", { exact: true }).selectOption("QUEUED");
  await expect(job).toBeVisible();
  await job.getByRole("button", { name: /Show details of job/ }).click();
  await expect(page.getByText('"runId"')).toBeVisible();
  await page.mouse.move(0, 0);
  await shot(page, "job-queue");
});

test("a seller gets the 403 page on both, and the API refuses them too", async ({ page }) => {
  await signIn(page, "seller@demo.test");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Decisions" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Job queue" })).toHaveCount(0);
  for (const path of ["/admin/decisions", "/admin/jobs"]) {
    const res = await page.goto(path);
    expect(res?.status()).toBe(403);
    await expect(page.getByRole("heading", { name: "You don't have access to this page" })).toBeVisible();
  }
  for (const proc of ["decisions.settings", "decisions.queueStats"]) {
    const res = await page.request.get(`/api/trpc/${proc}`);
    expect(res.status(), proc).toBe(403);
  }
});
