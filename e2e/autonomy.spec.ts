import { type APIRequestContext, expect, type Page, test } from "@playwright/test";
import { createApiKey, shot, shotViewport, signIn, tickDecisions } from "./helpers";

/**
 * The human side of the autonomy gate, end to end: an admin configures autonomy (allowlist, mode,
 * budget — with a CONFLICT on a stale write), intents arrive over REST, the seller approves, edits
 * and rejects from the inbox, the timeline tells who acted, the explanation page answers "why",
 * and a TENANT kill switch raises the banner on every page.
 */
test.describe.configure({ mode: "serial" });

let key = "";
let acctA = { id: "", name: "" };
let acctB = { id: "", name: "" };
let budgetCap = 0;
const ids: Record<string, string> = {};

async function api(request: APIRequestContext, method: "GET" | "POST" | "PUT", path: string, data?: unknown) {
  const res = await request.fetch(path, { method, headers: { authorization: `Bearer ${key}` }, data });
  expect(res.status(), `${method} ${path}: ${await res.text()}`).toBeLessThan(300);
  return res.json();
}

async function propose(request: APIRequestContext, body: Record<string, unknown>) {
  const res = await api(request, "POST", "/api/v1/intents", { confidence: 0.9, why: ["RENEWAL_WINDOW_ENTERED"], ...body });
  return res as { action_intent_id: string; status: string; reason: string | null };
}

async function confirmInDialog(page: Page, reason: string, button: string | RegExp) {
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await dialog.getByRole("textbox").first().fill(reason);
  await dialog.getByRole("button", { name: button }).click();
  await expect(dialog).toBeHidden();
}

