import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "@/server/api/root";
import { systemClock } from "@/server/clock";
import { createDb, type Db } from "@/server/db";
import { AppError } from "@/server/errors";
import { type IntentInput, submitIntent } from "@/server/services/gate";
import { GroupCommit, type Settled } from "@/server/services/groupCommit";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/** A runner that records the batches it was given and answers each item on its own. */
function recorder(answer: (n: number) => Settled<number> = (n) => ({ ok: true, value: n * 10 })) {
  const batches: number[][] = [];
  let release: () => void = () => {};
  let gate: Promise<void> | null = null;
  const run = async (items: number[]) => {
    batches.push(items);
    if (gate) await gate;
    return items.map(answer);
  };
  return {
    batches,
    run,
    hold() {
      gate = new Promise<void>((r) => {
        release = r;
      });
    },
    release: () => {
      gate = null;
      release();
    },
  };
}

describe("GroupCommit", () => {
  it("gathers requests of one turn into one batch and answers each with its own value", async () => {
    const r = recorder();
    const g = new GroupCommit(r.run, 64);
    const answers = await Promise.all([1, 2, 3].map((n) => g.submit("t", n)));
    expect(answers).toEqual([10, 20, 30]);
    expect(r.batches).toEqual([[1, 2, 3]]);
  });

  it("keeps keys apart: another key's requests never share a batch", async () => {
    const r = recorder();
    const g = new GroupCommit(r.run, 64);
    await Promise.all([g.submit("a", 1), g.submit("b", 2), g.submit("a", 3)]);
    expect(r.batches.sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0))).toEqual([[1, 3], [2]]);
  });

  it("runs one batch per key at a time; requests arriving meanwhile form the next batch, cut at maxBatch", async () => {
    const r = recorder();
    const g = new GroupCommit(r.run, 2);
    r.hold();
    const first = g.submit("t", 1);
    await new Promise((res) => setImmediate(res));
    expect(r.batches).toEqual([[1]]);
    const later = [2, 3, 4].map((n) => g.submit("t", n));
    await new Promise((res) => setImmediate(res));
    // still only the first batch: the others wait for it to finish
    expect(r.batches).toEqual([[1]]);
    r.release();
    expect(await Promise.all([first, ...later])).toEqual([10, 20, 30, 40]);
    expect(r.batches).toEqual([[1], [2, 3], [4]]);
  });

  it("fails only the request whose answer is a failure; a throwing runner fails its whole batch", async () => {
    const r = recorder((n) => (n === 2 ? { ok: false, error: new Error("bad 2") } : { ok: true, value: n }));
    const g = new GroupCommit(r.run, 64);
    const results = await Promise.allSettled([1, 2, 3].map((n) => g.submit("t", n)));
    expect(results.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const boom = new GroupCommit<number, number>(async () => {
      throw new Error("boom");
    });
    const all = await Promise.allSettled([boom.submit("t", 1), boom.submit("t", 2)]);
    expect(all.map((x) => (x.status === "rejected" ? (x.reason as Error).message : "ok"))).toEqual(["boom", "boom"]);
  });
});

/**
 * The gate's group commit on a real database (both providers): concurrent submissions through
 * `submitIntent` — what `POST /api/v1/intents` and decision runs call — are admitted in groups,
 * and each still gets its own decision, budget unit, failure and answer.
 */
