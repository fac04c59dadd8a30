import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as budgetGet } from "@/app/api/v1/autonomy/budget/route";
import { POST as approvePost } from "@/app/api/v1/intents/[id]/approve/route";
import { POST as rejectPost } from "@/app/api/v1/intents/[id]/reject/route";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { createCaller } from "@/server/api/root";
import { systemClock } from "@/server/clock";
import { createApiKey } from "@/server/services/apiKeys";
import { requestRun } from "@/server/services/decisions";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { alwaysOn, drainQueue, runDecisionNow } from "../helpers/gate";

/**
 * The gate's safety promises proven on the paths production uses: `POST /api/v1/intents` (the
 * real route handler), tRPC (createCaller on the app router) and a decision run through the job
 * queue. Faults are injected INTO those paths with database triggers, never through a test-only
 * entry point.
 */

let t: TestDb;
let a: TestTenant;
const k = { ingest: "", approve: "", read: "" };
const INTERNAL = ["CREATE_INTERNAL_NOTE", "CREATE_INTERNAL_TASK", "FLAG_FOR_REVIEW", "GENERATE_MEETING_BRIEF", "DRAFT_EMAIL"];

// biome-ignore lint/suspicious/noExplicitAny: route handlers differ only in their params type
type Handler = (req: Request, ctx?: any) => Promise<Response>;
async function call(h: Handler, key: string, body?: unknown, opts: { id?: string; qs?: string } = {}) {
  const res = await h(
    new Request(`http://127.0.0.1/api/v1/x${opts.qs ? `?${opts.qs}` : ""}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { params: Promise.resolve({ id: opts.id ?? "" }) },
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string; field?: string } } };
}

const body = (accountId: string, patch: Record<string, unknown> = {}) => ({
  account_id: accountId,
  action_type: "CREATE_INTERNAL_TASK",
  confidence: 0.95,
  risk_level: "LOW",
  why: ["RENEWAL_WINDOW_ENTERED"],
  parameters: { title: `task ${randomUUID()}` },
  ...patch,
});
const post = (accountId: string, patch: Record<string, unknown> = {}) => call(intentsPost, k.ingest, body(accountId, patch));
const admin = () => createCaller({ db: t.db, clock: systemClock, session: a.admin.session });
const used = async (accountId: string) =>
  (await t.db.budgetUsage.findMany({ where: { tenantId: a.id, accountId } })).reduce((s, u) => s + u.consumed, 0);

/** A database fault on one table: every write of that kind fails inside the gate's transaction. */
async function withFault<T>(table: string, event: "INSERT" | "UPDATE", fn: () => Promise<T>): Promise<T> {
  const name = `fault_${table}_${event}`.toLowerCase();
  if (TEST_PROVIDER === "postgres") {
    await t.db.$executeRawUnsafe(
      `CREATE FUNCTION ${name}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql`,
    );
    await t.db.$executeRawUnsafe(`CREATE TRIGGER ${name} BEFORE ${event} ON "${table}" FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  } else {
    await t.db.$executeRawUnsafe(`CREATE TRIGGER ${name} BEFORE ${event} ON "${table}" BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
  }
  try {
    return await fn();
  } finally {
    await t.db.$executeRawUnsafe(`DROP TRIGGER ${name}${TEST_PROVIDER === "postgres" ? ` ON "${table}"` : ""}`);
    if (TEST_PROVIDER === "postgres") await t.db.$executeRawUnsafe(`DROP FUNCTION ${name}()`);
  }
}

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  const key = async (scopes: ("ingest" | "approve" | "read")[]) =>
    (await createApiKey(t.db, { tenantId: a.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)).key;
  k.ingest = await key(["ingest"]);
  k.approve = await key(["approve"]);
  k.read = await key(["read"]);
  await admin().autonomy.setAllowlist({ actionTypes: INTERNAL });
  await admin().autonomy.setMode({ mode: "AUTO_EXECUTE" });
  await admin().autonomy.setBudget({ maxPerDay: 1000 });
  await admin().decisions.saveSettings({ costGate: { minSecondsBetweenRuns: 0, maxOpenIntents: 1000 } });
});
afterAll(() => t.cleanup());

describe(`fail-closed on the production path (${TEST_PROVIDER})`, () => {
  it.each([
    ["PolicyEvaluation", "INSERT"],
    ["BudgetUsage", "UPDATE"],
    ["Execution", "INSERT"],
    ["ToolCall", "INSERT"],
    ["InternalArtifact", "INSERT"],
    ["Outcome", "INSERT"],
  ] as const)(
    "a fault on %s %s → REST answers REQUIRE_APPROVAL / GATE_ERROR; nothing executed, no budget used, ledgered",
    async (table, event) => {
      const account = a.accounts.seller[0] as string;
      expect((await post(account)).json).toMatchObject({ decision: "AUTO_EXECUTE" }); // autonomous without the fault
      const before = { used: await used(account), execs: await t.db.execution.count({ where: { tenantId: a.id } }) };
      const r = await withFault(table, event, () => post(account));
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "GATE_ERROR", status: "PENDING_APPROVAL", execution_id: null });
      expect(await used(account)).toBe(before.used);
      expect(await t.db.execution.count({ where: { tenantId: a.id } })).toBe(before.execs);
      const entries = await t.db.ledgerEntry.findMany({
        where: { tenantId: a.id, payload: { contains: r.json.action_intent_id as string } },
        orderBy: { seq: "asc" },
      });
      expect(entries.map((e) => e.type)).toEqual(["INTENT_PROPOSED", "POLICY_EVALUATED", "APPROVAL_REQUESTED"]);
      expect(JSON.parse(entries[1]?.payload ?? "{}")).toMatchObject({ reason: "GATE_ERROR", error_kind: expect.any(String) });
      // The seller sees it in the inbox (tRPC), waiting with that reason.
      const inbox = await createCaller({ db: t.db, clock: systemClock, session: a.seller.session }).work.inbox({ limit: 100 });
      expect(inbox.items.find((i) => i.id === r.json.action_intent_id)).toMatchObject({ reason: "GATE_ERROR" });
    },
  );

  it.each(["KillSwitch", "AllowlistEntry", "AutonomyConfig", "AutonomyBudget"])(
    "the %s table unreadable (renamed) → GATE_ERROR, never 'no rows' and never AUTO_EXECUTE",
    async (table) => {
      const account = a.accounts.seller[0] as string;
      // A configuration write, so the next admission must read the tables rather than its cache.
      await admin().autonomy.setMode({ actionType: "CREATE_INTERNAL_NOTE", mode: null });
      const usedBefore = await used(account);
      await t.db.$executeRawUnsafe(`ALTER TABLE "${table}" RENAME TO "${table}_gone"`);
      try {
        const r = await post(account);
        expect(r.json).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "GATE_ERROR", execution_id: null });
      } finally {
        await t.db.$executeRawUnsafe(`ALTER TABLE "${table}_gone" RENAME TO "${table}"`);
      }
      expect(await used(account)).toBe(usedBefore);
      expect((await post(account)).json).toMatchObject({ decision: "AUTO_EXECUTE" });
    },
  );

  it("a fault during a decision run (job queue → synthesizer → submitIntent) never auto-executes", async () => {
    const account = a.accounts.seller[1] as string;
    // Opted in to always-on, so the fault (not NOT_OPTED_IN) is what stops the autonomous proposals.
    await alwaysOn(t.db, a.admin.viewer, [account]);
    const drain = () => drainQueue(t.db);
    const execsBefore = await t.db.execution.count({ where: { tenantId: a.id } });
    const { runId } = await withFault("Execution", "INSERT", async () => {
      const req = await requestRun(
        t.db,
        a.admin.viewer,
        { accountId: account, triggerType: "TIME_RITUAL_WEEKLY_REVIEW", idempotencyKey: randomUUID() },
        systemClock,
      );
      await drain();
      return req;
    });
    const run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.costGateResult).toBe("ALLOW");
    const intents = await t.db.actionIntent.findMany({ where: { tenantId: a.id, accountId: account } });
    expect(intents.length).toBeGreaterThan(0);
    expect(intents.every((i) => i.decision !== "AUTO_EXECUTE")).toBe(true);
    // Internal proposals that policy would have auto-executed were caught by the fault instead.
    expect(intents.some((i) => i.reason === "GATE_ERROR")).toBe(true);
    expect(await t.db.execution.count({ where: { tenantId: a.id } })).toBe(execsBefore);
  });

  it("a corrupt per-type cap row fails closed (GATE_ERROR with the reason) and GET /autonomy/budget answers 200 naming the problem", async () => {
    const account = a.accounts.seller2[0] as string;
    await admin().autonomy.setBudget({ accountId: account, maxPerDay: 10, perTypeCaps: { CREATE_INTERNAL_TASK: 5 } });
    expect((await post(account)).json).toMatchObject({ decision: "AUTO_EXECUTE" });
    await t.db.autonomyBudget.updateMany({ where: { tenantId: a.id, accountKey: account }, data: { perTypeCaps: "{not json" } });
    // Bump the version as a config write would, so the cache does not hide the damaged row.
    await admin().autonomy.setKillSwitch({ scope: "ACTION_TYPE", key: "SEND_EMAIL", enabled: false, reason: "touch" });
    const usedBefore = await used(account);
    const r = await post(account);
    expect(r.json).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "GATE_ERROR", execution_id: null });
    expect(r.json.explanation).toContain("damaged");
    expect(await used(account)).toBe(usedBefore);
    const budget = await call(budgetGet, k.read, undefined, { qs: `account_id=${account}` });
    expect(budget.status).toBe(200);
    expect(budget.json).toMatchObject({ remaining_today: 0, problem: expect.stringContaining("unreadable") });
    expect(await admin().autonomy.budget({ accountId: account })).toMatchObject({ remainingToday: 0, problem: expect.any(String) });
    // Saving the budget again repairs it.
    await admin().autonomy.setBudget({ accountId: account, maxPerDay: 10 });
    expect((await post(account)).json).toMatchObject({ decision: "AUTO_EXECUTE" });
  });
  it("unreadable stored decision settings hold decision runs (SKIP) instead of falling back to wider defaults", async () => {
    const account = a.accounts.seller2[2] as string;
    await t.db.decisionSettings.updateMany({ where: { tenantId: a.id }, data: { costGate: "{broken" } });
    expect((await admin().decisions.settings()).problem).toContain("cost gate");
    const runId = await runDecisionNow(t.db, a.admin.viewer, account);
    expect(await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } })).toMatchObject({ costGateResult: "SKIP" });
    expect(await t.db.actionIntent.count({ where: { tenantId: a.id, accountId: account } })).toBe(0);
    await admin().decisions.saveSettings({ costGate: { maxRunsPerDay: 500, minSecondsBetweenRuns: 0, maxOpenIntents: 1000 } });
    expect((await admin().decisions.settings()).problem).toBeNull();
  });
});

describe(`reserve first, budgets and kill switches under concurrency (${TEST_PROVIDER})`, () => {
  it("20 concurrent REST repeats of one idempotency key: one intent, one execution, the budget consumed once", async () => {
    const account = a.accounts.seller[2] as string;
    const before = await used(account);
    const same = body(account, { idempotency_key: "reserve-1", parameters: { title: "once" } });
    const results = await Promise.all(Array.from({ length: 20 }, () => call(intentsPost, k.ingest, same)));
    expect(new Set(results.map((r) => r.json.action_intent_id)).size).toBe(1);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200 && r.json.duplicate === true)).toHaveLength(19);
    expect(await used(account)).toBe(before + 1);
    expect(await t.db.execution.count({ where: { intentId: results[0]?.json.action_intent_id as string } })).toBe(1);
  });

  it("budget 5, 40 concurrent REST intents → exactly 5 executions; the rest wait in the inbox with BUDGET_EXHAUSTED", async () => {
    const account = a.accounts.seller2[1] as string;
    await admin().autonomy.setBudget({ accountId: account, maxPerDay: 5 });
    const results = await Promise.all(Array.from({ length: 40 }, () => post(account, { action_type: "FLAG_FOR_REVIEW" })));
    expect(results.filter((r) => r.json.status === "SUCCEEDED")).toHaveLength(5);
    const waiting = results.filter((r) => r.json.reason === "BUDGET_EXHAUSTED");
    expect(waiting).toHaveLength(35);
    expect(waiting.every((r) => r.json.decision === "REQUIRE_APPROVAL" && r.json.execution_id === null)).toBe(true);
    expect(await t.db.execution.count({ where: { intentId: { in: results.map((r) => r.json.action_intent_id as string) } } })).toBe(5);
    const inbox = await createCaller({ db: t.db, clock: systemClock, session: a.seller2.session }).work.inbox({ limit: 100 });
    const shown = inbox.items.filter((i) => waiting.some((w) => w.json.action_intent_id === i.id));
    expect(shown).toHaveLength(35);
    expect(shown.every((i) => i.reason === "BUDGET_EXHAUSTED")).toBe(true);
  });

  it("a kill switch turned on while intents are in flight: no execution commits after the switch's transaction", async () => {
    const account = a.accounts.admin[0] as string;
    // Intents keep arriving every few milliseconds from before the switch until after it
    // committed, so some are in flight (and some in an admission group) while it commits.
    const inflight: Promise<{ status: number; json: Record<string, unknown> }>[] = [];
    const send = () => inflight.push(post(account, { action_type: "CREATE_INTERNAL_NOTE" }));
    for (let i = 0; i < 8; i++) send();
    await Promise.all(inflight.slice(0, 4));
    let switched = false;
    const kill = admin()
      .autonomy.setKillSwitch({ scope: "TENANT", enabled: true, reason: "mid-flight stop" })
      .then(() => {
        switched = true;
      });
    for (let after = 0; after < 5; after += switched ? 1 : 0) {
      send();
      await new Promise((r) => setTimeout(r, 2));
    }
    await kill;
    const results = await Promise.all(inflight);
    try {
      // Ledger order is commit order (appenders serialise on the chain head).
      const ks = await t.db.ledgerEntry.findFirstOrThrow({
        where: { tenantId: a.id, type: "KILL_SWITCH_CHANGED", payload: { contains: "mid-flight stop" } },
      });
      const ids = results.map((r) => r.json.action_intent_id as string);
      const started = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "EXECUTION_STARTED" } });
      const ours = started.filter((e) => ids.some((id) => e.payload.includes(id)));
      expect(ours.every((e) => e.seq < ks.seq)).toBe(true);
      const proposedAfter = (
        await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "INTENT_PROPOSED", seq: { gt: ks.seq } } })
      ).filter((e) => ids.some((id) => e.payload.includes(id)));
      for (const e of proposedAfter) {
        const id = JSON.parse(e.payload).action_intent_id as string;
        expect(results.find((r) => r.json.action_intent_id === id)?.json).toMatchObject({
          reason: "KILL_SWITCH_ACTIVE",
          execution_id: null,
        });
      }
      // Both sides of the switch were exercised, or the test proves nothing.
      expect(ours.length).toBeGreaterThan(0);
      expect(proposedAfter.length).toBeGreaterThan(0);
    } finally {
      await admin().autonomy.setKillSwitch({ scope: "TENANT", enabled: false, reason: "resume" });
    }
  });
});

describe(`409s (${TEST_PROVIDER})`, () => {
  it("an idempotency key reused with a different body → 409 naming idempotency_key; the same body → the same intent", async () => {
    const account = a.accounts.seller[0] as string;
    const first = await call(intentsPost, k.ingest, body(account, { idempotency_key: "k-409", parameters: { title: "A" } }));
    expect(first.status).toBe(201);
    const again = await call(intentsPost, k.ingest, body(account, { idempotency_key: "k-409", parameters: { title: "A" } }));
    expect(again).toMatchObject({ status: 200, json: { action_intent_id: first.json.action_intent_id, duplicate: true } });
    const other = await call(intentsPost, k.ingest, body(account, { idempotency_key: "k-409", parameters: { title: "B" } }));
    expect(other.status).toBe(409);
    expect(other.json.error).toMatchObject({ code: "CONFLICT", field: "idempotency_key" });
    expect(await t.db.actionIntent.count({ where: { tenantId: a.id, idempotencyKey: "k-409" } })).toBe(1);
  });

  async function pendingDraft() {
    const r = await post(a.accounts.seller[0] as string, {
      action_type: "DRAFT_EMAIL",
      confidence: 0.5,
      parameters: { to: "cfo@x.example", subject: "Renewal", body: "Hi" },
    });
    expect(r.json.status).toBe("PENDING_APPROVAL");
    return r.json.action_intent_id as string;
  }

  it("approving or rejecting an already decided intent → 409 over REST and tRPC", async () => {
    const id = await pendingDraft();
    expect((await call(approvePost, k.approve, { actor: "ops" }, { id })).status).toBe(200);
    expect((await call(approvePost, k.approve, { actor: "ops" }, { id })).status).toBe(409);
    expect((await call(rejectPost, k.approve, { reason: "late", actor: "ops" }, { id })).status).toBe(409);
    const seller = createCaller({ db: t.db, clock: systemClock, session: a.seller.session });
    await expect(seller.work.approve({ id })).rejects.toMatchObject({ code: "CONFLICT" });
    const rejected = await pendingDraft();
    await seller.work.reject({ id: rejected, reason: "no" });
    await expect(seller.work.reject({ id: rejected, reason: "no" })).rejects.toMatchObject({ code: "CONFLICT" });
    expect((await call(rejectPost, k.approve, { reason: "again", actor: "ops" }, { id: rejected })).status).toBe(409);
    await drainQueue(t.db);
    expect(await t.db.execution.count({ where: { intentId: id } })).toBe(1);
  });

  it.each(["tRPC", "REST"] as const)(
    "ten concurrent edit-then-approves via %s: one edited:true, nine 409s, one edit, one execution",
    async (via) => {
      const id = await pendingDraft();
      const seller = createCaller({ db: t.db, clock: systemClock, session: a.seller.session });
      const attempts = Array.from({ length: 10 }, (_, i) =>
        via === "tRPC"
          ? seller.work
              .approve({ id, editedParameters: { subject: `edit ${i}` } })
              .then((v) => ({ ok: true as const, edited: v.edited }))
              .catch((e: { code?: string }) => ({ ok: false as const, code: e.code }))
          : call(approvePost, k.approve, { actor: "ops", edited_parameters: { subject: `edit ${i}` } }, { id }).then((r) =>
              r.status === 200
                ? { ok: true as const, edited: r.json.edited }
                : { ok: false as const, code: r.status === 409 ? "CONFLICT" : String(r.status) },
            ),
      );
      const outs = await Promise.all(attempts);
      expect(outs.filter((o) => o.ok && o.edited === true)).toHaveLength(1);
      expect(outs.filter((o) => !o.ok && o.code === "CONFLICT")).toHaveLength(9);
      const versions = await t.db.actionIntent.findMany({ where: { tenantId: a.id, parentId: id } });
      expect(versions).toHaveLength(1);
      expect(await t.db.intentReview.count({ where: { intentId: id } })).toBe(1);
      await drainQueue(t.db);
      expect(await t.db.execution.count({ where: { intentId: { in: [id, ...versions.map((v) => v.id)] } } })).toBe(1);
    },
  );

  it("the ledger verifies after all of it", async () => {
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });
});
