import { expect, test } from "@playwright/test";
import { card, createApiKey, shot, signIn } from "./helpers";

/**
 * The perception admin page against the real server: pulls requested over REST show up as
 * decisions, units by connector and throttles; the budget form saves and the next pull obeys.
 */
test("perception: pulls over REST appear as decisions, units and throttles; a lowered budget applies at once", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  const key = await createApiKey(page, "perception e2e", ["admin"]);
  const headers = { authorization: `Bearer ${key}` };
  const accounts = (await (await page.request.get("/api/v1/accounts?limit=5", { headers })).json()) as { items: { id: string }[] };
  const ids = accounts.items.map((a) => a.id);
  expect(ids.length).toBeGreaterThanOrEqual(3);
  const pull = async (account: string, depth: "SHALLOW" | "DEEP", id: string) =>
    (await (
      await page.request.post("/api/v1/perception/pulls", {
        headers,
        data: { account_id: account, connector: "demo", depth, pull_job_id: id },
      })
    ).json()) as { result: string; reason: string };
  expect(await pull(ids[0] as string, "DEEP", "e2e-1")).toMatchObject({ result: "RUN" });
  expect(await pull(ids[1] as string, "SHALLOW", "e2e-2")).toMatchObject({ result: "RUN" });
  expect(await pull(ids[1] as string, "SHALLOW", "e2e-2")).toMatchObject({ result: "SKIP", reason: "DUPLICATE_PULL_JOB_ID" });
  const crm = await page.request.post("/api/v1/perception/pulls", {
    headers,
    data: { account_id: ids[2], connector: "crm", depth: "DEEP", pull_job_id: "e2e-3" },
  });
  expect(((await crm.json()) as { result: string }).result).toBe("SKIP");

  await page.goto("/admin/perception");
  await expect(page.getByRole("heading", { level: 1, name: "Perception" })).toBeVisible();
  await expect(page.getByTestId("pull-units-chart")).toContainText("demo 4");
  await expect(page.getByTestId("pull-decisions")).toContainText("Duplicate pull-job id");

  // lower the budget to what is used: the next pull is deferred, and counted as a throttle
  const budget = card(page, "Daily pull budget");
  await budget.getByLabel("Units per day").fill("4");
  await budget.getByRole("button", { name: "Save budget" }).click();
  await expect(page.getByTestId("pull-budget-notice")).toContainText("Pull budget saved");
  expect(await pull(ids[2] as string, "SHALLOW", "e2e-4")).toMatchObject({ result: "DEFER", reason: "BUDGET_EXHAUSTED" });
  await page.reload();
  await expect(page.getByTestId("throttles-hit")).toContainText("1 throttle hit today");
  await expect(page.getByTestId("pull-decisions")).toContainText("Budget exhausted");
  await shot(page, "admin-perception");
});
