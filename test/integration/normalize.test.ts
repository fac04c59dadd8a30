import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as normalizationRest } from "@/app/api/v1/learning/normalization/route";
import { POST as signalsRest } from "@/app/api/v1/signals/route";
import { UNDECIDED_STATUSES } from "@/server/engine/outcomes";
import { JOBS } from "@/server/jobs/registry";
import type { Viewer } from "@/server/repos/scope";
import { createApiKey } from "@/server/services/apiKeys";
import { setWebhook } from "@/server/services/connectors";
import { runExecution } from "@/server/services/executor";
import { verifyLedger } from "@/server/services/ledger";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { normalizationGap, runNormalizeTick } from "@/server/services/normalize";
import { rejectIntent } from "@/server/services/reviews";
import { ingestSignal } from "@/server/services/signals";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { approveAndRun, autonomous, clock, deps, intent, submitIntent } from "../helpers/gate";

const run = promisify(execFile);
const H = 3_600_000;
const D = 24 * H;

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let http: Server;
let failNext = false;
/** outreach sent by the first test: its windows stay open until the response test's clock ends them */
const earlier: string[] = [];

beforeAll(async () => {
  t = await freshDb();
  // The route modules use the process-wide client; point it at this file's database.
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  // The tenant's CRM middleware: a real receiver on a free port that fails when told to.
  http = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.statusCode = failNext ? 500 : 200;
      failNext = false;
      res.end("{}");
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  await setWebhook(t.db, a.admin.viewer, { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hooks`, enabled: true }, clock);
});
afterAll(async () => {
  await new Promise((r) => http.close(r));
  await t.cleanup();
});

const tick = () => runNormalizeTick(t.db, clock);
const system = (tenant: TestTenant): Viewer => ({ tenantId: tenant.id, actor: { type: "SYSTEM", id: "test" }, role: null, userId: null });

/** An account of its own per scenario: response windows read every response signal on the account. */
async function newAccount(tenant: TestTenant, ownerId = tenant.seller.id) {
  const acc = await t.db.account.create({ data: { tenantId: tenant.id, name: `acct ${randomUUID().slice(0, 8)}`, ownerId } });
  return acc.id;
}

const intentRow = (id: string) => t.db.actionIntent.findUniqueOrThrow({ where: { id } });
const labelsOf = async (id: string) =>
  (await t.db.outcome.findMany({ where: { intentId: id }, orderBy: { label: "asc" } })).map((o) => o.label);

/** OUTCOME_RECORDED entries for the intent on its correlation id, payload parsed, with the actor. */
async function recordedOn(id: string) {
  const i = await intentRow(id);
  const entries = await t.db.ledgerEntry.findMany({
    where: { tenantId: i.tenantId, correlationId: i.correlationId, type: "OUTCOME_RECORDED" },
    orderBy: { seq: "asc" },
  });
  return entries
    .map(
      (e): Record<string, unknown> => ({ ...(JSON.parse(e.payload) as Record<string, unknown>), actor: e.actorId, accountId: e.accountId }),
    )
    .filter((p) => p.action_intent_id === id);
}

/**
 * The bar: every decided intent of the tenant has at least one outcome, and each of its outcomes
 * exactly one OUTCOME_RECORDED entry with that label on the intent's correlation id.
 */
async function expectNormalized(tenantId: string) {
  const decided = await t.db.actionIntent.findMany({ where: { tenantId, status: { notIn: [...UNDECIDED_STATUSES] } } });
  expect(decided.length).toBeGreaterThan(0);
  for (const i of decided) {
    const labels = await labelsOf(i.id);
    expect(labels.length, `${i.status} intent ${i.id} has an outcome`).toBeGreaterThan(0);
    const recorded = (await recordedOn(i.id)).map((r) => r.label).sort();
    expect(recorded, `${i.status} intent ${i.id}: one OUTCOME_RECORDED per outcome`).toEqual([...labels].sort());
  }
}

/** An outreach through the production path: submitted, approved (optionally edited), delivered to the webhook. */
async function sendOutreach(accountId: string, actionType = "REQUEST_RENEWAL_MEETING", edit?: Record<string, unknown>) {
  const r = await submitIntent(
    deps(t.db),
    a.admin.viewer,
    intent(accountId, { actionType, riskLevel: "HIGH", parameters: { contact: "cfo@x.example" } }),
  );
  expect(r.status).toBe("PENDING_APPROVAL");
  const v = await approveAndRun(deps(t.db), a.admin.viewer, r.actionIntentId, edit ? { editedParameters: edit } : {});
  expect(v.status).toBe("SUCCEEDED");
  return { original: r.actionIntentId, executed: v.actionIntentId, executionId: v.executionId as string };
}

/** A row as an older version of the app left it: decided, with no outcome written. */
async function legacyIntent(
  tenant: TestTenant,
  accountId: string,
  status: string,
  opts: {
    actionType?: string;
    decidedAt?: Date;
    parentId?: string;
    execution?: { status: string; outcome?: string; error?: string; finishedAt?: Date };
  } = {},
) {
  const now = clock.now();
  const i = await t.db.actionIntent.create({
    data: {
      tenantId: tenant.id,
      accountId,
      correlationId: randomUUID(),
      actionType: opts.actionType ?? "CREATE_INTERNAL_NOTE",
      confidence: 0.8,
      riskLevel: "LOW",
      status,
      source: "API",
      decision: status === "BLOCKED" ? "BLOCK" : "REQUIRE_APPROVAL",
      reason: status === "BLOCKED" ? "ACTION_TYPE_DISABLED" : "ACTION_TYPE_NOT_ALLOWLISTED",
      parentId: opts.parentId ?? null,
      version: opts.parentId ? 2 : 1,
      decidedAt: opts.decidedAt ?? now,
      createdAt: opts.decidedAt ?? now,
      updatedAt: now,
    },
  });
  if (opts.execution)
    await t.db.execution.create({
      data: {
        tenantId: tenant.id,
        intentId: i.id,
        nonReplayKey: i.id,
        approvalSource: "HUMAN",
        autoExecuted: false,
        status: opts.execution.status,
        outcome: opts.execution.outcome ?? null,
        error: opts.execution.error ?? null,
        startedAt: opts.execution.finishedAt ?? now,
        finishedAt: opts.execution.finishedAt ?? now,
      },
    });
  return i.id;
}

describe(`normalize on ${TEST_PROVIDER}: every decided intent ends with its label`, () => {
  it("approved, edited, rejected, auto-executed, failed and blocked intents (production paths) each have the right label and an OUTCOME_RECORDED on their correlation id", async () => {
    const approved = await sendOutreach(await newAccount(a));
    const edited = await sendOutreach(await newAccount(a), "REQUEST_DISCOVERY_CALL", { contact: "ceo@x.example" });
    expect(edited.executed).not.toBe(edited.original);
    earlier.push(approved.executed, edited.executed);

    const toReject = await submitIntent(deps(t.db), a.admin.viewer, intent(await newAccount(a), { actionType: "CREATE_INTERNAL_NOTE" }));
    expect(toReject.status).toBe("PENDING_APPROVAL");
    await rejectIntent(deps(t.db), a.admin.viewer, toReject.actionIntentId, { reason: "not now" });

    await autonomous(t.db, a.admin.viewer, "CREATE_INTERNAL_TASK", { maxPerDay: 50 });
    const auto = await submitIntent(deps(t.db), a.admin.viewer, intent(await newAccount(a)));
    expect(auto).toMatchObject({ status: "SUCCEEDED", decision: "AUTO_EXECUTE" });

    failNext = true;
    const toFail = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(await newAccount(a), { actionType: "REQUEST_STAKEHOLDER_INTRO", riskLevel: "HIGH" }),
    );
    const failed = await approveAndRun(deps(t.db), a.admin.viewer, toFail.actionIntentId, {});
    expect(failed.status).toBe("FAILED");

    const blocked = await submitIntent(deps(t.db), a.admin.viewer, intent(await newAccount(a), { actionType: "LAUNCH_ROCKETS" }));
    expect(blocked).toMatchObject({ status: "BLOCKED", reason: "UNKNOWN_ACTION_TYPE" });
    // The gate writes no outcome for a blocked idea: before normalize it has none.
    expect(await labelsOf(blocked.actionIntentId)).toEqual([]);

    // The response windows are open (no time has passed): only the blocked idea is due.
    expect(await tick()).toEqual({ ok: true, tenants: 2, recorded: 1, responses: 0, missing: 0, resolved: 0 });

    expect(await labelsOf(approved.executed)).toEqual(["EXECUTION_SUCCEEDED"]);
    expect(await labelsOf(edited.original)).toEqual(["IDEA_EDITED"]);
    expect(await labelsOf(edited.executed)).toEqual(["EXECUTION_SUCCEEDED"]);
    expect(await labelsOf(toReject.actionIntentId)).toEqual(["IDEA_REJECTED"]);
    expect(await labelsOf(auto.actionIntentId)).toEqual(["EXECUTION_SUCCEEDED"]);
    expect(await labelsOf(toFail.actionIntentId)).toEqual(["EXECUTION_FAILED"]);
    expect(await labelsOf(blocked.actionIntentId)).toEqual(["IDEA_BLOCKED"]);

    const [entry, ...more] = await recordedOn(blocked.actionIntentId);
    expect(more).toEqual([]);
    expect(entry).toEqual({
      action_intent_id: blocked.actionIntentId,
      label: "IDEA_BLOCKED",
      reason: "UNKNOWN_ACTION_TYPE",
      actor: "normalize",
      accountId: (await intentRow(blocked.actionIntentId)).accountId,
    });
    const row = await t.db.outcome.findUniqueOrThrow({ where: { id: `${blocked.actionIntentId}:IDEA_BLOCKED` } });
    expect(JSON.parse(row.details)).toEqual({ reason: "UNKNOWN_ACTION_TYPE" });

    await expectNormalized(a.id);
    // Idempotent: a second tick finds nothing to do and writes nothing.
    const head = await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } });
    expect(await tick()).toMatchObject({ recorded: 0, responses: 0, missing: 0 });
    expect((await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq).toBe(head.seq);
    expect((await verifyLedger(t.db, a.id)).ok).toBe(true);
  });

  it("legacy rows written without their outcome are filled from what is stored (execution details, edited version), ledgered as BACKFILLED", async () => {
    const acc = await newAccount(a);
    const rejected = await legacyIntent(a, acc, "REJECTED");
    const superseded = await legacyIntent(a, acc, "SUPERSEDED");
    const version = await legacyIntent(a, acc, "SUCCEEDED", {
      parentId: superseded,
      execution: { status: "SUCCEEDED", outcome: '{"kind":"NOTE","title":"Renewal"}' },
    });
    const failed = await legacyIntent(a, acc, "FAILED", { execution: { status: "FAILED", error: "receiver said 500" } });
    const expired = await legacyIntent(a, acc, "EXPIRED");

    const res = await tick();
    expect(res).toMatchObject({ ok: true, recorded: 5, responses: 0 });

    const out = async (id: string, label: string) => {
      const o = await t.db.outcome.findUniqueOrThrow({ where: { id: `${id}:${label}` } });
      return { executionId: o.executionId, details: JSON.parse(o.details) };
    };
    const executionOf = async (id: string) => (await t.db.execution.findFirstOrThrow({ where: { intentId: id } })).id;
    expect(await out(rejected, "IDEA_REJECTED")).toEqual({ executionId: null, details: {} });
    expect(await out(superseded, "IDEA_EDITED")).toEqual({ executionId: null, details: { new_intent_id: version } });
    expect(await out(version, "EXECUTION_SUCCEEDED")).toEqual({
      executionId: await executionOf(version),
      details: { kind: "NOTE", title: "Renewal" },
    });
    expect(await out(failed, "EXECUTION_FAILED")).toEqual({
      executionId: await executionOf(failed),
      details: { error: "receiver said 500" },
    });
    expect(await out(expired, "IDEA_EXPIRED")).toEqual({ executionId: null, details: {} });

    expect(await recordedOn(failed)).toEqual([
      {
        action_intent_id: failed,
        execution_id: await executionOf(failed),
        label: "EXECUTION_FAILED",
        reason: "BACKFILLED",
        actor: "normalize",
        accountId: acc,
      },
    ]);
    // An expired idea's label is normalize's to write, not a backfill.
    expect(await recordedOn(expired)).toEqual([{ action_intent_id: expired, label: "IDEA_EXPIRED", actor: "normalize", accountId: acc }]);
    await expectNormalized(a.id);
    expect((await verifyLedger(t.db, a.id)).ok).toBe(true);
  });
});

describe(`response windows on ${TEST_PROVIDER}`, () => {
  it("a reply, a refusal (on the edited version), a bounce (via POST /api/v1/signals) close their windows; silence and a reply after the window end NO_RESPONSE", async () => {
    const start = clock.now();
    const replied = await sendOutreach(await newAccount(a));
    const refused = await sendOutreach(await newAccount(a), "REQUEST_DISCOVERY_CALL", { contact: "vp@x.example" });
    const bounced = await sendOutreach(await newAccount(a), "REQUEST_STAKEHOLDER_INTRO");
    const silent = await sendOutreach(await newAccount(a));
    const late = await sendOutreach(await newAccount(a));
    const accountOf = async (id: string) => (await intentRow(id)).accountId;

    const reply = await ingestSignal(
      t.db,
      system(a),
      {
        accountId: await accountOf(replied.executed),
        signalType: "EMAIL_REPLY_RECEIVED",
        evidence: { subject: "Re: renewal" },
        occurredAt: new Date(start.getTime() + 2 * D),
        source: "test",
      },
      clock,
    );
    const refusal = await ingestSignal(
      t.db,
      system(a),
      {
        accountId: await accountOf(refused.executed),
        signalType: "EMAIL_REPLY_RECEIVED",
        evidence: { sentiment: "negative" },
        occurredAt: new Date(start.getTime() + D),
        source: "test",
      },
      clock,
    );
    const ingest = await createApiKey(
      t.db,
      { tenantId: a.id, name: "ingest", scopes: ["ingest"], actor: { type: "SYSTEM", id: "test" } },
      clock,
    );
    const res = await signalsRest(
      new Request("http://127.0.0.1/api/v1/signals", {
        method: "POST",
        headers: { authorization: `Bearer ${ingest.key}`, "content-type": "application/json" },
        body: JSON.stringify({
          account_id: await accountOf(bounced.executed),
          signal_type: "EMAIL_BOUNCED",
          occurred_at: new Date(start.getTime() + H).toISOString(),
        }),
      }),
    );
    expect(res.status).toBe(202);
    const bounce = ((await res.json()) as { signal_id: string }).signal_id;

    // Three days in: the answered windows close, the quiet ones stay open.
    clock.set(new Date(start.getTime() + 3 * D));
    expect(await tick()).toMatchObject({ ok: true, recorded: 0, responses: 3 });
    expect(await labelsOf(replied.executed)).toEqual(["EXECUTION_SUCCEEDED", "RESPONSE_RECEIVED"]);
    expect(await labelsOf(refused.executed)).toEqual(["EXECUTION_SUCCEEDED", "NEGATIVE_RESPONSE"]);
    // The edited idea's response is recorded once, on the version that was sent.
    expect(await labelsOf(refused.original)).toEqual(["IDEA_EDITED"]);
    expect(await labelsOf(bounced.executed)).toEqual(["EXECUTION_SUCCEEDED", "NEGATIVE_RESPONSE"]);
    expect(await labelsOf(silent.executed)).toEqual(["EXECUTION_SUCCEEDED"]);
    expect(await labelsOf(late.executed)).toEqual(["EXECUTION_SUCCEEDED"]);

    const responseEntry = async (id: string) => (await recordedOn(id)).filter((r) => r.label !== "EXECUTION_SUCCEEDED");
    expect(await responseEntry(replied.executed)).toEqual([
      {
        action_intent_id: replied.executed,
        execution_id: replied.executionId,
        label: "RESPONSE_RECEIVED",
        signal_id: reply.signalId,
        signal_type: "EMAIL_REPLY_RECEIVED",
        actor: "normalize",
        accountId: await accountOf(replied.executed),
      },
    ]);
    expect((await responseEntry(refused.executed))[0]).toMatchObject({ label: "NEGATIVE_RESPONSE", signal_id: refusal.signalId });
    expect((await responseEntry(bounced.executed))[0]).toMatchObject({ label: "NEGATIVE_RESPONSE", signal_id: bounce });
    const o = await t.db.outcome.findUniqueOrThrow({ where: { id: `${replied.executed}:RESPONSE` } });
    expect(JSON.parse(o.details)).toEqual({
      window_start: start.toISOString(),
      window_end: new Date(start.getTime() + 7 * D).toISOString(),
      window_days: 7,
      signal_id: reply.signalId,
      signal_type: "EMAIL_REPLY_RECEIVED",
    });
    // A second reply inside the window changes nothing: the window closed once.
    await ingestSignal(
      t.db,
      system(a),
      {
        accountId: await accountOf(replied.executed),
        signalType: "UNSUBSCRIBED",
        occurredAt: new Date(start.getTime() + 4 * D),
        source: "test",
      },
      clock,
    );

    // A millisecond before the end: still open.
    clock.set(new Date(start.getTime() + 7 * D - 1));
    expect(await tick()).toMatchObject({ responses: 0 });

    // A reply one hour after the window ended, seen by a tick an hour later: it does not count.
    clock.set(new Date(start.getTime() + 7 * D + H));
    await ingestSignal(
      t.db,
      system(a),
      { accountId: await accountOf(late.executed), signalType: "EMAIL_REPLY_RECEIVED", occurredAt: clock.now(), source: "test" },
      clock,
    );
    clock.advance(H);
    // These two, and the first test's two outreach, sent at the same instant and never answered.
    expect(await tick()).toMatchObject({ ok: true, responses: 4 });
    for (const id of earlier) expect(await labelsOf(id)).toEqual(["EXECUTION_SUCCEEDED", "NO_RESPONSE"]);
    expect(await labelsOf(silent.executed)).toEqual(["EXECUTION_SUCCEEDED", "NO_RESPONSE"]);
    expect(await labelsOf(late.executed)).toEqual(["EXECUTION_SUCCEEDED", "NO_RESPONSE"]);
    expect((await responseEntry(late.executed))[0]).toMatchObject({
      label: "NO_RESPONSE",
      reason: "RESPONSE_WINDOW_ENDED",
      window_days: 7,
    });
    expect(await labelsOf(replied.executed)).toEqual(["EXECUTION_SUCCEEDED", "RESPONSE_RECEIVED"]);

    // Exactly one response outcome per outreach lineage, and nothing more to do.
    for (const s of [replied, refused, bounced, silent, late]) {
      const lineage = [...new Set([s.original, s.executed])];
      expect(
        await t.db.outcome.count({
          where: { intentId: { in: lineage }, label: { in: ["RESPONSE_RECEIVED", "NEGATIVE_RESPONSE", "NO_RESPONSE"] } },
        }),
      ).toBe(1);
    }
    expect(await tick()).toMatchObject({ recorded: 0, responses: 0 });
    await expectNormalized(a.id);
    expect((await verifyLedger(t.db, a.id)).ok).toBe(true);
  });
});

describe(`normalisation gap on ${TEST_PROVIDER}`, () => {
  let c: TestTenant;
  let stuck: string;
  let noExecution: string;

  it("a stuck APPROVED intent (and a SUCCEEDED one with no execution to label it from) is flagged NORMALIZATION_MISSING once, after the tenant's missing_after_hours", async () => {
    c = await makeTenant(t.db);
    // The tenant's own setting is read: 2 hours instead of the default 24.
    await t.db.learningState.create({ data: { tenantId: c.id, settings: '{"missing_after_hours":2}', updatedAt: clock.now() } });
    const decidedAt = clock.now();
    stuck = await legacyIntent(c, c.accounts.seller[0] as string, "APPROVED", { actionType: "CREATE_INTERNAL_TASK", decidedAt });
    noExecution = await legacyIntent(c, c.accounts.seller2[0] as string, "SUCCEEDED", { decidedAt });
    // Waiting for a human is not a gap, however long it waits.
    await legacyIntent(c, c.accounts.seller[0] as string, "PENDING_APPROVAL", { decidedAt: new Date(decidedAt.getTime() - 30 * D) });

    clock.set(new Date(decidedAt.getTime() + 2 * H - 1));
    expect(await tick()).toMatchObject({ ok: true, missing: 0 });
    clock.set(new Date(decidedAt.getTime() + 2 * H));
    expect(await tick()).toMatchObject({ ok: true, missing: 2, recorded: 0 });
    clock.advance(H);
    expect(await tick()).toMatchObject({ missing: 0 });
    clock.advance(D);
    expect(await tick()).toMatchObject({ missing: 0 });

    const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: c.id, type: "NORMALIZATION_MISSING" }, orderBy: { seq: "asc" } });
    expect(entries).toHaveLength(2);
    const stuckEntry = entries.find((e) => JSON.parse(e.payload).action_intent_id === stuck);
    expect(stuckEntry).toMatchObject({
      correlationId: (await intentRow(stuck)).correlationId,
      accountId: c.accounts.seller[0],
      actorType: "SYSTEM",
      actorId: "normalize",
    });
    expect(JSON.parse(stuckEntry?.payload ?? "{}")).toEqual({
      action_intent_id: stuck,
      status: "APPROVED",
      decided_at: decidedAt.toISOString(),
      after_hours: 2,
    });
    // Not guessed: no outcome was invented for either.
    expect(await labelsOf(stuck)).toEqual([]);
    expect(await labelsOf(noExecution)).toEqual([]);

    const gap = await normalizationGap(t.db, c.admin.viewer, clock);
    expect(gap).toEqual({
      after_hours: 2,
      gap: 2,
      oldest_decided_at: decidedAt.toISOString(),
      items: expect.arrayContaining([
        {
          action_intent_id: stuck,
          account_id: c.accounts.seller[0],
          status: "APPROVED",
          decided_at: decidedAt.toISOString(),
          flagged_at: new Date(decidedAt.getTime() + 2 * H).toISOString(),
        },
      ]),
    });
    expect(gap.items).toHaveLength(2);
    // A seller sees the gap on their own accounts only.
    const mine = await normalizationGap(t.db, c.seller.viewer, clock);
    expect(mine).toMatchObject({ gap: 1, items: [{ action_intent_id: stuck }] });
    expect(await normalizationGap(t.db, c.seller2.viewer, clock)).toMatchObject({ gap: 1, items: [{ action_intent_id: noExecution }] });
    expect(await normalizationGap(t.db, a.admin.viewer, clock)).toMatchObject({ gap: 0, items: [] });
  });

  it("when the stuck intent's execution finally records its outcome, the gap is resolved and not flagged again", async () => {
    const done = await runExecution(deps(t.db), c.id, stuck, { approvalSource: "HUMAN", actor: { type: "SYSTEM", id: "test" } });
    expect(done.status).toBe("SUCCEEDED");
    // The view is live: the resolved intent leaves it before the job has run.
    expect((await normalizationGap(t.db, c.admin.viewer, clock)).items.map((i) => i.action_intent_id)).toEqual([noExecution]);
    expect(await tick()).toMatchObject({ ok: true, resolved: 1, missing: 0 });
    const row = await t.db.normalizationGap.findUniqueOrThrow({ where: { tenantId_intentId: { tenantId: c.id, intentId: stuck } } });
    expect(row.resolvedAt).toEqual(clock.now());
    clock.advance(D);
    expect(await tick()).toMatchObject({ resolved: 0, missing: 0 });
    expect(await t.db.ledgerEntry.count({ where: { tenantId: c.id, type: "NORMALIZATION_MISSING" } })).toBe(2);
    expect(await normalizationGap(t.db, c.admin.viewer, clock)).toMatchObject({ gap: 1, items: [{ action_intent_id: noExecution }] });
    expect((await verifyLedger(t.db, c.id)).ok).toBe(true);
  });

  it("GET /api/v1/learning/normalization answers the key's tenant only (tenant B's key never sees tenant A's gap)", async () => {
    const key = async (tenant: TestTenant) =>
      (await createApiKey(t.db, { tenantId: tenant.id, name: "read", scopes: ["read"], actor: { type: "SYSTEM", id: "test" } }, clock)).key;
    const get = async (k: string | null) => {
      const res = await normalizationRest(
        new Request("http://127.0.0.1/api/v1/learning/normalization", { headers: k ? { authorization: `Bearer ${k}` } : {} }),
      );
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const mine = await get(await key(c));
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({
      after_hours: 2,
      gap: 1,
      items: [{ action_intent_id: noExecution, account_id: c.accounts.seller2[0] }],
    });
    const other = await get(await key(b));
    expect(other.status).toBe(200);
    expect(other.body).toEqual({ after_hours: 24, gap: 0, oldest_decided_at: null, items: [] });
    expect(JSON.stringify(other.body)).not.toContain(noExecution);
    expect((await get(null)).status).toBe(401);
  });
});

describe(`concurrent normalizers on ${TEST_PROVIDER}`, () => {
  it("several ticks at once record each outcome, each response and each gap exactly once, ledgered once, the chain intact", async () => {
    const d = await makeTenant(t.db);
    const acc = d.accounts.admin[0] as string;
    const old = new Date(clock.now().getTime() - 30 * D);
    const blocked: string[] = [];
    const outreach: string[] = [];
    const stuckIds: string[] = [];
    for (let i = 0; i < 12; i++) blocked.push(await legacyIntent(d, acc, "BLOCKED"));
    // Outreach sent long ago with no outcome at all: its execution label and its NO_RESPONSE are both due.
    for (let i = 0; i < 6; i++)
      outreach.push(
        await legacyIntent(d, acc, "SUCCEEDED", {
          actionType: "SEND_EMAIL",
          decidedAt: old,
          execution: { status: "SUCCEEDED", outcome: "{}", finishedAt: old },
        }),
      );
    for (let i = 0; i < 6; i++) stuckIds.push(await legacyIntent(d, acc, "EXECUTING", { decidedAt: old }));

    const writtenBefore = await t.db.ledgerEntry.count({
      where: { actorId: "normalize", type: { in: ["OUTCOME_RECORDED", "NORMALIZATION_MISSING"] } },
    });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => runNormalizeTick(t.db, clock, { pageSize: 4 })));
    for (const r of results) expect(r.ok).toBe(true);
    const sum = (k: "recorded" | "responses" | "missing") => results.reduce((n, r) => n + r[k], 0);
    // What the ticks say they wrote is exactly what the ledger holds.
    const writtenAfter = await t.db.ledgerEntry.count({
      where: { actorId: "normalize", type: { in: ["OUTCOME_RECORDED", "NORMALIZATION_MISSING"] } },
    });
    expect(writtenAfter - writtenBefore).toBe(sum("recorded") + sum("responses") + sum("missing"));

    for (const id of blocked) {
      expect(await labelsOf(id)).toEqual(["IDEA_BLOCKED"]);
      expect(await recordedOn(id)).toHaveLength(1);
    }
    for (const id of outreach) {
      expect(await labelsOf(id)).toEqual(["EXECUTION_SUCCEEDED", "NO_RESPONSE"]);
      expect((await recordedOn(id)).map((r) => r.label).sort()).toEqual(["EXECUTION_SUCCEEDED", "NO_RESPONSE"]);
    }
    const missing = await t.db.ledgerEntry.findMany({ where: { tenantId: d.id, type: "NORMALIZATION_MISSING" } });
    expect(missing.map((e) => JSON.parse(e.payload).action_intent_id).sort()).toEqual([...stuckIds].sort());
    expect(await t.db.normalizationGap.count({ where: { tenantId: d.id } })).toBe(6);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: d.id, type: "OUTCOME_RECORDED" } })).toBe(12 + 12);
    expect((await verifyLedger(t.db, d.id)).ok).toBe(true);
  }, 60_000);
});

describe(`bounded work per tick on ${TEST_PROVIDER}`, () => {
  it("a tick takes at most pageSize × maxPages per tenant and phase, the next tick the rest; the gap lists the newest 100 decisions", async () => {
    const e = await makeTenant(t.db);
    const acc = e.accounts.seller[0] as string;
    const blocked: string[] = [];
    for (let i = 0; i < 5; i++) blocked.push(await legacyIntent(e, acc, "BLOCKED"));
    const first = new Date(clock.now().getTime() - 10 * D);
    const minute = 60_000;
    await t.db.actionIntent.createMany({
      data: Array.from({ length: 105 }, (_, i) => ({
        tenantId: e.id,
        accountId: acc,
        correlationId: randomUUID(),
        actionType: "CREATE_INTERNAL_TASK",
        confidence: 0.8,
        riskLevel: "LOW",
        status: "APPROVED",
        source: "API",
        decision: "REQUIRE_APPROVAL",
        decidedAt: new Date(first.getTime() + i * minute),
        createdAt: new Date(first.getTime() + i * minute),
        updatedAt: first,
      })),
    });

    expect(await runNormalizeTick(t.db, clock, { pageSize: 2, maxPages: 1 })).toMatchObject({ ok: true, recorded: 2, missing: 2 });
    expect(await runNormalizeTick(t.db, clock)).toMatchObject({ ok: true, recorded: 3, missing: 103 });
    for (const id of blocked) expect(await labelsOf(id)).toEqual(["IDEA_BLOCKED"]);

    const gap = await normalizationGap(t.db, e.admin.viewer, clock);
    expect(gap).toMatchObject({ gap: 105, oldest_decided_at: first.toISOString() });
    expect(gap.items).toHaveLength(100);
    const decided = gap.items.map((i) => i.decided_at as string);
    expect(decided[0]).toBe(new Date(first.getTime() + 104 * minute).toISOString());
    expect(decided).toEqual([...decided].sort().reverse());
    expect(await t.db.ledgerEntry.count({ where: { tenantId: e.id, type: "NORMALIZATION_MISSING" } })).toBe(105);
  }, 60_000);
});

describe(`the normalize job on ${TEST_PROVIDER}`, () => {
  it("runs through the job registry (what the cron route and scheduler call) and `npm run cli -- tick normalize` runs it against the database", async () => {
    expect(JOBS.normalize.schedule).toBe("23 * * * *");
    const acc = await newAccount(b);
    const blocked = await legacyIntent(b, acc, "BLOCKED");
    // Through the registry, as the cron route and the scheduler call it.
    const viaRegistry = await JOBS.normalize.run({
      db: t.db,
      clock,
      synthesizer: rulesSynthesizer,
      connectors: { smtp: null },
      workerId: "normalize-test",
    });
    expect(viaRegistry).toMatchObject({ ok: true, recorded: 1 });
    const second = await legacyIntent(b, acc, "REJECTED");
    const { stdout } = await run("./node_modules/.bin/tsx", ["scripts/cli.ts", "tick", "normalize"], {
      env: { ...process.env, DATABASE_URL: t.url },
    });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, recorded: 1 });
    expect(await labelsOf(blocked)).toEqual(["IDEA_BLOCKED"]);
    expect(await labelsOf(second)).toEqual(["IDEA_REJECTED"]);
    expect((await verifyLedger(t.db, b.id)).ok).toBe(true);
  }, 60_000);
});
