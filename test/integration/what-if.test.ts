import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as enforcePost } from "@/app/api/v1/autonomy/policy-proposals/[id]/enforce/route";
import { GET as reportGet } from "@/app/api/v1/autonomy/policy-proposals/[id]/route";
import { GET as proposalsGet, POST as proposalsPost } from "@/app/api/v1/autonomy/policy-proposals/route";
import { POST as whatIfPost } from "@/app/api/v1/autonomy/what-if/route";
import { createCaller } from "@/server/api/root";
import { systemClock } from "@/server/clock";
import type { Db } from "@/server/db";
import { createApiKey } from "@/server/services/apiKeys";
import { putAllowlist, putBudget, putMode } from "@/server/services/autonomyConfig";
import { type IntentInput, submitIntent } from "@/server/services/gate";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { intent } from "../helpers/gate";

/**
 * Policy what-if and log-only mode (SPEC §4.8, §5.1) against intents decided by the REAL gate:
 * a what-if lists exactly the intents whose decision would change and writes nothing; a
 * loosening the policy still blocks changes nothing; a log-only proposal records the proposed
 * answer beside every evaluation from the very next one, without changing the active decision;
 * enforce writes the changes through the autonomy configuration services.
 */

const TASK = "CREATE_INTERNAL_TASK";
const NOTE = "CREATE_INTERNAL_NOTE";
const FLAG = "FLAG_FOR_REVIEW"; // may auto-execute, but not allowlisted here
let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const keys: Record<string, string> = {};
const gate = () => ({ db: t.db, clock: systemClock, connectors: { smtp: null } });
const caller = (u: TestTenant["admin"]) => createCaller({ db: t.db, clock: systemClock, session: u.session });

/** Every table's row count, the ledger heads and config versions: what "writes nothing" means. */
async function snapshot(db: Db) {
  const tables =
    TEST_PROVIDER === "postgres"
      ? await db.$queryRawUnsafe<{ name: string }[]>(
          `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
        )
      : await db.$queryRawUnsafe<{ name: string }[]>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`);
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await db.$queryRawUnsafe<{ n: bigint | number }[]>(`SELECT COUNT(*) AS n FROM "${name}"`);
    counts[name] = Number(row?.n);
  }
  const heads = await db.ledgerHead.findMany({ orderBy: { tenantId: "asc" }, select: { tenantId: true, seq: true, hash: true } });
  const versions = await db.tenant.findMany({ orderBy: { id: "asc" }, select: { id: true, configVersion: true } });
  return { counts, heads, versions, tables: tables.length };
}

