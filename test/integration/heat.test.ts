import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as getAccount } from "@/app/api/v1/accounts/[id]/route";
import { GET as listAccountsRest } from "@/app/api/v1/accounts/route";
import { GET as heatRest } from "@/app/api/v1/perception/heat/route";
import { createCaller } from "@/server/api/root";
import { fixedClock } from "@/server/clock";
import { DEFAULT_HEAT_SETTINGS } from "@/server/engine/heat";
import { JOBS, type JobDeps } from "@/server/jobs/registry";
import { markHeatDirty } from "@/server/repos/heat";
import type { Viewer } from "@/server/repos/scope";
import { updateCrmAccount } from "@/server/services/accounts";
import { createApiKey } from "@/server/services/apiKeys";
import { executeRun, requestRun } from "@/server/services/decisions";
import { runHeatTick } from "@/server/services/heat";
import { verifyLedger } from "@/server/services/ledger";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { ingestSignal } from "@/server/services/signals";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant, type TestUser } from "../helpers/factory";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const H = 3_600_000;
const clock = fixedClock("2026-05-04T08:00:00Z");
const jobDeps = (): JobDeps => ({ db: t.db, clock, synthesizer: rulesSynthesizer, connectors: { smtp: null }, workerId: "heat-test" });
const system = (tenant: TestTenant): Viewer => ({ tenantId: tenant.id, actor: { type: "SYSTEM", id: "test" }, role: null, userId: null });
let n = 0;
const push = (tenant: TestTenant, accountId: string, severity: "low" | "medium" | "high" | "critical") =>
  ingestSignal(
    t.db,
    system(tenant),
    { accountId, signalType: "USAGE_TREND_CHANGE", severity, evidence: { n: n++ }, dedupeKey: `heat-${n}`, source: "test" },
    clock,
  );
const heatRow = (tenant: TestTenant, accountId: string) =>
  t.db.accountHeat.findUnique({ where: { tenantId_accountId: { tenantId: tenant.id, accountId } } });
const tierChanges = (tenant: TestTenant, accountId: string) =>
  t.db.ledgerEntry.findMany({ where: { tenantId: tenant.id, accountId, type: "HEAT_TIER_CHANGED" }, orderBy: { seq: "asc" } });