test("admin configures autonomy: allowlist, mode (with confirm), budget, and a stale write is a conflict", async ({ page, request }) => {
  await signIn(page, "admin@demo.test");
  key = await createApiKey(page, "e2e autonomy", ["ingest", "approve", "read", "admin"]);

  const accounts = (await api(request, "GET", "/api/v1/accounts?limit=200")) as {
    items: { id: string; name: string; owner: { email: string } | null }[];
  };
  const mine = accounts.items.filter((a) => a.owner?.email === "seller@demo.test");
  expect(mine.length).toBeGreaterThanOrEqual(2);
  // The last two, so other specs that open the first account in the list see it unchanged.
  const [a, b] = mine.slice(-2);
  acctA = { id: a?.id ?? "", name: a?.name ?? "" };
  acctB = { id: b?.id ?? "", name: b?.name ?? "" };

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Autonomy" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Autonomy" })).toBeVisible();
  await expect(page.getByTestId("mode-matrix")).toBeVisible();
  const notice = page.getByTestId("mode-notice");

  // Never-autonomous types cannot be allowlisted, and say why. (The demo seed may already
  // allowlist internal types, so only OPEN_APPROVAL_REQUEST is sure to be a new addition.)
  await expect(page.getByRole("checkbox", { name: /Send email/ })).toBeDisabled();
  await expect(page.getByText("Contacts customers — a person always approves").first()).toBeVisible();
  await page.getByRole("checkbox", { name: /Create internal note/ }).check();
  await page.getByRole("checkbox", { name: /Open approval request/ }).check();
  await page.getByRole("button", { name: "Save allowlist" }).click();
  await confirmInDialog(page, "notes have been accurate", "Save allowlist");
  await expect(page.getByText("Saved", { exact: true })).toBeVisible();

  // Widening to AUTO_EXECUTE confirms with a reason; cancelling leaves the setting alone.
  const approvalMode = page.getByLabel("Mode: Open approval request (workspace)");
  await approvalMode.selectOption("AUTO_EXECUTE");
  await expect(page.getByRole("dialog")).toBeVisible();
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
  await expect(approvalMode).toHaveValue("");
  await approvalMode.selectOption("AUTO_EXECUTE");
  await expect(page.getByRole("dialog").getByRole("button", { name: "Allow auto-execute" })).toBeDisabled();
  await confirmInDialog(page, "approval requests are harmless", "Allow auto-execute");
  await expect(notice).toContainText("Saved");
  await expect(approvalMode).toHaveValue("AUTO_EXECUTE");
  // Never-autonomous types cannot be set to AUTO_EXECUTE at all.
  await expect(page.getByLabel("Mode: Send email (workspace)").locator('option[value="AUTO_EXECUTE"]')).toBeDisabled();

  const noteMode = page.getByLabel("Mode: Create internal note (workspace)");
  if ((await noteMode.inputValue()) !== "AUTO_EXECUTE") {
    await noteMode.selectOption("AUTO_EXECUTE");
    await confirmInDialog(page, "internal notes are safe", "Allow auto-execute");
    await expect(noteMode).toHaveValue("AUTO_EXECUTE");
  }

  // A stale write: the page still holds the old updatedAt when the REST API changes the row.
  const fields = page.getByLabel("Mode: Update account fields (workspace)");
  // The save's own refetch must land before the REST write: until it does the page holds no row
  // for this type, so its next save carries no ifMatch and (rightly) is not stale. (A
  // waitForLoadState("networkidle") does not wait for this: that state was reached at page load.)
  const refetched = page.waitForResponse((r) => r.url().includes("autonomy.modes") && r.request().method() === "GET");
  await fields.selectOption("PROPOSE_ONLY");
  await expect(notice).toContainText("Saved: Update account fields (workspace) → Propose only");
  await refetched;
  await expect(fields).toHaveValue("PROPOSE_ONLY");
  await api(request, "PUT", "/api/v1/autonomy/config", { action_type: "UPDATE_ACCOUNT_FIELDS", mode: "DISABLED" });
  await fields.selectOption("APPROVAL_REQUIRED");
  await expect(notice).toContainText("Someone changed this; reloaded");
  await expect(fields).toHaveValue("DISABLED");
  await fields.selectOption("");
  await expect(notice).toContainText("Saved: Update account fields (workspace) → inherit");

  // Budget: an override for account A with room for exactly one more autonomous action today.
  const before = (await api(request, "GET", `/api/v1/autonomy/budget?account_id=${acctA.id}`)) as {
    consumed_today: number;
    max_autonomous_per_day: number;
  };
  budgetCap = before.consumed_today + 1;
  await page.getByLabel("Find an account").fill(acctA.name);
  await page.getByLabel("Scope").selectOption({ label: acctA.name });
  await expect(page.getByRole("heading", { name: `Budget — ${acctA.name}` })).toBeVisible();
  await page.getByLabel("Max autonomous actions per day").fill(String(budgetCap));
  await page.getByRole("button", { name: "Save budget" }).click();
  if (budgetCap > before.max_autonomous_per_day) await confirmInDialog(page, "room for one more", "Save budget");
  await expect(page.getByText("Budget saved.")).toBeVisible();
  await expect(page.getByRole("meter", { name: "Autopilot budget used today" })).toHaveAttribute(
    "aria-valuetext",
    `${budgetCap - 1} of ${budgetCap} used today · 1 left`,
  );
});

