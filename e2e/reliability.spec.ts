import http from "node:http";
import type { AddressInfo } from "node:net";
import { type APIRequestContext, expect, test } from "@playwright/test";
import { createApiKey, shot, shotViewport, signIn, tickDecisions } from "./helpers";

/**
 * The reliability page end to end (SPEC §4.7): an approved CRM write goes to a webhook receiver
 * that is down, fails, and shows in "Failed executions"; the receiver comes back, the admin opens
 * the replay, sees which call repeats and under which idempotency key, gives a reason and replays —
 * the replay is queued, the queue runs it and the receiver gets the same key again; the row shows
 * it queued, then its result. Then the admin isolates the webhook connector and closes
 * it, each with a reason.
 */

test.describe.configure({ mode: "serial" });

let key = "";

async function api(request: APIRequestContext, method: "GET" | "POST" | "PUT", path: string, data?: unknown) {
  const res = await request.fetch(path, { method, headers: { authorization: `Bearer ${key}` }, data });
  expect(res.status(), `${method} ${path}: ${await res.text()}`).toBeLessThan(300);
  return res.json();
}

test("a failed execution is replayed from its preview, and a connector is isolated and closed", async ({ page, request }) => {
  test.setTimeout(180_000);
  let up = false;
  const keys: string[] = [];
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      keys.push(String(req.headers["idempotency-key"]));
      res.writeHead(up ? 200 : 503, { "content-type": "application/json" }).end(up ? '{"ok":true}' : '{"error":"down"}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  try {
    await signIn(page, "admin@demo.test");
    key = await createApiKey(page, "e2e reliability", ["ingest", "approve", "read", "admin"]);
    await api(request, "PUT", "/api/v1/connectors/webhook", {
      enabled: true,
      base_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/crm-middleware`,
      // the webhook's own SLO target: the card and the charts measure it against this, not the default
      slo: { p99_ms: 250, error_rate: 0.01, window_seconds: 600 },
      reason: "e2e reliability",
    });
    const accounts = (await api(request, "GET", "/api/v1/accounts?limit=200")) as { items: { id: string; name: string }[] };
    const acct = accounts.items.at(-2) as { id: string; name: string };
    const intent = (await api(request, "POST", "/api/v1/intents", {
      account_id: acct.id,
      action_type: "UPDATE_ACCOUNT_FIELDS",
      risk_level: "MEDIUM",
      confidence: 0.9,
      why: ["RENEWAL_WINDOW_ENTERED"],
      parameters: { fields: { renewal_risk: "high" } },
    })) as { action_intent_id: string; status: string };
    expect(intent.status).toBe("PENDING_APPROVAL");
    await api(request, "POST", `/api/v1/intents/${intent.action_intent_id}/approve`, { actor: "admin@demo.test" });
    await tickDecisions();
    await expect.poll(() => keys.length).toBe(1);
    const firstKey = keys[0] as string;

    await page.goto("/admin/reliability");
    await expect(page.getByTestId("connector-health-webhook")).toBeVisible();
    const table = page.getByTestId("failed-executions");
    const row = table.locator("tr").filter({ hasText: acct.name }).filter({ hasText: "UPDATE_ACCOUNT_FIELDS" }).first();
    await expect(row).toContainText("503");
    const card = page.getByTestId("connector-health-webhook");
    await expect(card).toContainText("target 250 ms");
    await expect(card).toContainText("target 1.0 %");
    await expect(card).toContainText("in the last 10 minutes");
    await expect(page.getByTestId("chart-p99")).toContainText("Targets:");
    await expect(page.getByTestId("chart-p99")).toContainText("Webhook: 250 ms");
    await expect(page.getByTestId("chart-errors")).toContainText("Webhook: 1 %");
    await shot(page, "reliability");

    // The receiver is back: replay, after reading what would repeat.
    up = true;
    await row.getByRole("button", { name: /^Replay/ }).click();
    const dialog = page.getByRole("dialog");
    const effects = dialog.getByTestId("replay-side-effects");
    await expect(effects).toContainText("Webhook");
    await expect(effects).toContainText("would repeat");
    await expect(effects).toContainText(firstKey);
    await shotViewport(page, "reliability-replay-preview");
    await dialog.getByLabel("Why replay it").fill("CRM middleware was down; it is back");
    await dialog.getByRole("button", { name: "Replay", exact: true }).click();
    // Queued, not run in the request: nothing has reached the receiver yet.
    await expect(page.getByTestId("replay-notice")).toContainText("queued");
    await expect(row).toContainText("replay queued");
    expect(keys).toEqual([firstKey]);
    await shot(page, "reliability-replay-queued");
    // The queue runs it (the scheduler is off here: one decisions tick), with the original key;
    // the list's own refetch shows the result — no reload.
    await tickDecisions();
    await expect.poll(() => keys.length).toBe(2);
    expect(keys).toEqual([firstKey, firstKey]);
    await expect(row).toContainText("replayed: succeeded", { timeout: 20_000 });

    // Isolate the webhook connector, then close it again.
    const health = page.getByTestId("connector-health-webhook");
    await health.getByRole("button", { name: "Isolate Webhook" }).click();
    await page.getByRole("dialog").getByLabel("Reason").fill("vendor incident");
    await page.getByRole("dialog").getByRole("button", { name: "Isolate", exact: true }).click();
    await expect(page.getByTestId("breaker-state-webhook")).toHaveText("Forced open");
    await expect(health).toContainText("vendor incident");
    await shot(page, "reliability-isolated");
    await health.getByRole("button", { name: "Close Webhook breaker" }).click();
    await page.getByRole("dialog").getByLabel("Reason").fill("vendor fixed it");
    await page.getByRole("dialog").getByRole("button", { name: "Close breaker", exact: true }).click();
    await expect(page.getByTestId("breaker-state-webhook")).toHaveText("Closed");
  } finally {
    await api(request, "PUT", "/api/v1/connectors/webhook", { enabled: false, slo: null, reason: "e2e done" });
    receiver.close();
  }
});