function api(
  handler: (req: Request, ctx: never) => Promise<Response>,
  key: string,
  method: string,
  body?: unknown,
  params?: Record<string, string>,
  query = "",
) {
  return handler(
    new Request(`http://127.0.0.1/api/v1/autonomy/x${query}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { params: Promise.resolve(params ?? {}) } as never,
  );
}

const period = () => ({ from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });

type Decided = { id: string; actionType: string; accountId: string; decision: string; reason: string };
const decided: Decided[] = [];

async function submit(tenant: TestTenant, accountId: string, patch: Partial<IntentInput>) {
  const r = await submitIntent(gate(), tenant.admin.viewer, intent(accountId, patch));
  const row = { id: r.actionIntentId, actionType: patch.actionType ?? TASK, accountId, decision: r.decision ?? "", reason: r.reason ?? "" };
  if (tenant === a) decided.push(row);
  return row;
}

/** A mix the policy decides every way: autonomous, low confidence, not allowlisted, external contact. */
async function seedMix(tenant: TestTenant) {
  const accts = tenant.accounts.seller;
  for (let i = 0; i < 6; i++)
    await submit(tenant, accts[i % accts.length] as string, { actionType: TASK, parameters: { title: `task ${i}` } });
  for (let i = 0; i < 2; i++) await submit(tenant, accts[i % accts.length] as string, { actionType: TASK, confidence: 0.5 });
  for (let i = 0; i < 4; i++)
    await submit(tenant, accts[i % accts.length] as string, { actionType: NOTE, parameters: { title: `note ${i}` } });
  for (let i = 0; i < 2; i++) await submit(tenant, accts[0] as string, { actionType: FLAG });
  await submit(tenant, accts[0] as string, { actionType: "SEND_EMAIL", riskLevel: "HIGH", parameters: { subject: "hi", body: "hello" } });
}

async function autonomy(tenant: TestTenant) {
  await putAllowlist(t.db, tenant.admin.viewer, { actionTypes: [TASK, NOTE] }, systemClock);
  await putMode(t.db, tenant.admin.viewer, { mode: "AUTO_EXECUTE" }, systemClock);
  await putBudget(t.db, tenant.admin.viewer, { maxPerDay: 1000 }, systemClock);
}

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  for (const tenant of [a, b]) {
    for (const scopes of [["admin"], ["read"]] as const)
      keys[`${tenant.id}:${scopes[0]}`] = (
        await createApiKey(
          t.db,
          { tenantId: tenant.id, name: scopes[0], scopes: [...scopes], actor: { type: "SYSTEM", id: "test" } },
          systemClock,
        )
      ).key;
    await autonomy(tenant);
    await seedMix(tenant);
  }
}, 120_000);
afterAll(() => t.cleanup());

describe(`policy what-if (${TEST_PROVIDER})`, () => {
  it("seeded through the gate: every kind of decision is there", () => {
    const kinds = new Set(decided.map((d) => `${d.actionType}:${d.decision}:${d.reason}`));
    expect(kinds).toEqual(
      new Set([
        `${TASK}:AUTO_EXECUTE:POLICY_SATISFIED`,
        `${TASK}:REQUIRE_APPROVAL:CONFIDENCE_BELOW_THRESHOLD`,
        `${NOTE}:AUTO_EXECUTE:POLICY_SATISFIED`,
        `${FLAG}:REQUIRE_APPROVAL:ACTION_TYPE_NOT_ALLOWLISTED`,
        "SEND_EMAIL:REQUIRE_APPROVAL:ACTION_TYPE_NOT_ALLOWLISTED",
      ]),
    );
  });

  it("flipping one type to APPROVAL_REQUIRED lists exactly that type's autonomous intents, and writes nothing", async () => {
    const before = await snapshot(t.db);
    const res = await api(whatIfPost, keys[`${a.id}:admin`] as string, "POST", {
      changes: [{ action_type: TASK, mode: "APPROVAL_REQUIRED" }],
      ...period(),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      evaluated: number;
      changed: { action_intent_id: string; before: { decision: string; reason: string }; after: { decision: string; reason: string } }[];
      reason_changed: { after: unknown }[];
      by_action_type: {
        action_type: string;
        evaluated: number;
        changed: number;
        reason_changed: number;
        transitions: { before: string; after: string; count: number }[];
      }[];
      truncated: boolean;
    };
    const expected = decided.filter((d) => d.actionType === TASK && d.decision === "AUTO_EXECUTE").map((d) => d.id);
    expect(expected).toHaveLength(6);
    expect(new Set(body.changed.map((c) => c.action_intent_id))).toEqual(new Set(expected));
    expect(body.changed).toHaveLength(expected.length);
    for (const c of body.changed) {
      expect(c.before).toEqual({ decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED" });
      expect(c.after).toEqual({ decision: "REQUIRE_APPROVAL", reason: "MODE_APPROVAL_REQUIRED" });
    }
    // Only tenant a's evaluations: tenant b's identical mix is not replayed.
    expect(body.evaluated).toBe(decided.length);
    expect(body.truncated).toBe(false);
    // The two low-confidence tasks keep their decision; only the reason would differ (listed apart).
    expect(body.reason_changed.map((c) => c.after)).toEqual([
      { decision: "REQUIRE_APPROVAL", reason: "MODE_APPROVAL_REQUIRED" },
      { decision: "REQUIRE_APPROVAL", reason: "MODE_APPROVAL_REQUIRED" },
    ]);
    expect(body.by_action_type.find((x) => x.action_type === TASK)).toEqual({
      action_type: TASK,
      evaluated: 8,
      changed: 6,
      reason_changed: 2,
      decisions: [
        { decision: "AUTO_EXECUTE", before: 6, after: 0 },
        { decision: "REQUIRE_APPROVAL", before: 2, after: 8 },
      ],
      transitions: [{ before: "AUTO_EXECUTE", after: "REQUIRE_APPROVAL", count: 6 }],
    });
    expect(await snapshot(t.db)).toEqual(before);
    expect(before.tables).toBeGreaterThan(20);
  });

  it("a loosening the policy still blocks changes nothing: the replay runs the same clauses", async () => {
    const r = await caller(a.admin).policyLab.whatIf({
      changes: [
        { action_type: FLAG, mode: "AUTO_EXECUTE" }, // still not allowlisted
        { action_type: "SEND_EMAIL", mode: "AUTO_EXECUTE" }, // external contact, never allowlistable
        { action_type: TASK, mode: "AUTO_EXECUTE" }, // already; low confidence still asks
      ],
      ...period(),
    });
    expect(r.evaluated).toBe(decided.length);
    expect(r.changed).toEqual([]);
  });

  it("allowlisting the type too lets it through; an account's budget of 1 stops all but one per day", async () => {
    const widened = await caller(a.admin).policyLab.whatIf({
      changes: [{ action_type: FLAG, allowlist: true }],
      ...period(),
    });
    expect(new Set(widened.changed.map((c) => c.actionIntentId))).toEqual(
      new Set(decided.filter((d) => d.actionType === FLAG).map((d) => d.id)),
    );
    expect(widened.changed.map((c) => c.after)).toEqual([
      { decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED" },
      { decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED" },
    ]);

    const acct = a.accounts.seller[0] as string;
    const capped = await caller(a.admin).policyLab.whatIf({
      changes: [{ account_id: acct, max_autonomous_per_day: 1 }],
      ...period(),
    });
    const autoThere = decided.filter((d) => d.accountId === acct && d.decision === "AUTO_EXECUTE");
    expect(autoThere.length).toBeGreaterThan(2);
    expect(capped.changed).toHaveLength(autoThere.length - 1);
    for (const c of capped.changed) {
      expect(autoThere.map((d) => d.id)).toContain(c.actionIntentId);
      expect(c.after).toEqual({ decision: "REQUIRE_APPROVAL", reason: "BUDGET_EXHAUSTED" });
    }
  });

  it("bad input: 422 / 400 naming the field, another tenant's account 404, a read key 403 — nothing written", async () => {
    const before = await snapshot(t.db);
    const key = keys[`${a.id}:admin`] as string;
    const call = async (body: unknown, k = key) => {
      const res = await api(whatIfPost, k, "POST", body);
      return { status: res.status, error: ((await res.json()) as { error?: { field?: string } }).error };
    };
    expect(await call({ changes: [{ action_type: "LAUNCH_ROCKETS", mode: "DISABLED" }], ...period() })).toMatchObject({
      status: 422,
      error: { field: "changes.0.action_type" },
    });
    expect(await call({ changes: [{ mode: "DISABLED" }], from: "2026-01-01T00:00:00Z", to: "2026-06-01T00:00:00Z" })).toMatchObject({
      status: 422,
      error: { field: "to" },
    });
    expect(await call({ changes: [{ mode: "DISABLED" }], from: period().to, to: period().from })).toMatchObject({
      status: 422,
      error: { field: "to" },
    });
    expect(await call({ changes: [], ...period() })).toMatchObject({ status: 400, error: { field: "changes" } });
    expect(await call({ changes: Array.from({ length: 51 }, () => ({ mode: "DISABLED" })), ...period() })).toMatchObject({ status: 400 });
    expect(await call({ changes: [{ account_id: a.accounts.seller[0] }], ...period() })).toMatchObject({
      status: 422,
      error: { field: "changes.0" },
    });
    expect(await call({ changes: [{ account_id: b.accounts.seller[0], mode: "DISABLED" }], ...period() })).toMatchObject({
      status: 404,
      error: { field: "changes.0.account_id" },
    });
    expect(await call({ changes: [{ action_type: "SEND_EMAIL", allowlist: true }], ...period() })).toMatchObject({
      status: 422,
      error: { field: "changes.0.allowlist" },
    });
    expect((await call({ changes: [{ mode: "DISABLED" }], ...period() }, keys[`${a.id}:read`])).status).toBe(403);
    await expect(
      caller(a.seller).policyLab.whatIf({ changes: [{ mode: "DISABLED" }], from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await snapshot(t.db)).toEqual(before);
  });
});

describe(`log-only proposals (${TEST_PROVIDER})`, () => {
  const acct = () => a.accounts.seller[1] as string;

  it("a started proposal is seen by the very next evaluation; the active decision is unchanged; the report lists it", async () => {
    const mix = async () => {
      const out = [];
      for (const patch of [
        { actionType: TASK },
        { actionType: TASK, confidence: 0.5 },
        { actionType: NOTE },
        { actionType: FLAG },
      ] as Partial<IntentInput>[])
        out.push(await submit(a, acct(), { ...patch, parameters: { title: `mix ${Math.random()}` } }));
      return out;
    };
    const without = await mix();
    const res = await api(proposalsPost, keys[`${a.id}:admin`] as string, "POST", {
      name: "tasks need approval",
      changes: [{ action_type: TASK, mode: "APPROVAL_REQUIRED" }],
    });
    expect(res.status).toBe(201);
    const proposal = (await res.json()) as { id: string; status: string };
    expect(proposal.status).toBe("LOG_ONLY");
    const started = await t.db.ledgerEntry.findFirst({
      where: { tenantId: a.id, type: "POLICY_PROPOSAL_STARTED" },
      orderBy: { seq: "desc" },
    });
    expect(JSON.parse(started?.payload ?? "{}")).toMatchObject({
      proposal_id: proposal.id,
      changes: [{ action_type: TASK, mode: "APPROVAL_REQUIRED" }],
    });

    const next = await submit(a, acct(), { actionType: TASK, parameters: { title: "right after" } });
    expect(next.decision).toBe("AUTO_EXECUTE");
    expect(await t.db.logOnlyEvaluation.findMany({ where: { intentId: next.id } })).toMatchObject([
      {
        proposalId: proposal.id,
        tenantId: a.id,
        decision: "AUTO_EXECUTE",
        reason: "POLICY_SATISFIED",
        proposedDecision: "REQUIRE_APPROVAL",
        proposedReason: "MODE_APPROVAL_REQUIRED",
      },
    ]);
    const withIt = await mix();
    expect(withIt.map((d) => [d.decision, d.reason])).toEqual(without.map((d) => [d.decision, d.reason]));

    // another tenant's evaluations record nothing for it
    const other = await submit(b, b.accounts.seller[0] as string, { actionType: TASK });
    expect(await t.db.logOnlyEvaluation.count({ where: { intentId: other.id } })).toBe(0);

    const report = await api(reportGet, keys[`${a.id}:admin`] as string, "GET", undefined, { id: proposal.id }, "?limit=2");
    expect(report.status).toBe(200);
    const r = (await report.json()) as {
      evaluations: number;
      changed: number;
      reason_changed: number;
      by_action_type: { action_type: string; evaluations: number; changed: number; reason_changed: number; transitions: unknown[] }[];
      items: { action_intent_id: string; before: unknown; after: unknown }[];
      next_cursor: string | null;
    };
    expect(r.evaluations).toBe(5);
    expect(r.changed).toBe(2);
    expect(r.reason_changed).toBe(1);
    expect(r.by_action_type.find((x) => x.action_type === TASK)).toEqual({
      action_type: TASK,
      evaluations: 3,
      changed: 2,
      reason_changed: 1,
      transitions: [{ before: "AUTO_EXECUTE", after: "REQUIRE_APPROVAL", count: 2 }],
    });
    expect(r.items).toHaveLength(2);
    expect(new Set(r.items.map((i) => i.action_intent_id))).toEqual(new Set([next.id, withIt[0]?.id]));
    expect(r.next_cursor).toBeNull();

    // cross-tenant: 404 on the report and on enforce, nothing written
    expect((await api(reportGet, keys[`${b.id}:admin`] as string, "GET", undefined, { id: proposal.id })).status).toBe(404);
    expect((await api(enforcePost, keys[`${b.id}:admin`] as string, "POST", {}, { id: proposal.id })).status).toBe(404);
    await expect(caller(b.admin).policyLab.discard({ id: proposal.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const list = (await (await api(proposalsGet, keys[`${b.id}:admin`] as string, "GET")).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });

  it("at most 3 at once; discard stops recording at once; enforce of a widening needs a reason; enforce applies and ledgers", async () => {
    const admin = caller(a.admin);
    const active = (await admin.policyLab.proposals()).items.filter((p) => p.status === "LOG_ONLY");
    const extra = [];
    for (let i = active.length; i < 3; i++)
      extra.push(await admin.policyLab.start({ name: `p${i}`, changes: [{ action_type: NOTE, mode: "PROPOSE_ONLY" }] }));
    await expect(admin.policyLab.start({ name: "one too many", changes: [{ mode: "DISABLED" }] })).rejects.toMatchObject({
      code: "UNPROCESSABLE_CONTENT",
    });
    for (const p of extra) await admin.policyLab.discard({ id: p.id });
    const discarded = extra[0];
    if (discarded) {
      const after = await submit(a, acct(), { actionType: NOTE });
      expect(await t.db.logOnlyEvaluation.count({ where: { intentId: after.id, proposalId: discarded.id } })).toBe(0);
      await expect(admin.policyLab.enforce({ id: discarded.id, reason: "too late" })).rejects.toMatchObject({ code: "CONFLICT" });
    }

    const widen = await admin.policyLab.start({ name: "flags on autopilot", changes: [{ action_type: FLAG, allowlist: true }] });
    await expect(admin.policyLab.enforce({ id: widen.id })).rejects.toMatchObject({ code: "UNPROCESSABLE_CONTENT" });
    expect((await submit(a, acct(), { actionType: FLAG })).reason).toBe("ACTION_TYPE_NOT_ALLOWLISTED");
    await admin.policyLab.enforce({ id: widen.id, reason: "flags are harmless" });
    expect(await submit(a, acct(), { actionType: FLAG })).toMatchObject({ decision: "AUTO_EXECUTE" });

    const [tighten] = (await admin.policyLab.proposals()).items.filter((p) => p.status === "LOG_ONLY");
    expect(tighten?.name).toBe("tasks need approval");
    const ended = await admin.policyLab.enforce({ id: tighten?.id as string });
    expect(ended.status).toBe("ENFORCED");
    expect(await submit(a, acct(), { actionType: TASK })).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "MODE_APPROVAL_REQUIRED" });

    const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id }, orderBy: { seq: "desc" }, take: 40 });
    const endedEntry = entries.find((e) => e.type === "POLICY_PROPOSAL_ENDED" && JSON.parse(e.payload).proposal_id === tighten?.id);
    expect(JSON.parse(endedEntry?.payload ?? "{}")).toMatchObject({
      outcome: "ENFORCED",
      evaluations: expect.any(Number),
      changed: expect.any(Number),
    });
    expect(JSON.parse(endedEntry?.payload ?? "{}").changed).toBeGreaterThanOrEqual(2);
    const modeEntry = entries.find((e) => e.type === "CONFIG_CHANGED" && JSON.parse(e.payload).change === "autonomy_mode");
    expect(JSON.parse(modeEntry?.payload ?? "{}")).toMatchObject({ action_type: TASK, after: "APPROVAL_REQUIRED" });
    expect((await verifyLedger(t.db, a.id)).ok).toBe(true);
  });

  it("many concurrent starts in a fresh tenant: exactly 3 run, the rest are refused, each started one ledgered once", async () => {
    const c = await makeTenant(t.db);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => caller(c.admin).policyLab.start({ name: `race ${i}`, changes: [{ mode: "DISABLED" }] })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(3);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "UNPROCESSABLE_CONTENT" });
    expect(await t.db.policyProposal.count({ where: { tenantId: c.id, status: "LOG_ONLY" } })).toBe(3);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: c.id, type: "POLICY_PROPOSAL_STARTED" } })).toBe(3);
    expect((await verifyLedger(t.db, c.id)).ok).toBe(true);
  });
});