test("intents arrive over REST and the gate sorts them", async ({ request }) => {
  const email = { to: "buyer@example.com", subject: "Renewal next month", body: "Hi — shall we set up a call about your renewal?" };
  const draft = await propose(request, {
    account_id: acctA.id,
    action_type: "DRAFT_EMAIL",
    risk_level: "LOW",
    parameters: { ...email, subject: "Draft: renewal" },
  });
  const send = await propose(request, { account_id: acctA.id, action_type: "SEND_EMAIL", risk_level: "HIGH", parameters: email });
  const rej = await propose(request, {
    account_id: acctB.id,
    action_type: "SEND_EMAIL",
    risk_level: "HIGH",
    parameters: { ...email, subject: "Quick check-in" },
  });
  const auto = await propose(request, {
    account_id: acctA.id,
    action_type: "CREATE_INTERNAL_NOTE",
    risk_level: "LOW",
    parameters: { title: "Renewal prep", body: "Usage up 20% QoQ." },
  });
  const over = await propose(request, {
    account_id: acctA.id,
    action_type: "CREATE_INTERNAL_NOTE",
    risk_level: "LOW",
    parameters: { title: "Second note", body: "Over budget." },
  });
  const blocked = await propose(request, { account_id: acctB.id, action_type: "LAUNCH_ROCKET", risk_level: "LOW", parameters: {} });
  // Drafts wait for a person whether or not the demo seed allowlisted them (mode approval-required).
  const t1 = await propose(request, {
    account_id: acctB.id,
    action_type: "DRAFT_EMAIL",
    risk_level: "LOW",
    parameters: { to: "champion@example.com", subject: "Draft: intro", body: "Draft for the champion." },
  });
  const t2 = await propose(request, {
    account_id: acctB.id,
    action_type: "DRAFT_EMAIL",
    risk_level: "LOW",
    parameters: { to: "cfo@example.com", subject: "Draft: pricing", body: "Draft for the CFO." },
  });

  expect(draft.status).toBe("PENDING_APPROVAL");
  expect(t1.status).toBe("PENDING_APPROVAL");
  // The allowlist is checked before anything else, so it is what the seller is told first.
  expect(send.status).toBe("PENDING_APPROVAL");
  expect(send.reason).toBe("ACTION_TYPE_NOT_ALLOWLISTED");
  expect(auto.status).toBe("SUCCEEDED");
  expect(over.reason).toBe("BUDGET_EXHAUSTED");
  expect(blocked.status).toBe("BLOCKED");
  Object.assign(ids, {
    draft: draft.action_intent_id,
    send: send.action_intent_id,
    rej: rej.action_intent_id,
    auto: auto.action_intent_id,
    over: over.action_intent_id,
    blocked: blocked.action_intent_id,
    t1: t1.action_intent_id,
    t2: t2.action_intent_id,
  });
});

test("the seller approves, edits then approves, rejects and batch-approves from the inbox", async ({ page }) => {
  // A CLI tick (tsx start-up) runs at the end.
  test.setTimeout(120_000);
  await signIn(page, "seller@demo.test");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByTestId("inbox-count")).toBeVisible();
  await nav.getByRole("link", { name: /Inbox/ }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Inbox" })).toBeVisible();
  const item = (id: string | undefined) => page.getByTestId(`inbox-item-${id}`);
  await expect(item(ids.send)).toContainText("Not on the autopilot allowlist");
  await expect(item(ids.over)).toContainText("Today's autopilot budget is used up");
  await expect(item(ids.draft)).toContainText("Needs your input");
  await expect(item(ids.send)).toContainText("Renewal window entered");
  await shot(page, "inbox");

  // Approve.
  await item(ids.draft)
    .getByRole("button", { name: /^Approve/ })
    .click();
  await expect(page.getByTestId("inbox-notice")).toContainText("Approved “Draft email");
  await expect(item(ids.draft)).toHaveCount(0);

  // Edit & approve: only the changed key goes out, and the diff is shown first.
  await item(ids.send)
    .getByRole("button", { name: /^Edit & approve/ })
    .click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading", { name: /Edit & approve: Send email/ })).toBeVisible();
  await expect(dialog.getByRole("button", { name: /Review changes/ })).toBeDisabled();
  await dialog.getByLabel("subject").fill("Renewal next month — 15 minutes?");
  await shotViewport(page, "inbox-edit-dialog");
  await dialog.getByRole("button", { name: /Review changes/ }).click();
  const diff = dialog.getByTestId("edit-diff");
  await expect(diff).toContainText("Renewal next month");
  await expect(diff).toContainText("Renewal next month — 15 minutes?");
  await expect(diff.locator("tbody tr")).toHaveCount(1);
  await shotViewport(page, "inbox-edit-diff");
  await dialog.getByRole("button", { name: /Confirm & approve/ }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("inbox-notice")).toContainText("Edited and approved");
  await expect(page.getByTestId("inbox-notice")).toContainText("subject changed");

  // Reject needs a reason.
  await item(ids.rej)
    .getByRole("button", { name: /^Reject/ })
    .click();
  await expect(dialog.getByRole("button", { name: "Reject", exact: true })).toBeDisabled();
  await confirmInDialog(page, "Customer asked for no outreach this quarter", /^Reject$/);
  await expect(page.getByTestId("inbox-notice")).toContainText("Rejected");
  await expect(item(ids.rej)).toHaveCount(0);

  // Batch: two tasks at once, with a result per item.
  await item(ids.t1).getByRole("checkbox").check();
  await item(ids.t2).getByRole("checkbox").check();
  await page.getByRole("button", { name: "Approve selected" }).click();
  await expect(page.getByTestId("batch-results")).toContainText("Approved 2 of 2");
  await expect(item(ids.t1)).toHaveCount(0);
  // Approved work runs on the job queue: the scheduler's tick carries it out.
  await tickDecisions();
});