describe(`gate admissions in groups (${TEST_PROVIDER})`, () => {
  let t: TestDb;
  let db: Db;
  let a: TestTenant;
  let b: TestTenant;
  const statements: string[] = [];

  beforeAll(async () => {
    t = await freshDb();
    // A second client on the same database that records every statement it runs.
    db = createDb(t.url, { observe: (s) => statements.push(s.sql) });
    a = await makeTenant(db);
    b = await makeTenant(db);
    for (const x of [a, b]) {
      const admin = createCaller({ db, clock: systemClock, session: x.admin.session });
      await admin.autonomy.setAllowlist({ actionTypes: ["CREATE_INTERNAL_TASK"] });
      await admin.autonomy.setMode({ mode: "AUTO_EXECUTE" });
      await admin.autonomy.setBudget({ maxPerDay: 1000 });
    }
  });
  afterAll(async () => {
    await db.$disconnect();
    await t.cleanup();
  });

  const deps = () => ({ db, clock: systemClock, connectors: { smtp: null } });
  const intent = (accountId: string, patch: Partial<IntentInput> = {}): IntentInput => ({
    accountId,
    actionType: "CREATE_INTERNAL_TASK",
    confidence: 0.95,
    riskLevel: "LOW",
    why: ["RENEWAL_WINDOW_ENTERED"],
    parameters: { title: `task ${randomUUID()}` },
    target: {},
    blockingUnknowns: [],
    source: "API",
    ...patch,
  });
  /** Statements that inserted intents (one per group, or one per intent when admitted alone). */
  const intentInserts = () => statements.filter((sql) => /^INSERT INTO [^(]*ActionIntent\W*\(/.test(sql)).length;

  it("60 concurrent submissions for two tenants: fewer intent inserts than intents (grouped), every answer its own, budgets exact, both ledgers verify", async () => {
    const budgeted = a.accounts.admin[0] as string;
    await createCaller({ db, clock: systemClock, session: a.admin.session }).autonomy.setBudget({ accountId: budgeted, maxPerDay: 12 });
    const key = `k-${randomUUID()}`;
    const keyed = intent(a.accounts.admin[1] as string, { idempotencyKey: key, parameters: { title: "keyed" } });
    const jobs: { kind: string; run: () => Promise<unknown> }[] = [
      // 20 on an account whose budget holds 12: exactly 12 execute, first come first served
      ...Array.from({ length: 20 }, () => ({ kind: "budgeted", run: () => submitIntent(deps(), a.admin.viewer, intent(budgeted)) })),
      // 4 for an account that does not exist, 4 by a seller on an account they do not own
      ...Array.from({ length: 4 }, () => ({ kind: "missing", run: () => submitIntent(deps(), a.admin.viewer, intent(randomUUID())) })),
      ...Array.from({ length: 4 }, () => ({
        kind: "hidden",
        run: () => submitIntent(deps(), a.seller.viewer, intent(a.accounts.seller2[0] as string)),
      })),
      // 6 with one idempotency key: one intent, five duplicates of it
      ...Array.from({ length: 6 }, () => ({ kind: "keyed", run: () => submitIntent(deps(), a.admin.viewer, keyed) })),
      // 16 plain ones for A and 10 for B at the same time
      ...Array.from({ length: 16 }, () => ({
        kind: "plain",
        run: () => submitIntent(deps(), a.seller.viewer, intent(a.accounts.seller[0] as string)),
      })),
      ...Array.from({ length: 10 }, () => ({
        kind: "tenantB",
        run: () => submitIntent(deps(), b.admin.viewer, intent(b.accounts.admin[0] as string)),
      })),
    ];
    const insertsBefore = intentInserts();
    const settled = await Promise.allSettled(jobs.map((j) => j.run()));
    const of = (kind: string) =>
      settled.filter((_, i) => jobs[i]?.kind === kind) as PromiseSettledResult<Awaited<ReturnType<typeof submitIntent>>>[];
    const values = (kind: string) => of(kind).map((s) => (s.status === "fulfilled" ? s.value : null));

    const budgeted20 = values("budgeted");
    expect(budgeted20.filter((v) => v?.status === "SUCCEEDED")).toHaveLength(12);
    expect(budgeted20.filter((v) => v?.reason === "BUDGET_EXHAUSTED" && v.executionId === null)).toHaveLength(8);
    for (const kind of ["missing", "hidden"]) {
      expect(of(kind).every((s) => s.status === "rejected" && s.reason instanceof AppError && s.reason.code === "NOT_FOUND")).toBe(true);
    }
    const keyedAnswers = values("keyed");
    expect(new Set(keyedAnswers.map((v) => v?.actionIntentId)).size).toBe(1);
    expect(keyedAnswers.filter((v) => v?.duplicate === false)).toHaveLength(1);
    expect(values("plain").every((v) => v?.status === "SUCCEEDED" && v.executionId !== null)).toBe(true);
    expect(values("tenantB").every((v) => v?.status === "SUCCEEDED")).toBe(true);

    // Grouped: the 44 stored intents went in with fewer multi-row inserts than intents.
    const stored = 20 + 1 + 16 + 10;
    expect(intentInserts() - insertsBefore).toBeLessThan(stored);
    expect(intentInserts() - insertsBefore).toBeGreaterThan(0);

    const used = await db.budgetUsage.findMany({ where: { tenantId: a.id, accountId: budgeted } });
    expect(used.find((u) => u.actionType === "")?.consumed).toBe(12);
    // Every answer's intent exists once, in its own tenant, with its own story in the ledger.
    const aIds = [...budgeted20, ...keyedAnswers.slice(0, 1), ...values("plain")].map((v) => v?.actionIntentId as string);
    const bIds = values("tenantB").map((v) => v?.actionIntentId as string);
    expect(await db.actionIntent.count({ where: { tenantId: a.id, id: { in: aIds } } })).toBe(aIds.length);
    expect(await db.execution.count({ where: { tenantId: a.id, intentId: { in: aIds } } })).toBe(12 + 1 + 16);
    expect(await db.actionIntent.count({ where: { tenantId: b.id, id: { in: bIds } } })).toBe(bIds.length);
    expect(await db.actionIntent.count({ where: { tenantId: b.id, id: { in: aIds } } })).toBe(0);
    const bLedger = await db.ledgerEntry.findMany({ where: { tenantId: b.id } });
    expect(bLedger.some((e) => aIds.some((id) => e.payload.includes(id)))).toBe(false);
    for (const id of bIds) expect(bLedger.filter((e) => e.type === "INTENT_PROPOSED" && e.payload.includes(id))).toHaveLength(1);
    for (const x of [a, b]) {
      const v = await verifyLedger(db, x.id);
      expect(v.ok).toBe(true);
      const seqs = (await db.ledgerEntry.findMany({ where: { tenantId: x.id }, select: { seq: true }, orderBy: { seq: "asc" } })).map(
        (e) => e.seq,
      );
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
  });

  it("a poisoned intent in a group fails closed alone (GATE_ERROR); its neighbours still auto-execute", async () => {
    const table = "ToolCall";
    const name = "fault_poison";
    if (TEST_PROVIDER === "postgres") {
      await db.$executeRawUnsafe(
        `CREATE FUNCTION ${name}() RETURNS trigger AS $$ BEGIN IF NEW.request LIKE '%poison%' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
      );
      await db.$executeRawUnsafe(`CREATE TRIGGER ${name} BEFORE INSERT ON "${table}" FOR EACH ROW EXECUTE FUNCTION ${name}()`);
    } else {
      await db.$executeRawUnsafe(
        `CREATE TRIGGER ${name} BEFORE INSERT ON "${table}" WHEN NEW.request LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
      );
    }
    try {
      const account = a.accounts.admin[2] as string;
      const inserts = intentInserts();
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          submitIntent(deps(), a.admin.viewer, intent(account, { parameters: { title: i === 5 ? "poison" : `fine ${i}` } })),
        ),
      );
      expect(answers[5]).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "GATE_ERROR", executionId: null });
      expect(answers.filter((x, i) => i !== 5 && x.status === "SUCCEEDED" && x.executionId !== null)).toHaveLength(11);
      // The group was tried together first (one insert for many), then each alone.
      expect(intentInserts() - inserts).toBeGreaterThan(12);
      expect((await verifyLedger(db, a.id)).ok).toBe(true);
      const poisoned = await db.budgetUsage.findMany({ where: { tenantId: a.id, accountId: account } });
      expect(poisoned.find((u) => u.actionType === "")?.consumed).toBe(11);
    } finally {
      await db.$executeRawUnsafe(`DROP TRIGGER ${name}${TEST_PROVIDER === "postgres" ? ` ON "${table}"` : ""}`);
      if (TEST_PROVIDER === "postgres") await db.$executeRawUnsafe(`DROP FUNCTION ${name}()`);
    }
  });
});
