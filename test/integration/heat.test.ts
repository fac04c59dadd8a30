import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { DEFAULT_HEAT_SETTINGS } from "@/server/engine/heat";
import { JOBS, type JobDeps } from "@/server/jobs/registry";
import { markHeatDirty } from "@/server/repos/heat";
import type { Viewer } from "@/server/repos/scope";
import { updateCrmAccount } from "@/server/services/accounts";
import { runHeatTick } from "@/server/services/heat";
import { verifyLedger } from "@/server/services/ledger";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { ingestSignal } from "@/server/services/signals";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

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
