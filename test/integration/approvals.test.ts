import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as linkPost } from "@/app/api/v1/approvals/[token]/route";
import { GET as settingsGet, PUT as settingsPut } from "@/app/api/v1/approvals/settings/route";
import { createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from "@/server/connectors/webhook";
import { connectorDepsFromEnv } from "@/server/http/deps";
import { queueHandlers } from "@/server/jobs/registry";
import { createApiKey } from "@/server/services/apiKeys";
import { decideByLink, inspectLink } from "@/server/services/approvals/decide";
import { runApprovalsExpiryTick } from "@/server/services/approvals/expiry";
import { mintApprovalLink } from "@/server/services/approvals/links";
import { saveApprovalSettings } from "@/server/services/approvals/settings";
import { APPROVAL_WEBHOOK } from "@/server/services/approvals/webhook";
import { setWebhook } from "@/server/services/connectors";
import { submitIntent } from "@/server/services/gate";
import { listInbox } from "@/server/services/inbox";
import { runWorkerTick } from "@/server/services/jobQueue";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { runNormalizeTick } from "@/server/services/normalize";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { approveAndRun, intent } from "../helpers/gate";

/**
 * Approvals that behave (SPEC §4.6): settings, expiry with its fallback (injected clock), signed
 * one-time links through the real route handler, and the approval webhook message to a real
 * node:http receiver that then approves through the link it was sent.
 */

// The route builds its deps from the environment (read lazily by env()), as in production.
process.env.CONNECTOR_SECRET_KEY ??= "approvals-test-connector-key";
process.env.APP_URL = "http://approvals.test";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const HOUR = 3_600_000;

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

const connectors = () => connectorDepsFromEnv();
const gate = (clock = systemClock) => ({ db: t.db, clock, connectors: connectors() });
/** A fresh tenant with no autonomy configured: every intent waits for approval. */
async function waiting(tenant: TestTenant, clock = systemClock, i = 0) {
  const r = await submitIntent(
    gate(clock),
    tenant.admin.viewer,
    intent(tenant.accounts.seller[i % 3] as string, { parameters: { title: `w ${Math.random()}` } }),
  );
  expect(r.status).toBe("PENDING_APPROVAL");
  return r.actionIntentId;
}
const ledger = (tenantId: string, type: string) => t.db.ledgerEntry.findMany({ where: { tenantId, type }, orderBy: { seq: "asc" } });
const status = async (id: string) => (await t.db.actionIntent.findUniqueOrThrow({ where: { id } })).status;
const post = (token: string, body: unknown) =>
  linkPost(new Request(`http://approvals.test/api/v1/approvals/${token}`, { method: "POST", body: JSON.stringify(body) }), {
    params: Promise.resolve({ token }),
  });
const mint = async (
  tenantId: string,
  intentId: string,
  purpose: "DIGEST" | "WEBHOOK" = "WEBHOOK",
  recipientUserId: string | null = null,
) => {
  const link = await mintApprovalLink(t.db, connectors(), { tenantId, intentId, purpose, recipientUserId }, new Date());
  if (!link) throw new Error("no signing key");
  return link;
};

describe(`approval settings (${TEST_PROVIDER})`, () => {
  it("an admin changes them (ledgered before/after); a seller cannot; another tenant's stay as they were", async () => {
    const admin = createCaller({ db: t.db, clock: systemClock, session: a.admin.session });
    const seller = createCaller({ db: t.db, clock: systemClock, session: a.seller.session });
    expect(await seller.approvals.settings()).toMatchObject({ ttlHours: 72, fallback: "REJECT", notifyWebhook: false });
    await expect(seller.approvals.saveSettings({ ttlHours: 1 })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(admin.approvals.saveSettings({ ttlHours: 0 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await admin.approvals.saveSettings({ ttlHours: 24, fallback: "ESCALATE" })).toMatchObject({
      ttlHours: 24,
      fallback: "ESCALATE",
    });
    const [entry] = (await ledger(a.id, "CONFIG_CHANGED")).filter((e) => e.payload.includes("approval_settings"));
    expect(JSON.parse(entry?.payload ?? "{}")).toMatchObject({
      change: "approval_settings",
      before: { ttl_hours: 72, fallback: "REJECT", notify_webhook: false },
      after: { ttl_hours: 24, fallback: "ESCALATE", notify_webhook: false },
    });
    expect(await createCaller({ db: t.db, clock: systemClock, session: b.admin.session }).approvals.settings()).toMatchObject({
      ttlHours: 72,
    });
    // back to the defaults for the rest of this file
    await admin.approvals.saveSettings({ ttlHours: 72, fallback: "REJECT" });
  });

  it("REST: read with a read key, write with an admin key only, tenant from the key", async () => {
    const key = async (tenant: TestTenant, scopes: ("admin" | "read")[]) =>
      (await createApiKey(t.db, { tenantId: tenant.id, name: scopes.join(), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock))
        .key;
    const req = (k: string, method: string, body?: unknown) =>
      new Request("http://x/api/v1/approvals/settings", {
        method,
        headers: { authorization: `Bearer ${k}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const read = await key(b, ["read"]);
    expect(await (await settingsGet(req(read, "GET"))).json()).toMatchObject({ ttl_hours: 72, fallback: "REJECT", notify_webhook: false });
    expect((await settingsPut(req(read, "PUT", { ttl_hours: 5 }))).status).toBe(403);
    const bad = await settingsPut(req(await key(b, ["admin"]), "PUT", { ttl_hours: 100_000 }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe("ttl_hours");
    const ok = await settingsPut(req(await key(b, ["admin"]), "PUT", { ttl_hours: 5 }));
    expect(await ok.json()).toMatchObject({ ttl_hours: 5, fallback: "REJECT" });
    expect(await createCaller({ db: t.db, clock: systemClock, session: a.admin.session }).approvals.settings()).toMatchObject({
      ttlHours: 72,
    });
    await saveApprovalSettings(t.db, b.admin.viewer, { ttlHours: 72 }, systemClock);
  });
});

describe(`An expired approval follows its fallback (tested with an injected clock, ${TEST_PROVIDER})`, () => {
  it("REJECT: not a millisecond early; then EXPIRED, IDEA_EXPIRED and INTENT_EXPIRED once, under 5 concurrent ticks; normalize adds nothing", async () => {
    const tenant = await makeTenant(t.db);
    const clock = fixedClock("2026-04-01T08:00:00Z");
    await saveApprovalSettings(t.db, tenant.admin.viewer, { ttlHours: 2, fallback: "REJECT" }, clock);
    const ids = [await waiting(tenant, clock, 0), await waiting(tenant, clock, 1)];
    const decided = await waiting(tenant, clock, 2);
    await approveAndRun(gate(clock), tenant.admin.viewer, decided, {});

    // The inbox counts down from the TTL in force now.
    const inbox = await listInbox(t.db, tenant.seller.viewer, { limit: 10 });
    expect(inbox.items.find((i) => i.id === ids[0])).toMatchObject({
      expiresAt: new Date(Date.parse("2026-04-01T10:00:00Z")),
      escalatedAt: null,
      escalatedToViewer: false,
    });
    clock.advance(2 * HOUR - 1);
    expect(await runApprovalsExpiryTick(t.db, clock)).toMatchObject({ ok: true, expired: 0 });
    expect(await status(ids[0] as string)).toBe("PENDING_APPROVAL");

    clock.advance(1);
    const ticks = await Promise.all(Array.from({ length: 5 }, () => runApprovalsExpiryTick(t.db, clock)));
    expect(ticks.reduce((n, r) => n + r.expired, 0)).toBe(2);
    for (const id of ids) expect(await status(id)).toBe("EXPIRED");
    expect(await status(decided)).toBe("SUCCEEDED"); // a human decision before expiry stands (approved, then run)
    const expired = await ledger(tenant.id, "INTENT_EXPIRED");
    expect(expired.map((e) => JSON.parse(e.payload).action_intent_id).sort()).toEqual([...ids].sort());
    expect(JSON.parse(expired[0]?.payload ?? "{}")).toMatchObject({ fallback: "REJECT", ttl_hours: 2, escalated_to: null });
    expect(expired[0]?.actorId).toBe("approvals-expiry");

    await runNormalizeTick(t.db, clock);
    const outcomes = await t.db.outcome.findMany({ where: { tenantId: tenant.id, intentId: { in: ids } } });
    expect(outcomes.map((o) => o.label)).toEqual(["IDEA_EXPIRED", "IDEA_EXPIRED"]);
    const recorded = (await ledger(tenant.id, "OUTCOME_RECORDED")).filter((e) => ids.includes(JSON.parse(e.payload).action_intent_id));
    expect(recorded).toHaveLength(2);
  });

  it("ESCALATE: stays waiting, handed to the earliest admin, ledgered once under 5 concurrent ticks, never expires again", async () => {
    const tenant = await makeTenant(t.db);
    const clock = fixedClock("2026-04-01T08:00:00Z");
    await saveApprovalSettings(t.db, tenant.admin.viewer, { ttlHours: 1, fallback: "ESCALATE" }, clock);
    const id = await waiting(tenant, clock);
    clock.advance(HOUR);
    const ticks = await Promise.all(Array.from({ length: 5 }, () => runApprovalsExpiryTick(t.db, clock)));
    expect(ticks.reduce((n, r) => n + r.escalated, 0)).toBe(1);
    const row = await t.db.actionIntent.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: "PENDING_APPROVAL", escalatedTo: tenant.admin.id, escalatedAt: clock.now() });
    // In the inbox: escalated to this admin, no countdown (it does not expire again).
    const item = (await listInbox(t.db, tenant.admin.viewer, { limit: 10 })).items.find((i) => i.id === id);
    expect(item).toMatchObject({ escalatedAt: clock.now(), escalatedToViewer: true, expiresAt: null });
    expect((await listInbox(t.db, tenant.seller.viewer, { limit: 10 })).items.find((i) => i.id === id)).toMatchObject({
      escalatedToViewer: false,
    });
    clock.advance(100 * HOUR);
    expect(await runApprovalsExpiryTick(t.db, clock)).toMatchObject({ expired: 0, escalated: 0 });
    const entries = await ledger(tenant.id, "INTENT_EXPIRED");
    expect(entries).toHaveLength(1);
    expect(JSON.parse(entries[0]?.payload ?? "{}")).toMatchObject({
      action_intent_id: id,
      fallback: "ESCALATE",
      escalated_to: tenant.admin.id,
    });
    expect(await status(id)).toBe("PENDING_APPROVAL");
  });
});

describe(`signed one-time links (${TEST_PROVIDER})`, () => {
  it("approves once as the link (SYSTEM approval-link:<id>, via LINK); reuse → 410; altered token → 404", async () => {
    const id = await waiting(a);
    const link = await mint(a.id, id);
    const res = await post(link.token, { decision: "approve" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ decision: "approve", action_intent_id: id });
    expect(["APPROVED", "SUCCEEDED", "EXECUTING", "FAILED"]).toContain(await status(id));
    const approved = (await ledger(a.id, "INTENT_APPROVED")).filter((e) => JSON.parse(e.payload).action_intent_id === id);
    expect(approved).toHaveLength(1);
    const linkId = link.token.split(".")[0];
    expect(approved[0]).toMatchObject({ actorType: "SYSTEM", actorId: `approval-link:${linkId}` });
    expect(JSON.parse(approved[0]?.payload ?? "{}")).toMatchObject({ via: "LINK", link_id: linkId });

    const again = await post(link.token, { decision: "reject" });
    expect(again.status).toBe(410);
    expect(await again.json()).toMatchObject({ error: { code: "LINK_USED" } });

    const last = link.token.at(-1) === "A" ? "B" : "A";
    const altered = await post(`${link.token.slice(0, -1)}${last}`, { decision: "approve" });
    expect(altered.status).toBe(404);
    expect((await post("not-a-token", { decision: "approve" })).status).toBe(404);
  });

  it("a digest link rejects as its recipient; a link of an already decided intent → 410 and no change", async () => {
    const id = await waiting(a);
    const link = await mint(a.id, id, "DIGEST", a.seller.id);
    const res = await post(link.token, { decision: "reject", reason: "Not now" });
    expect(res.status).toBe(200);
    const [rejected] = (await ledger(a.id, "INTENT_REJECTED")).filter((e) => JSON.parse(e.payload).action_intent_id === id);
    expect(rejected).toMatchObject({ actorType: "USER", actorId: a.seller.id });
    expect(JSON.parse(rejected?.payload ?? "{}")).toMatchObject({ reason: "Not now", via: "LINK" });

    const other = await waiting(a);
    const late = await mint(a.id, other);
    await approveAndRun(gate(), a.admin.viewer, other, {});
    const head = await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } });
    const before = await t.db.actionIntent.findUniqueOrThrow({ where: { id: other } });
    const gone = await post(late.token, { decision: "reject" });
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ error: { code: "INTENT_ALREADY_DECIDED" } });
    expect(await t.db.actionIntent.findUniqueOrThrow({ where: { id: other } })).toEqual(before);
    expect((await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq).toBe(head.seq);
    expect((await t.db.approvalLink.findUniqueOrThrow({ where: { id: late.token.split(".")[0] } })).usedAt).toBeNull();
  });

  it("10 concurrent POSTs of one token → exactly one 200, the others 410, one INTENT_APPROVED", async () => {
    const id = await waiting(a);
    const link = await mint(a.id, id);
    const all = await Promise.all(Array.from({ length: 10 }, () => post(link.token, { decision: "approve" })));
    expect(all.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(410)]);
    expect((await ledger(a.id, "INTENT_APPROVED")).filter((e) => JSON.parse(e.payload).action_intent_id === id)).toHaveLength(1);
  });

  it("expired by the tenant's TTL (injected clock) → 410 APPROVAL_EXPIRED and nothing changes", async () => {
    const tenant = await makeTenant(t.db);
    const clock = fixedClock("2026-05-01T08:00:00Z");
    await saveApprovalSettings(t.db, tenant.admin.viewer, { ttlHours: 3 }, clock);
    const id = await waiting(tenant, clock);
    const link = await mintApprovalLink(
      t.db,
      connectors(),
      { tenantId: tenant.id, intentId: id, purpose: "WEBHOOK", recipientUserId: null },
      clock.now(),
    );
    clock.advance(3 * HOUR - 1);
    expect(await inspectLink(gate(clock), link?.token as string)).toMatchObject({ kind: "OPEN", intent: { id } });
    clock.advance(1);
    expect(await decideByLink(gate(clock), link?.token as string, { decision: "approve" })).toMatchObject({
      ok: false,
      code: "APPROVAL_EXPIRED",
    });
    expect(await status(id)).toBe("PENDING_APPROVAL");
  });

  it("cross-tenant: a link of tenant A naming tenant B's intent is not found, and B's intent is untouched", async () => {
    const bIntent = await waiting(b);
    const forged = await mint(a.id, bIntent);
    const res = await post(forged.token, { decision: "approve" });
    expect(res.status).toBe(404);
    expect(await status(bIntent)).toBe("PENDING_APPROVAL");
    expect((await ledger(b.id, "INTENT_APPROVED")).filter((e) => JSON.parse(e.payload).action_intent_id === bIntent)).toHaveLength(0);
  });

  it("hostile bodies → 400 naming the field, nothing written", async () => {
    const id = await waiting(a);
    const link = await mint(a.id, id);
    for (const body of [
      { decision: "maybe" },
      { decision: "approve", tenant_id: b.id },
      {},
      { decision: "reject", reason: "x".repeat(3000) },
    ]) {
      expect((await post(link.token, body)).status).toBe(400);
    }
    expect(await status(id)).toBe("PENDING_APPROVAL");
  });
});

describe(`the approval webhook message (${TEST_PROVIDER}, a real HTTP receiver)`, () => {
  it("posts a signed Slack-compatible message whose approve link approves the intent once", async () => {
    const tenant = await makeTenant(t.db);
    const got: { verified: boolean; body: Record<string, unknown> }[] = [];
    let secret = "";
    const server = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => {
        raw += c;
      });
      req.on("end", () => {
        const verified = verifyWebhookSignature(
          secret,
          req.headers[SIGNATURE_HEADER],
          req.headers[TIMESTAMP_HEADER],
          raw,
          Date.now() / 1000,
        );
        got.push({ verified, body: JSON.parse(raw) });
        res.writeHead(verified ? 200 : 401).end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as AddressInfo;
      secret =
        (await setWebhook(t.db, tenant.admin.viewer, { url: `http://127.0.0.1:${port}/slack`, enabled: true }, systemClock)).secret ?? "";
      // off: no job
      const quiet = await waiting(tenant);
      expect(await t.db.job.count({ where: { tenantId: tenant.id, kind: APPROVAL_WEBHOOK } })).toBe(0);
      await saveApprovalSettings(t.db, tenant.admin.viewer, { notifyWebhook: true }, systemClock);
      const id = await waiting(tenant, systemClock, 1);
      expect(await t.db.job.findMany({ where: { tenantId: tenant.id, kind: APPROVAL_WEBHOOK } })).toHaveLength(1);
      expect(quiet).not.toBe(id);

      const tick = await runWorkerTick(
        t.db,
        queueHandlers({ db: t.db, clock: systemClock, synthesizer: rulesSynthesizer, connectors: connectors(), workerId: "w" }),
        { owner: "w", leaseSeconds: 60, maxJobs: 10, clock: systemClock },
      );
      // The tick also runs the executions earlier link approvals queued (EXECUTE_APPROVED).
      expect(tick.failed).toBe(0);
      expect(tick.jobs.filter((j) => j.kind === APPROVAL_WEBHOOK).map((j) => j.outcome)).toEqual(["DONE"]);
      expect(got).toHaveLength(1);
      const msg = got[0] as {
        verified: boolean;
        body: { text: string; blocks: { type: string; elements?: { text: { text: string }; url: string }[] }[] };
      };
      expect(msg.verified).toBe(true);
      expect(msg.body.text).toContain("CREATE_INTERNAL_TASK");
      expect(msg.body.text).toContain("RENEWAL_WINDOW_ENTERED");
      expect(msg.body.blocks[0]?.type).toBe("section");
      const buttons = msg.body.blocks.find((x) => x.type === "actions")?.elements ?? [];
      expect(buttons.map((x) => x.text.text)).toEqual(["Approve", "Reject"]);
      const approve = new URL(buttons[0]?.url as string);
      expect(approve.origin).toBe("http://approvals.test");
      expect(approve.searchParams.get("decision")).toBe("approve");
      const token = approve.pathname.replace("/approve/", "");
      expect((await post(token, { decision: "approve" })).status).toBe(200);
      expect(await status(id)).not.toBe("PENDING_APPROVAL");
      expect((await post(token, { decision: "approve" })).status).toBe(410);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
