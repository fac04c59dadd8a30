import { type APIRequestContext, expect, test } from "@playwright/test";
import { createApiKey, shot, signIn } from "./helpers";

/**
 * "What should I do next" end to end: proposals arrive over REST for the demo seller's accounts,
 * the seller opens Next actions from the nav and sees them ranked, with the ranking's source;
 * "Decide in inbox" lands on the card in the inbox's suggested order. The admin filters by owner.
 */
test.describe.configure({ mode: "serial" });

const ids: string[] = [];

async function propose(request: APIRequestContext, key: string, body: Record<string, unknown>) {
  const res = await request.post("/api/v1/intents", {
    headers: { authorization: `Bearer ${key}` },
    data: { confidence: 0.8, risk_level: "HIGH", why: ["RENEWAL_WINDOW_ENTERED", "CHAMPION_CHANGED"], ...body },
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  const out = (await res.json()) as { action_intent_id: string; status: string };
  // Outreach always waits for a person: these are open proposals.
  expect(out.status).toBe("PENDING_APPROVAL");
  return out.action_intent_id;
}

test("proposals for the seller's accounts arrive over REST", async ({ page, request }) => {
  await signIn(page, "admin@demo.test");
  const key = await createApiKey(page, "e2e next actions", ["ingest", "read"]);
  const res = await request.get("/api/v1/accounts?limit=200", { headers: { authorization: `Bearer ${key}` } });
  const accounts = ((await res.json()) as { items: { id: string; owner: { email: string } | null }[] }).items;
  const mine = accounts.filter((a) => a.owner?.email === "seller@demo.test");
  expect(mine.length).toBeGreaterThanOrEqual(1);
  const email = { to: "buyer@example.com", subject: "Renewal next month", body: "Hi — shall we set up a call about your renewal?" };
  ids.push(await propose(request, key, { account_id: mine[0]?.id, action_type: "SEND_EMAIL", rank_score: 0.95, parameters: email }));
  ids.push(
    await propose(request, key, {
      account_id: mine[0]?.id,
      action_type: "SEND_EMAIL",
      rank_score: 0.15,
      parameters: { ...email, subject: "Checking in" },
    }),
  );
  // The REST feed carries the SPEC's four fields for each.
  const feed = await request.get("/api/v1/next-actions?limit=200", { headers: { authorization: `Bearer ${key}` } });
  expect(feed.status()).toBe(200);
  const items = ((await feed.json()) as { items: Record<string, unknown>[] }).items;
  for (const id of ids) {
    expect(items.find((i) => i.action_intent_id === id)).toEqual(
      expect.objectContaining({ rank_score: expect.any(Number), display_confidence: expect.any(Number), weights_version: null }),
    );
  }
});

test("the seller sees them ranked on Next actions, and goes to the inbox to decide", async ({ page }) => {
  await signIn(page, "seller@demo.test");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Next actions" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Next actions" })).toBeVisible();
  await expect(page.getByTestId("ranked-by")).toContainText(/Ranked by weights v\d+|Rules ranking \(no learned weights active\)/);
  const high = page.getByTestId(`next-action-${ids[0]}`);
  await expect(high).toBeVisible();
  await expect(high).toContainText("Send email");
  await expect(high).toContainText("Renewal window entered");
  await expect(high).toContainText("80%");
  // Ranked: the rank score column never rises down the page.
  const scores = (await page.locator("tbody tr td:nth-child(5)").allTextContents()).map(Number);
  expect(scores.length).toBeGreaterThanOrEqual(1);
  expect(scores).toEqual([...scores].sort((x, y) => y - x));
  await page.waitForLoadState("networkidle");
  await shot(page, "next-actions");

  await high.getByRole("link", { name: "Decide in inbox" }).click();
  await expect(page).toHaveURL(new RegExp(`/inbox\\?sort=suggested#intent-${ids[0]}$`));
  await expect(page.getByLabel("Order")).toHaveValue("suggested");
  await expect(page.getByTestId(`inbox-item-${ids[0]}`)).toBeInViewport();
});

test("the admin sees every owner's, and filters by owner", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/next");
  await expect(page.getByTestId(`next-action-${ids[0]}`)).toBeVisible();
  const filtered = page.waitForResponse((r) => r.url().includes("nextActions.feed") && r.url().includes("ownerId"));
  await page.getByLabel("Owner").selectOption({ label: "Sam Seller (seller)" });
  await filtered;
  await expect(page.getByTestId(`next-action-${ids[0]}`)).toBeVisible();
  // Every row left is the seller's: the Owner column says so.
  const others = page.locator("tbody tr").filter({ hasNot: page.getByRole("cell", { name: "Sam Seller", exact: true }) });
  await expect(others).toHaveCount(0);
});
