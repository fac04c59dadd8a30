import http from "node:http";
import type { AddressInfo } from "node:net";
import AxeBuilder from "@axe-core/playwright";
import { type APIRequestContext, expect, test } from "@playwright/test";
import { card, createApiKey, shot, signIn, tickDecisions } from "./helpers";

/**
 * Approvals that behave (SPEC §4.6): an admin turns the approval webhook on, an intent that needs
 * approval sends a Slack-compatible message (to a real HTTP receiver here), and its approve link
 * works signed out — once.
 */

test.describe.configure({ mode: "serial" });

const BASE = `http://127.0.0.1:${process.env.E2E_PORT}`;
let key = "";

async function api(request: APIRequestContext, method: "GET" | "POST" | "PUT", path: string, data?: unknown) {
  const res = await request.fetch(path, { method, headers: { authorization: `Bearer ${key}` }, data });
  expect(res.status(), `${method} ${path}: ${await res.text()}`).toBeLessThan(300);
  return res.json();
}

test("an approval request goes to the webhook, and its link approves once while signed out", async ({ page, browser, request }) => {
  // A CLI tick (tsx start-up) runs inside this test.
  test.setTimeout(180_000);
  const received: { text: string; blocks: { type: string; elements?: { text: { text: string }; url: string }[] }[] }[] = [];
  const receiver = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => {
      raw += c;
    });
    req.on("end", () => {
      received.push(JSON.parse(raw));
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  try {
    await signIn(page, "admin@demo.test");
    key = await createApiKey(page, "e2e approvals", ["ingest", "read", "admin"]);
    await api(request, "PUT", "/api/v1/connectors/webhook", {
      enabled: true,
      base_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/slack`,
      reason: "e2e approval messages",
    });

    // The admin card: notify the webhook, keep the default TTL and fallback.
    await page.goto("/admin/autonomy");
    const settings = card(page, "Approvals");
    await expect(settings.getByLabel(/waits at most/)).toHaveValue("72");
    await settings.getByLabel(/Send each request to the webhook connector/).check();
    await settings.getByRole("button", { name: "Save approval settings" }).click();
    await expect(settings.getByRole("status")).toHaveText("Saved");
    await shot(page, "approval-settings");

    const accounts = (await api(request, "GET", "/api/v1/accounts?limit=200")) as { items: { id: string; name: string }[] };
    const acct = accounts.items.at(-1) as { id: string; name: string };
    const intent = (await api(request, "POST", "/api/v1/intents", {
      account_id: acct.id,
      action_type: "SEND_EMAIL",
      risk_level: "HIGH",
      confidence: 0.9,
      why: ["RENEWAL_WINDOW_ENTERED"],
      parameters: { to: "buyer@example.com", subject: "Renewal via link", body: "Hi" },
    })) as { action_intent_id: string; status: string };
    expect(intent.status).toBe("PENDING_APPROVAL");

    await tickDecisions();
    await expect.poll(() => received.length).toBeGreaterThan(0);
    const msg = received.at(-1);
    expect(msg?.text).toContain(acct.name);
    const buttons = msg?.blocks.find((b) => b.type === "actions")?.elements ?? [];
    expect(buttons.map((b) => b.text.text)).toEqual(["Approve", "Reject"]);
    const approveUrl = buttons[0]?.url as string;
    expect(approveUrl.startsWith(`${BASE}/approve/`)).toBe(true);

    // Signed out: a fresh context with no session cookie.
    const anonContext = await browser.newContext({ baseURL: BASE });
    const anon = await anonContext.newPage();
    await anon.goto(approveUrl);
    await expect(anon).toHaveURL(approveUrl);
    await expect(anon.getByRole("heading", { name: "Approval needed" })).toBeVisible();
    await expect(anon.getByText(acct.name)).toBeVisible();
    await expect(anon.getByText("Send email", { exact: true })).toBeVisible();
    await shot(anon, "approve-link");
    const { violations } = await new AxeBuilder({ page: anon }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
    expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`)).toEqual([]);
    await anon.getByRole("button", { name: "Approve" }).click();
    await expect(anon.getByRole("status")).toContainText("Approved");
    await shot(anon, "approve-link-done");
    // Once: the same link now says it no longer works.
    await anon.reload();
    await expect(anon.getByRole("heading", { name: "This link no longer works" })).toBeVisible();
    await expect(anon.getByText("This link has already been used")).toBeVisible();
    const res = await anon.request.post(approveUrl.replace("/approve/", "/api/v1/approvals/").split("?")[0] as string, {
      data: { decision: "approve" },
    });
    expect(res.status()).toBe(410);
    await anonContext.close();

    // The inbox: the remaining waiting items count down to their expiry.
    await page.goto("/inbox");
    await expect(page.getByTestId(`inbox-item-${intent.action_intent_id}`)).toHaveCount(0);
    await expect(page.getByTestId("inbox-expiry").first()).toContainText("Expires in");
    await shot(page, "inbox-approvals");
  } finally {
    // Leave the demo as the other specs expect it: no approval messages, webhook off.
    await api(request, "PUT", "/api/v1/approvals/settings", { notify_webhook: false });
    await api(request, "PUT", "/api/v1/connectors/webhook", { enabled: false, reason: "e2e done" });
    await new Promise((r) => receiver.close(r));
  }
});
