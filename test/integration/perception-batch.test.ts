import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import type { PullDepth } from "@/server/engine/cadence";
import { type PullAnswer, putPullBudget, requestPull, runPerceptionTick } from "@/server/services/perception";
import type { PullRunner } from "@/server/services/pullRunners";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * The perception job admits its pulls in batches (one transaction per chunk of up to 100 pulls of
 * a connector); REST and tRPC admit one at a time through the same code. Here many ticks and many
 * single pulls race on the same tenants: the rate limits (per tenant+connector and global), the
 * daily budget and the pull-job ids must hold exactly as if every pull had been asked alone.
 */

let t: TestDb;

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
});
afterAll(() => t.cleanup());

/** HOT accounts beyond the factory's: more than one chunk of due pulls per tick. */
async function hotTenant(extra: number, now: Date) {
  const a = await makeTenant(t.db);
  await t.db.account.createMany({ data: Array.from({ length: extra }, (_, i) => ({ tenantId: a.id, name: `Batch ${i}` })) });
  const ids = (await t.db.account.findMany({ where: { tenantId: a.id }, select: { id: true } })).map((r) => r.id);
  await t.db.accountHeat.createMany({ data: ids.map((accountId) => ({ tenantId: a.id, accountId, tier: "HOT", score: 0.9, since: now })) });
  return { tenant: a, ids };
}

async function decisions(tenantId: string) {
  const rows = await t.db.ledgerEntry.findMany({ where: { tenantId, type: "PULL_SCHEDULED" }, orderBy: { seq: "asc" } });
  return rows.map((r) => JSON.parse(r.payload) as { pull_job_id: string; result: string; reason: string; units: number; source: string });
}

