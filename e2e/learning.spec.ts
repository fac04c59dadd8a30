import { execFileSync } from "node:child_process";
import { type APIRequestContext, expect, test } from "@playwright/test";
import { card, createApiKey, shot, shotViewport, signIn, tickDecisions } from "./helpers";

/**
 * The learning admin page against the real server (issue 9 item 8). SCHEDULER=off in e2e, so a
 * calibration asked for on the page waits in the queue until this spec runs the calibrate job
 * itself (`cli tick calibrate`, what the scheduler would run) against the same database.
 */
function runJob(job: "calibrate" | "shadow") {
  execFileSync("./node_modules/.bin/tsx", ["scripts/cli.ts", "tick", job], {
    env: { ...process.env, DATABASE_URL: "file:./test-results/e2e.db" },
    stdio: "pipe",
    timeout: 120_000,
  });
}

/**
 * Human decisions over REST (an integration's reviewers): they take internal tasks and reject
 * review flags. Both wait for a person (risk HIGH).
 */
async function judgeOverRest(request: APIRequestContext, key: string, count: number) {
  const headers = { authorization: `Bearer ${key}` };
  const accounts = ((await (await request.get("/api/v1/accounts?limit=20", { headers })).json()) as { items: { id: string }[] }).items;
  expect(accounts.length).toBeGreaterThanOrEqual(2);
  for (let i = 0; i < count; i++) {
    const take = i % 2 === 0;
    const res = await request.post("/api/v1/intents", {
      headers,
      data: {
        account_id: accounts[i % accounts.length]?.id,
        action_type: take ? "CREATE_INTERNAL_TASK" : "FLAG_FOR_REVIEW",
        confidence: take ? 0.6 : 0.9,
        risk_level: "HIGH",
        why: ["RENEWAL_WINDOW_ENTERED"],
        parameters: { title: `learning e2e ${i}`, reason: `learning e2e ${i}` },
      },
    });
    expect(res.status(), await res.text()).toBeLessThan(300);
    const { action_intent_id: id, status } = (await res.json()) as { action_intent_id: string; status: string };
    expect(status).toBe("PENDING_APPROVAL");
    const decided = await request.post(`/api/v1/intents/${id}/${take ? "approve" : "reject"}`, {
      headers,
      data: take ? { actor: "e2e reviewer" } : { actor: "e2e reviewer", reason: "not useful" },
    });
    expect(decided.status(), await decided.text()).toBeLessThan(300);
  }
  // Approved intents run on the job queue; their outcomes (what the shadow gate counts) come when it drains.
  await tickDecisions();
}

test("learning: the seed's candidate is refused by the shadow gate; a calibration shows progress; live decisions pass the gate; promote and roll back", async ({
  page,
}) => {
  test.setTimeout(300_000);
  await signIn(page, "admin@demo.test");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Learning" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Learning" })).toBeVisible();
  await expect(page.getByTestId("ranking-now")).toContainText("Rules ranking");
  await expect(card(page, "Shadow metrics over time")).toBeVisible();
  await expect(page.getByTestId("normalization-gap")).toContainText("with no outcome after 24 h");
  await expect(card(page, "Learning settings").getByLabel("Calibration minimum rows")).toHaveValue("50");

  // The seed calibrated the simulated reviewer's history into v1 (a CANDIDATE, never promoted).
  const v1 = page.getByTestId("weights-row").filter({ hasText: "v1" });
  await expect(v1).toContainText("Candidate");
  await expect(page.getByTestId("provenance")).toContainText("Decisions counted");
  await expect(page.getByTestId("reliability-chart")).toContainText("holdout rows");

  // Nothing has been decided since it was made: the shadow gate refuses, with its numbers, in the dialog.
  await v1.getByRole("button", { name: "Promote…" }).click();
  const promote = page.getByRole("dialog", { name: /Promote v\d+\?/ });
  await promote.getByLabel(/Reason/).fill("try it on the feed");
  await promote.getByRole("button", { name: "Promote" }).click();
  await expect(promote.getByRole("alert")).toContainText(
    /Shadow gate not passed: only \d+ decided proposals in the last 7 days, 30 needed/,
  );
  await expect(promote.getByRole("button", { name: "Promote" })).toBeEnabled();
  await shotViewport(page, "learning-promote-refused");
  await promote.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByTestId("ranking-now")).toContainText("Rules ranking");

  // Reviewers keep deciding (over REST), then a calibration from the page: progress, then v2.
  const key = await createApiKey(page, "learning e2e", ["read", "ingest", "approve"]);
  await judgeOverRest(page.request, key, 40);
  await page.goto("/admin/learning"); // creating the key went to the API keys page
  const calibration = card(page, "Calibration");
  await calibration.getByRole("button", { name: "Calibrate now" }).click();
  await expect(page.getByTestId("calibration-progress")).toContainText("Waiting for a worker");
  await expect(calibration.getByRole("button", { name: "Calibrate now" })).toBeDisabled();
  runJob("calibrate");
  await expect(page.getByTestId("calibration-progress")).toContainText("Candidate registered");
  const v2 = page.getByTestId("weights-row").filter({ hasText: "v2" });
  await expect(v2).toContainText("Candidate");
  await expect(v2).toContainText("Not evaluated yet");

  // Live decisions after it was made, one shadow tick: the chart has its point, the gate passes.
  await judgeOverRest(page.request, key, 32);
  runJob("shadow");
  await page.reload();
  await expect(page.getByTestId("shadow-history-chart")).toContainText("v2 shadow latest");
  await expect(v2).toContainText("Passed");
  await v2.getByRole("button", { name: "Promote…" }).click();
  await promote.getByLabel(/Reason/).fill("passed the shadow gate on live decisions");
  await promote.getByRole("button", { name: "Promote" }).click();
  await expect(promote).toHaveCount(0);
  await expect(page.getByTestId("ranking-now")).toContainText("v2");
  await expect(page.getByTestId("guard-watch")).toContainText("Guard watching the promotion");
  await expect(v2).toContainText("Active");
  await page.mouse.move(0, 0);
  await shot(page, "learning-admin");

  // Roll back: one call, the rules rank again, and v2 stays listed as RETIRED.
  await v2.getByRole("button", { name: "Roll back…" }).click();
  const back = page.getByRole("dialog", { name: "Roll back v2?" });
  await back.getByLabel(/Reason/).fill("checking the rollback path");
  await back.getByRole("button", { name: "Roll back" }).click();
  await expect(back).toHaveCount(0);
  await expect(page.getByTestId("ranking-now")).toContainText("Rules ranking");
  await expect(v2).toContainText("Retired");
});

test("an auditor reads the page without its actions; a seller gets the 403 page", async ({ page }) => {
  await signIn(page, "auditor@demo.test");
  await page.goto("/admin/learning");
  await expect(page.getByText("Read-only: auditors see every number")).toBeVisible();
  await expect(page.getByRole("button", { name: "Calibrate now" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Save settings" })).toHaveCount(0);
  await expect(page.getByTestId("ranking-now")).toBeVisible();

  await page.context().clearCookies();
  await signIn(page, "seller@demo.test");
  const res = await page.goto("/admin/learning");
  expect(res?.status()).toBe(403);
  expect((await page.request.get("/api/trpc/learning.weights")).status()).toBe(403);
});