beforeAll(async () => {
  t = await freshDb();
  // The route modules use the process-wide client; point it at this file's database.
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

describe(`heat job on ${TEST_PROVIDER}`, () => {
  it("a burst of high-severity signals through the real intake makes an account HOT after the heat job, ledgered with the numbers", async () => {
    const acc = a.accounts.seller[0] as string;
    for (const _ of [1, 2, 3]) {
      await push(a, acc, "high");
      clock.advance(5 * 60_000);
    }
    // Before the job runs the row is only marked: not a measurement yet.
    expect(await heatRow(a, acc)).toMatchObject({ tier: "COLD", computedAt: null });
    expect((await heatRow(a, acc))?.dirtyAt).not.toBeNull();
    const res = await JOBS.heat.run(jobDeps());
    expect(res).toMatchObject({ ok: true, computed: 1, tierChanges: 1 });
    const row = await heatRow(a, acc);
    expect(row).toMatchObject({ tier: "HOT", dirtyAt: null, computedAt: clock.now(), pendingTier: null });
    expect(row?.score).toBeGreaterThanOrEqual(DEFAULT_HEAT_SETTINGS.thresholds.HOT.enter);
    // HOT since the third signal arrived, not since the job happened to look.
    expect(row?.since).toEqual(new Date(clock.now().getTime() - 5 * 60_000));
    expect(row?.recheckAt?.getTime()).toBeGreaterThan(clock.now().getTime());
    const [entry, ...more] = await tierChanges(a, acc);
    expect(more).toEqual([]);
    expect(JSON.parse(entry?.payload ?? "{}")).toEqual({
      from: "COLD",
      to: "HOT",
      score: expect.any(Number),
      previous_score: 0,
      signals_in_window: 3,
      window_hours: DEFAULT_HEAT_SETTINGS.promotionWindowHours,
      rule: "PROMOTION",
      // held since the first signal: alone it already pointed at WARM, short of N
      held_since: new Date(clock.now().getTime() - 15 * 60_000).toISOString(),
      at: row?.since.toISOString(),
    });
    expect(entry).toMatchObject({ actorType: "SYSTEM", actorId: "heat", accountId: acc });
    const rollups = await t.db.heatRollup.findMany({ where: { tenantId: a.id, accountId: acc } });
    expect(rollups).toEqual([expect.objectContaining({ day: clock.now().toISOString().slice(0, 10), tier: "HOT", lastScore: row?.score })]);
    expect((await verifyLedger(t.db, a.id)).ok).toBe(true);
  });

  it("one low signal does not promote a COLD account (computed, still COLD, nothing ledgered)", async () => {
    const acc = a.accounts.seller[1] as string;
    await push(a, acc, "low");
    await JOBS.heat.run(jobDeps());
    const row = await heatRow(a, acc);
    expect(row).toMatchObject({ tier: "COLD", dirtyAt: null, recheckAt: null });
    expect(row?.computedAt).toEqual(clock.now());
    expect(row?.score).toBeGreaterThan(0);
    expect(await tierChanges(a, acc)).toEqual([]);
  });

  it("the job recomputes only dirty or due accounts: an untouched account's row is not rewritten", async () => {
    const quiet = a.accounts.seller[1] as string;
    const before = await heatRow(a, quiet);
    const beforeRollups = await t.db.heatRollup.findMany({ where: { tenantId: a.id, accountId: quiet } });
    clock.advance(60_000);
    const busy = a.accounts.seller2[0] as string;
    await push(a, busy, "medium");
    const res = await runHeatTick({ db: t.db, clock });
    expect(res.computed).toBe(1);
    expect(await heatRow(a, quiet)).toEqual(before);
    expect(await t.db.heatRollup.findMany({ where: { tenantId: a.id, accountId: quiet } })).toEqual(beforeRollups);
    expect((await heatRow(a, busy))?.computedAt).toEqual(clock.now());
    // Nothing dirty and nothing due: a tick touches nothing at all.
    expect(await runHeatTick({ db: t.db, clock })).toMatchObject({ computed: 0, pages: 0 });
  });

  it("time alone demotes at recheckAt: the due row is revisited and the DEMOTION ledgered after the cooldown", async () => {
    const acc = a.accounts.seller[0] as string;
    const row = await heatRow(a, acc);
    const due = row?.recheckAt as Date;
    clock.set(new Date(due.getTime() - 1));
    expect(await runHeatTick({ db: t.db, clock })).toMatchObject({ tierChanges: 0 });
    expect((await heatRow(a, acc))?.tier).toBe("HOT");
    clock.set(due);
    expect(await runHeatTick({ db: t.db, clock })).toMatchObject({ tierChanges: 1 });
    const after = await heatRow(a, acc);
    expect(after?.tier).toBe("WARM");
    const changes = await tierChanges(a, acc);
    const demotion = JSON.parse(changes.at(-1)?.payload ?? "{}");
    expect(demotion).toMatchObject({ from: "HOT", to: "WARM", rule: "DEMOTION", previous_score: row?.score });
    expect(new Date(demotion.at).getTime() - new Date(demotion.held_since).getTime()).toBe(DEFAULT_HEAT_SETTINGS.cooldownHours * H);
    expect(demotion.score).toBeLessThan(DEFAULT_HEAT_SETTINGS.thresholds.HOT.exit);
  });

  it("a mark re-made during the tick is kept (dirtyAt is cleared only if unchanged); a late-committed signal is counted once", async () => {
    const acc = a.accounts.admin[0] as string;
    await push(a, acc, "medium");
    const now = clock.now();
    // A signal whose transaction began a minute ago and committed after the job read: it carries
    // its own (earlier) receivedAt and mark. Simulated by writing both after a computation.
    await runHeatTick({ db: t.db, clock });
    const computed = await heatRow(a, acc);
    const lateAt = new Date(now.getTime() - 60_000);
    await t.db.signal.create({
      data: {
        tenantId: a.id,
        accountId: acc,
        type: "USAGE_TREND_CHANGE",
        severity: "medium",
        dedupeKey: "late-one",
        source: "test",
        correlationId: "late",
        occurredAt: lateAt,
        receivedAt: lateAt,
      },
    });
    await markHeatDirty(t.db, a.id, acc, lateAt);
    clock.advance(1000);
    await runHeatTick({ db: t.db, clock });
    const rebuilt = await heatRow(a, acc);
    expect(rebuilt?.dirtyAt).toBeNull();
    // Two medium signals ≈ a minute apart: mass ≈ 2 (not 1: the late one was missed; not 3: double counted).
    expect(computed?.mass).toBeCloseTo(1, 3);
    expect(rebuilt?.mass).toBeGreaterThan(1.99);
    expect(rebuilt?.mass).toBeLessThan(2.01);
    // A mark later than the tick's clock is an input not yet folded: the row stays dirty.
    const future = new Date(clock.now().getTime() + H);
    await markHeatDirty(t.db, a.id, acc, future);
    await runHeatTick({ db: t.db, clock });
    expect((await heatRow(a, acc))?.dirtyAt).toEqual(future);
  });

  it("a posture change marks the account and moves its score; another tenant's rows are untouched by the numbers", async () => {
    const acc = b.accounts.admin[0] as string;
    await runHeatTick({ db: t.db, clock });
    await updateCrmAccount(t.db, system(b), acc, { posture: "AT_RISK" }, clock);
    expect((await heatRow(b, acc))?.dirtyAt).toEqual(clock.now());
    await runHeatTick({ db: t.db, clock });
    const row = await heatRow(b, acc);
    expect(row?.score).toBeCloseTo(DEFAULT_HEAT_SETTINGS.posture.AT_RISK?.base ?? -1, 6);
    expect(row?.tier).toBe("COLD");
    expect(await t.db.ledgerEntry.count({ where: { tenantId: b.id, type: "HEAT_TIER_CHANGED" } })).toBe(0);
  });

  it("pages through many dirty rows in bounded batches and leaves none behind", async () => {
    const pairs = [
      ...[...a.accounts.seller, ...a.accounts.seller2, ...a.accounts.admin].map((id) => [a.id, id] as const),
      ...b.accounts.seller.map((id) => [b.id, id] as const),
    ];
    const ids = pairs.map(([, id]) => id);
    for (const [tenantId, id] of pairs) await markHeatDirty(t.db, tenantId, id, clock.now());
    const res = await runHeatTick({ db: t.db, clock, batchSize: 2 });
    expect(res.computed).toBe(ids.length);
    expect(res.pages).toBeGreaterThanOrEqual(Math.ceil(ids.length / 2));
    expect(await t.db.accountHeat.count({ where: { dirtyAt: { not: null, lte: clock.now() } } })).toBe(0);
  });
});

const caller = (u: TestUser) => createCaller({ db: t.db, clock, session: u.session });
type Handler = (r: Request, p: { params: Promise<{ id: string }> }) => Promise<Response>;
const rest = async (handler: Handler | ((r: Request) => Promise<Response>), path: string, key: string, id?: string) => {
  const res = await (handler as Handler)(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${key}` } }), {
    params: Promise.resolve({ id: id ?? "" }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field below
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const readKey = (tenant: TestTenant) =>
  createApiKey(t.db, { tenantId: tenant.id, name: "read", scopes: ["read"], actor: { type: "SYSTEM", id: "test" } }, clock).then(
    (r) => r.key,
  );

describe(`heat job concurrency on ${TEST_PROVIDER}`, () => {
  it("8 concurrent ticks over a burst ledger its promotion exactly once; signals arriving during ticks are never lost or double counted", async () => {
    const tenant = await makeTenant(t.db);
    const acc = tenant.accounts.seller[0] as string;
    for (const _ of [1, 2, 3]) await push(tenant, acc, "critical");
    const results = await Promise.all(Array.from({ length: 8 }, () => runHeatTick({ db: t.db, clock })));
    expect(results.reduce((n, r) => n + r.tierChanges, 0)).toBe(1);
    expect((await tierChanges(tenant, acc)).length).toBe(1);
    expect((await heatRow(tenant, acc))?.tier).toBe("HOT");

    // 20 medium signals on another account, pushed concurrently with 6 ticks, all at one instant:
    // after a final tick, each is folded in exactly once.
    const other = tenant.accounts.seller[1] as string;
    await Promise.all([
      ...Array.from({ length: 20 }, () => push(tenant, other, "medium")),
      ...Array.from({ length: 6 }, () => runHeatTick({ db: t.db, clock })),
    ]);
    await runHeatTick({ db: t.db, clock });
    const row = await heatRow(tenant, other);
    expect(row?.dirtyAt).toBeNull();
    // 20 × a medium's weight 1, decayed only by the seconds between a fact's minute bucket and now:
    // one signal missed would give ≈ 19, one counted twice ≈ 21.
    expect(row?.mass).toBeCloseTo(20, 1);
    expect(await t.db.signal.count({ where: { tenantId: tenant.id, accountId: other } })).toBe(20);
    expect((await verifyLedger(t.db, tenant.id)).ok).toBe(true);
  });
});

describe(`heat reads on ${TEST_PROVIDER}`, () => {
  it("accounts over REST and tRPC carry the computed heat { score, tier, since }; unscored ones are COLD, 0, since creation", async () => {
    const key = await readKey(a);
    const hotId = a.accounts.seller[0] as string;
    const row = await heatRow(a, hotId);
    const one = await rest(getAccount, `/api/v1/accounts/${hotId}`, key, hotId);
    expect(one.status).toBe(200);
    expect(one.body.heat).toEqual({ score: row?.score, tier: row?.tier, since: row?.since.toISOString() });
    const fresh = await t.db.account.create({ data: { tenantId: a.id, name: "Brand new", createdAt: new Date("2026-01-02T03:04:05Z") } });
    const unscored = await rest(getAccount, `/api/v1/accounts/${fresh.id}`, key, fresh.id);
    expect(unscored.body.heat).toEqual({ score: 0, tier: "COLD", since: "2026-01-02T03:04:05.000Z" });
    // Marked dirty but not yet computed is still unscored, not "COLD since the mark".
    await markHeatDirty(t.db, a.id, fresh.id, clock.now());
    expect((await rest(getAccount, `/api/v1/accounts/${fresh.id}`, key, fresh.id)).body.heat.since).toBe("2026-01-02T03:04:05.000Z");
    const list = await rest(listAccountsRest, "/api/v1/accounts?limit=200", key);
    expect(list.body.items.find((x: { id: string }) => x.id === hotId)?.heat).toEqual(one.body.heat);
    const trpc = await caller(a.admin).accounts.get({ id: hotId });
    expect(trpc.heat).toEqual({ score: row?.score, tier: row?.tier, since: row?.since });
    expect((await caller(a.admin).accounts.list({ limit: 100 })).items.find((x) => x.id === hotId)?.heat.tier).toBe(row?.tier);
  });

  it("GET /api/v1/perception/heat: tier counts and accounts hottest first, paged by a strict cursor; another tenant sees only its own", async () => {
    const key = await readKey(a);
    const first = await rest(heatRest, "/api/v1/perception/heat?limit=2", key);
    expect(first.status).toBe(200);
    const total = await t.db.account.count({ where: { tenantId: a.id } });
    const tiers = first.body.tiers as { HOT: number; WARM: number; COLD: number };
    expect(Object.keys(tiers).sort()).toEqual(["COLD", "HOT", "WARM"]);
    expect(tiers.HOT + tiers.WARM + tiers.COLD).toBe(total);
    expect(tiers.WARM).toBe(await t.db.accountHeat.count({ where: { tenantId: a.id, tier: "WARM" } }));
    const items: { account_id: string; score: number; tier: string }[] = [...first.body.items];
    let cursor = first.body.next_cursor as string | null;
    while (cursor) {
      const next = await rest(heatRest, `/api/v1/perception/heat?limit=2&cursor=${cursor}`, key);
      items.push(...next.body.items);
      cursor = next.body.next_cursor;
    }
    expect(items).toHaveLength(total);
    expect(new Set(items.map((i) => i.account_id)).size).toBe(total);
    const scores = items.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((x, y) => y - x));
    expect(items[0]).toEqual({
      account_id: a.accounts.seller[0],
      score: (await heatRow(a, a.accounts.seller[0] as string))?.score,
      tier: "WARM",
    });
    expect(Object.keys(items[0] ?? {}).sort()).toEqual(["account_id", "score", "tier"]);
    // Tenant B's key sees none of A's accounts.
    const other = await rest(heatRest, "/api/v1/perception/heat?limit=200", await readKey(b));
    const bIds = new Set((await t.db.account.findMany({ where: { tenantId: b.id } })).map((x) => x.id));
    expect(other.body.items.length).toBe(bIds.size);
    expect(other.body.items.every((i: { account_id: string }) => bIds.has(i.account_id))).toBe(true);
    // A tampered cursor is 400 on `cursor`.
    const bad = await rest(heatRest, `/api/v1/perception/heat?cursor=${Buffer.from('{"s":1e20,"i":"x"}').toString("base64url")}`, key);
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("cursor");
    expect((await rest(heatRest, "/api/v1/perception/heat?limit=0", key)).body.error.field).toBe("limit");
  });

  it("tRPC: distribution and hottest are tenant-scoped and seller-scoped; history answers 404 for another tenant's or seller's account", async () => {
    const hot = a.accounts.seller[0] as string;
    const adminDist = await caller(a.admin).heat.distribution();
    expect(adminDist.tiers.HOT + adminDist.tiers.WARM + adminDist.tiers.COLD).toBe(await t.db.account.count({ where: { tenantId: a.id } }));
    expect(adminDist.explanation.HOT).toMatch(/Score ≥ 0.7/);
    // The seller sees only the accounts they own.
    const sellerDist = await caller(a.seller).heat.distribution();
    expect(sellerDist.tiers.HOT + sellerDist.tiers.WARM + sellerDist.tiers.COLD).toBe(a.accounts.seller.length);
    const sellerHot = await caller(a.seller).heat.hottest({ limit: 100 });
    expect(sellerHot.items.map((i) => i.accountId).sort()).toEqual([...a.accounts.seller].sort());
    expect(sellerHot.items[0]?.accountId).toBe(hot);
    const seller2Hot = await caller(a.seller2).heat.hottest({ limit: 100 });
    expect(seller2Hot.items.some((i) => i.accountId === hot)).toBe(false);
    // Tenant B's admin sees nothing of A.
    const bHot = await caller(b.admin).heat.hottest({ limit: 100 });
    expect(bHot.items.some((i) => a.accounts.seller.includes(i.accountId))).toBe(false);
    expect((await caller(b.admin).heat.distribution()).tiers.WARM).toBe(0);
    // History: the owner and the admin read it; another seller and another tenant get 404.
    const history = await caller(a.seller).heat.history({ accountId: hot, days: 30 });
    expect(history.current).toMatchObject({ tier: (await heatRow(a, hot))?.tier });
    expect(history.rollups.map((r) => r.day)).toEqual([...new Set(history.rollups.map((r) => r.day))].sort());
    expect(history.rollups.length).toBeGreaterThanOrEqual(2);
    expect(history.rollups.some((r) => r.tier === "HOT")).toBe(true);
    await expect(caller(a.seller2).heat.history({ accountId: hot, days: 30 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(caller(b.admin).heat.history({ accountId: hot, days: 30 })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("the decision run reads heat: a COLD account with only low news is LOW_MARGINAL_VALUE; a warmer one runs and its snapshot records the heat", async () => {
    const deps = { db: t.db, clock, synthesizer: rulesSynthesizer, connectors: { smtp: null } };
    const cold = b.accounts.seller[0] as string;
    await push(b, cold, "low");
    await runHeatTick({ db: t.db, clock });
    expect((await heatRow(b, cold))?.tier).toBe("COLD");
    const r1 = await requestRun(t.db, system(b), { accountId: cold, triggerType: "SIGNAL_ARRIVED", idempotencyKey: "heat-cold-1" }, clock);
    await executeRun(deps, b.id, r1.runId);
    const skipped = await t.db.decisionRun.findUniqueOrThrow({ where: { id: r1.runId } });
    expect(skipped).toMatchObject({ status: "SKIPPED", reason: "LOW_MARGINAL_VALUE" });
    const gateEntry = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: b.id, type: "COST_GATE_EVALUATED", accountId: cold } });
    expect(JSON.parse(gateEntry.payload).inputs).toMatchObject({ heat_tier: "COLD", new_significant_evidence: 0 });

    const warm = b.accounts.seller[1] as string;
    for (const _ of [1, 2, 3]) await push(b, warm, "medium");
    await push(b, warm, "low");
    await runHeatTick({ db: t.db, clock });
    const heat = await heatRow(b, warm);
    expect(heat?.tier).toBe("WARM");
    const r2 = await requestRun(t.db, system(b), { accountId: warm, triggerType: "SIGNAL_ARRIVED", idempotencyKey: "heat-warm-1" }, clock);
    await executeRun(deps, b.id, r2.runId);
    const ran = await t.db.decisionRun.findUniqueOrThrow({ where: { id: r2.runId } });
    expect(ran.status).toBe("SYNTHESIZED");
    expect(JSON.parse(ran.inputSnapshot ?? "{}").heat).toEqual({ score: heat?.score, tier: "WARM" });
  });
});

describe(`demo heat on ${TEST_PROVIDER}`, () => {
  it("the demo seed runs the real heat job at its clock: real tiers, ledgered changes, daily rollups over the replayed week", async () => {
    const { seedDemo } = await import("@/server/services/seed");
    const seedClock = fixedClock("2026-05-20T12:00:00Z");
    await seedDemo(t.db, { password: "demo-password", clock: seedClock });
    const demo = await t.db.tenant.findUniqueOrThrow({ where: { slug: "demo" } });
    const rows = await t.db.accountHeat.findMany({ where: { tenantId: demo.id } });
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.every((r) => r.computedAt?.getTime() === seedClock.now().getTime() && r.dirtyAt === null)).toBe(true);
    const tiers = new Set(rows.map((r) => r.tier));
    expect(tiers.has("COLD")).toBe(true);
    expect(rows.some((r) => r.tier !== "COLD")).toBe(true);
    const changes = await t.db.ledgerEntry.findMany({ where: { tenantId: demo.id, type: "HEAT_TIER_CHANGED" } });
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.every((c) => c.actorId === "heat" && c.accountId !== null)).toBe(true);
    const days = new Set((await t.db.heatRollup.findMany({ where: { tenantId: demo.id } })).map((r) => r.day));
    expect(days.size).toBeGreaterThanOrEqual(5);
    // The job has nothing left to do at the seed's clock.
    expect(await runHeatTick({ db: t.db, clock: seedClock })).toMatchObject({ computed: 0 });
    expect((await verifyLedger(t.db, demo.id)).ok).toBe(true);
  }, 180_000);
});