describe(`batched admission against concurrent single pulls (${TEST_PROVIDER})`, () => {
  it("concurrent ticks and REST pulls on two tenants: rate limits, the daily budget and pull-job ids hold exactly", async () => {
    const clock = fixedClock("2026-03-02T10:00:00Z");
    const limits = { perTenantPerMinute: 100_000, globalPerMinute: 100_000 };
    const runs: { tenantId: string; pullJobId: string }[] = [];
    const runner: PullRunner = {
      availability: async () => "READY",
      rateLimits: limits, // read at every admission: the test tightens it between phases
      async run(ctx, tenantId) {
        runs.push({ tenantId, pullJobId: ctx.pullJobId });
        return { signals: 0 };
      },
    };
    const deps = { db: t.db, clock, runners: { probe: runner } };
    const a = await hotTenant(240, clock.now());
    const b = await hotTenant(60, clock.now());
    const tenants: TestTenant[] = [a.tenant, b.tenant];
    for (const x of tenants) await putPullBudget(t.db, x.admin.viewer, { unitsPerDay: 100_000 }, clock);
    const seedTick = await runPerceptionTick(deps); // seeds the pull states (accounts whose phase is 0 are pulled now)

    // Each tenant asks 20 REST pulls, every id twice: concurrent repeats are duplicates.
    const rest = (x: { tenant: TestTenant; ids: string[] }, tag: string, depth: PullDepth) =>
      Array.from({ length: 40 }, (_, i) =>
        requestPull(deps, x.tenant.admin.viewer, {
          accountId: x.ids[i % x.ids.length] as string,
          connector: "probe",
          depth,
          pullJobId: `${tag}-${i % 20}`,
          source: "api",
        }),
      );

    // Phase 1, rate limits: every HOT account is due (deep, hourly); 100 per tenant, 150 globally this minute.
    clock.advance(61 * 60_000);
    limits.perTenantPerMinute = 100;
    limits.globalPerMinute = 150;
    const window = Math.floor(clock.now().getTime() / 60_000);
    const before1 = runs.length;
    const phase1 = await Promise.all([
      runPerceptionTick(deps),
      ...rest(a, "ra", "SHALLOW"),
      runPerceptionTick(deps),
      ...rest(b, "rb", "SHALLOW"),
      runPerceptionTick(deps),
    ]);
    const ran1 = runs.slice(before1);
    const perTenant = (id: string) => ran1.filter((r) => r.tenantId === id).length;
    expect(perTenant(a.tenant.id)).toBeLessThanOrEqual(100);
    expect(perTenant(b.tenant.id)).toBeLessThanOrEqual(100);
    // Demand (300+ due, 40 REST ids) exceeds both limits, so the global one is used up exactly.
    expect(ran1).toHaveLength(150);
    const windows = await t.db.rateWindow.findMany({ where: { window } });
    const count = (key: string) => windows.find((w) => w.key === key)?.count ?? 0;
    expect(count("g:probe")).toBe(150);
    expect(count(`t:${a.tenant.id}:probe`)).toBe(perTenant(a.tenant.id));
    expect(count(`t:${b.tenant.id}:probe`)).toBe(perTenant(b.tenant.id));
    const singles1 = phase1.filter((x): x is PullAnswer => "result" in x);
    const ticks1 = phase1.filter((x): x is Awaited<ReturnType<typeof runPerceptionTick>> => "tenants" in x);
    expect(singles1).toHaveLength(80);
    expect(singles1.some((x) => x.reason === "RATE_LIMITED") || ticks1.some((x) => x.deferred > 0)).toBe(true);

    // Phase 2, budget: a new hour (every account due again), 100 units left today for each tenant.
    clock.advance(61 * 60_000);
    limits.perTenantPerMinute = 100_000;
    limits.globalPerMinute = 100_000;
    const budgets = new Map<string, number>();
    for (const x of tenants) {
      const used = (await t.db.pullUsage.findFirst({ where: { tenantId: x.id, dateKey: "2026-03-02", connector: "" } }))?.units ?? 0;
      budgets.set(x.id, used + 100);
      await putPullBudget(t.db, x.admin.viewer, { unitsPerDay: used + 100 }, clock);
    }
    const before2 = runs.length;
    const phase2 = await Promise.all([
      runPerceptionTick(deps),
      ...rest(a, "da", "DEEP"),
      runPerceptionTick(deps),
      ...rest(b, "db", "DEEP"),
      runPerceptionTick(deps),
    ]);

    // Never a pull-job id run twice; every reservation that ran finished.
    expect(new Set(runs.map((r) => `${r.tenantId}/${r.pullJobId}`)).size).toBe(runs.length);
    expect(runs.length - before2).toBeGreaterThan(50); // 2 × 100 units: at least 33 DEEP pulls per tenant
    for (const x of tenants) {
      const own = runs.filter((r) => r.tenantId === x.id);
      expect(await t.db.pullJob.count({ where: { tenantId: x.id } })).toBe(own.length);
      expect(await t.db.pullJob.count({ where: { tenantId: x.id, status: "DONE" } })).toBe(own.length);
      const ledger = await decisions(x.id);
      // One decision per ask: RUN entries are the runs, and every ledgered unit was spent once.
      expect(
        ledger
          .filter((e) => e.result === "RUN")
          .map((e) => e.pull_job_id)
          .sort(),
      ).toEqual(own.map((r) => r.pullJobId).sort());
      const spent = ledger.reduce((s, e) => s + e.units, 0);
      const usage = await t.db.pullUsage.findMany({ where: { tenantId: x.id, dateKey: "2026-03-02" } });
      expect(usage.find((u) => u.connector === "")?.units).toBe(spent);
      expect(usage.find((u) => u.connector === "probe")?.units).toBe(spent);
      // The budget is used up to less than one DEEP pull, and never beyond.
      const cap = budgets.get(x.id) as number;
      expect(spent).toBeLessThanOrEqual(cap);
      expect(cap - spent).toBeLessThan(3);
      expect(ledger.filter((e) => e.reason === "BUDGET_EXHAUSTED").length).toBeGreaterThan(0);
    }
    // Every ask of this test is exactly one ledger entry (the REST answers and the ticks' asks).
    const ticks = [...phase1, ...phase2].filter((x): x is Awaited<ReturnType<typeof runPerceptionTick>> => "tenants" in x);
    const ledgered = (await decisions(a.tenant.id)).length + (await decisions(b.tenant.id)).length;
    expect(ledgered).toBe(seedTick.asked + 160 + ticks.reduce((s, x) => s + x.asked, 0));
  }, 180_000);
});