test("the timeline says who acted, and the explanation answers why", async ({ page }) => {
  await signIn(page, "seller@demo.test");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Timeline" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Timeline" })).toBeVisible();
  const row = (id: string | undefined) => page.getByTestId(`timeline-item-${id}`);
  await expect(row(ids.auto)).toHaveAttribute("data-kind", "autopilot");
  await expect(row(ids.auto)).toContainText("Autopilot");
  await expect(row(ids.draft)).toHaveAttribute("data-kind", "person");
  await expect(row(ids.draft)).toContainText("Approved by a person");
  await expect(row(ids.rej)).toHaveAttribute("data-kind", "rejected");
  await expect(row(ids.rej)).toContainText("Rejected by Sam Seller: “Customer asked for no outreach this quarter”");
  await expect(row(ids.draft)).toContainText("by Sam Seller");
  await expect(row(ids.blocked)).toHaveAttribute("data-kind", "blocked");
  await expect(row(ids.blocked)).toContainText("Blocked");
  await expect(row(ids.send)).toHaveAttribute("data-kind", "superseded");
  // The edited version ran as SEND_EMAIL; with no SMTP configured it fails, and says so.
  const edited = page
    .locator('[data-testid^="timeline-item-"]', { hasText: "v2, edited" })
    .filter({ hasText: acctA.name })
    .filter({ hasText: "Send email" });
  await expect(edited).toHaveCount(1);
  await expect(edited).toHaveAttribute("data-kind", /failed|edited/);
  await shot(page, "timeline");

  await edited.getByRole("link", { name: /Why\?/ }).click();
  await expect(page).toHaveURL(/\/explain\//);
  await expect(page.getByRole("heading", { name: "Why", exact: true })).toBeVisible();
  await expect(page.getByRole("heading", { name: "What it knew" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Which policy" })).toBeVisible();
  await expect(page.getByTestId("explanation-sentence")).not.toHaveText("—");
  await expect(page.getByText("Edited & approved")).toBeVisible();
  await expect(page.getByText("+ Renewal next month — 15 minutes?")).toBeVisible();
  await expect(page.getByText("ACTION_TYPE_NOT_ALLOWLISTED").first()).toBeVisible();
  await shot(page, "explanation");

  // What autopilot did on its own says so; what waits for a person says that.
  await page.goto(`/explain/${ids.auto}`);
  await expect(page.getByText("Yes, by autopilot")).toBeVisible();
  await expect(page.getByText("Policy (POLICY)")).toBeVisible();
  await shot(page, "explanation-autopilot");
  await page.goto(`/explain/${ids.over}`);
  await expect(page.getByText("Waiting for a person")).toBeVisible();
  await expect(page.getByText("Nobody yet — it is waiting in the inbox.")).toBeVisible();

  // An unknown id is the standard not-found page.
  const res = await page.goto("/explain/does-not-exist");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();

  // The account page lists what autopilot produced.
  await page.goto(`/accounts/${acctA.id}`);
  const artifacts = page.getByTestId("artifacts");
  await expect(artifacts).toContainText("Email draft");
  await expect(artifacts).toContainText("Renewal prep");
  await shot(page, "account-artifacts");
});

test("an auditor sees the inbox read-only and cannot open admin autonomy pages", async ({ page }) => {
  await signIn(page, "auditor@demo.test");
  await page.goto("/inbox");
  await expect(page.getByText("Read-only: auditors")).toBeVisible();
  await expect(page.getByTestId(`inbox-item-${ids.over}`)).toBeVisible();
  await expect(page.getByRole("button", { name: /^Approve/ })).toHaveCount(0);
  for (const path of ["/admin/autonomy", "/admin/kill-switches"]) {
    const res = await page.goto(path);
    expect(res?.status()).toBe(403);
  }
});

test("admin sees today's budget use for an account as a meter", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/admin/autonomy");
  await page.getByLabel("Find an account").fill(acctA.name);
  await page.getByLabel("Scope").selectOption({ label: acctA.name });
  await expect(page.getByRole("heading", { name: `Budget — ${acctA.name}` })).toBeVisible();
  await expect(page.getByRole("meter", { name: "Autopilot budget used today" })).toHaveAttribute(
    "aria-valuetext",
    `${budgetCap} of ${budgetCap} used today · 0 left`,
  );
  await expect(page.getByLabel(`Mode: Create internal note (${acctA.name})`)).toHaveValue("");
  await expect(page.getByRole("checkbox", { name: /Create internal note/ })).toBeDisabled();
  await shot(page, "autonomy-admin");
});

test("admin pulls the TENANT kill switch: the banner shows everywhere until it is turned off", async ({ page }) => {
  await signIn(page, "admin@demo.test");
  await expect(page.getByTestId("kill-switch-banner")).toHaveCount(0);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Kill switches" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Kill switches" })).toBeVisible();
  await expect(page.getByTestId("switch-GLOBAL-")).toContainText("Operator-only");
  await shot(page, "kill-switches");

  const tenant = page.getByTestId("switch-TENANT-");
  await tenant.getByRole("button", { name: /Turn on/ }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("textbox").fill("ab");
  await expect(dialog.getByRole("button", { name: "Turn on kill switch" })).toBeDisabled();
  await shotViewport(page, "kill-switch-confirm");
  await confirmInDialog(page, "e2e drill: duplicate emails", "Turn on kill switch");

  const banner = page.getByTestId("kill-switch-banner");
  await expect(banner).toContainText("Autopilot paused: TENANT kill switch on — e2e drill: duplicate emails");
  await expect(tenant).toContainText("On — paused");
  await shot(page, "banner");

  // Every signed-in page, every role.
  await page.goto("/accounts");
  await expect(banner).toBeVisible();
  const seller = await page.context().browser()?.newPage();
  if (seller) {
    await signIn(seller, "seller@demo.test");
    await expect(seller.getByTestId("kill-switch-banner")).toContainText("TENANT kill switch on");
    await expect(seller.getByTestId("kill-switch-banner").getByRole("link")).toHaveCount(0);
    await seller.close();
  }

  await banner.getByRole("link", { name: "Manage kill switches" }).click();
  await tenant.getByRole("button", { name: /Turn off/ }).click();
  await confirmInDialog(page, "drill over", "Turn off kill switch");
  await expect(tenant).toContainText("Off — running");
  await expect(banner).toHaveCount(0);
});
