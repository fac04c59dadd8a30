import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as budgetGet, PUT as budgetPut } from "@/app/api/v1/perception/budget/route";
import { GET as cadenceGet, PUT as cadencePut } from "@/app/api/v1/perception/cadence/route";
import { POST as pullsPost } from "@/app/api/v1/perception/pulls/route";
import { createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import type { PullDepth } from "@/server/engine/cadence";
import type { Viewer } from "@/server/repos/scope";
import type { ApiKeyScope } from "@/server/schemas/common";
import { createApiKey } from "@/server/services/apiKeys";
import { getPullBudget, putCadence, putPullBudget, requestPull, runPerceptionTick } from "@/server/services/perception";
import { demoPullRunner, type PullRunner, type PullRunners } from "@/server/services/pullRunners";
import { ingestSignal } from "@/server/services/signals";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * Perception pulls (SPEC §4.4) on a real database: budgets and rate limits hold under many
 * concurrent callers, a pull-job id is admitted once, every decision is ledgered exactly once, and
 * over a simulated week the cadence spends on HOT accounts, not COLD ones.
 */

let t: TestDb;

/** A connector that counts its runs (the pull's side effect we can see), with chosen limits. */
function probeRunner(
  limits = { perTenantPerMinute: 10_000, globalPerMinute: 10_000 },
  opts: { fail?: boolean; availability?: "READY" | "DISABLED" | "NOT_CONFIGURED" } = {},
) {
  const runs: { tenantId: string; accountId: string; depth: PullDepth; pullJobId: string }[] = [];
  const runner: PullRunner = {
    availability: async () => opts.availability ?? "READY",
    rateLimits: limits,
    async run(ctx, tenantId, accountId, depth) {
      runs.push({ tenantId, accountId, depth, pullJobId: ctx.pullJobId });
      if (opts.fail) throw new Error("upstream said no");
      return { signals: 0 };
    },
  };
  return { runner, runs };
}

const allAccounts = (a: TestTenant) => [...a.accounts.seller, ...a.accounts.seller2, ...a.accounts.admin];

async function ledgerOf(tenantId: string) {
  const rows = await t.db.ledgerEntry.findMany({ where: { tenantId, type: "PULL_SCHEDULED" }, orderBy: { seq: "asc" } });
  return rows.map((r) => ({ ...(JSON.parse(r.payload) as Record<string, unknown>), accountId: r.accountId }) as Record<string, unknown>);
}

async function usage(tenantId: string) {
  const rows = await t.db.pullUsage.findMany({ where: { tenantId } });
  return Object.fromEntries(rows.map((r) => [`${r.dateKey}/${r.connector}`, r.units]));
}

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
});
afterAll(() => t.cleanup());

describe(`pull budget under concurrency (${TEST_PROVIDER})`, () => {
  it("60 concurrent DEEP pulls against a budget of 10 units: exactly 3 run, overspend 0, 60 decisions ledgered once each", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    await putPullBudget(t.db, a.admin.viewer, { unitsPerDay: 10 }, clock);
    const { runner, runs } = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner } };
    const accounts = allAccounts(a);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        requestPull(deps, a.admin.viewer, {
          accountId: accounts[i % accounts.length] as string,
          connector: "probe",
          depth: "DEEP",
          pullJobId: `burst-${i}`,
          source: "api",
        }),
      ),
    );
    const ran = answers.filter((x) => x.result === "RUN");
    expect(ran).toHaveLength(3);
    expect(runs).toHaveLength(3);
    const refused = answers.filter((x) => x.result !== "RUN");
    expect(new Set(refused.map((x) => `${x.result}/${x.reason}`))).toEqual(new Set(["DEFER/BUDGET_EXHAUSTED"]));
    expect(refused.every((x) => (x.retryAfterSeconds ?? 0) === 14 * 3600)).toBe(true);
    // overspend 0: the total and the connector row both say 9 of 10
    expect(await usage(a.id)).toEqual({ "2026-03-02/": 9, "2026-03-02/probe": 9 });
    expect(await t.db.pullJob.count({ where: { tenantId: a.id, result: "RUN" } })).toBe(3);
    expect(await t.db.pullJob.count({ where: { tenantId: a.id, status: "DONE" } })).toBe(3);
    const ledger = await ledgerOf(a.id);
    expect(ledger).toHaveLength(60);
    expect(new Set(ledger.map((e) => e.pull_job_id)).size).toBe(60);
    expect(ledger.filter((e) => e.result === "RUN").map((e) => e.units)).toEqual([3, 3, 3]);
    expect(ledger.every((e) => e.connector === "probe" && e.depth === "DEEP" && e.tier === "COLD" && e.source === "api")).toBe(true);
    const budget = await getPullBudget(t.db, a.admin.viewer, clock);
    expect(budget).toMatchObject({
      unitsPerDay: 10,
      usedToday: 9,
      remainingToday: 1,
      dateKey: "2026-03-02",
      perConnectorUsed: { probe: 9 },
    });
    // one unit is still left: a shallow pull fits, a second one does not
    const one = await requestPull(deps, a.admin.viewer, {
      accountId: accounts[0] as string,
      connector: "probe",
      depth: "SHALLOW",
      pullJobId: "s1",
      source: "api",
    });
    const two = await requestPull(deps, a.admin.viewer, {
      accountId: accounts[0] as string,
      connector: "probe",
      depth: "SHALLOW",
      pullJobId: "s2",
      source: "api",
    });
    expect([one.result, two.reason]).toEqual(["RUN", "BUDGET_EXHAUSTED"]);
    expect(await usage(a.id)).toEqual({ "2026-03-02/": 10, "2026-03-02/probe": 10 });
    // a new UTC day refills
    clock.set("2026-03-03T00:00:01Z");
    expect(
      (
        await requestPull(deps, a.admin.viewer, {
          accountId: accounts[0] as string,
          connector: "probe",
          depth: "DEEP",
          pullJobId: "s2",
          source: "api",
        })
      ).result,
    ).toBe("RUN");
  }, 60_000);

  it("a per-connector cap holds under concurrency while the tenant total still has room", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    await putPullBudget(t.db, a.admin.viewer, { unitsPerDay: 100, perConnector: { probe: 5 } }, clock);
    const { runner, runs } = probeRunner();
    const other = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner, other: other.runner } };
    const accounts = allAccounts(a);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        requestPull(deps, a.admin.viewer, {
          accountId: accounts[i % accounts.length] as string,
          connector: i % 2 === 0 ? "probe" : "other",
          depth: "SHALLOW",
          pullJobId: `cap-${i}`,
          source: "api",
        }),
      ),
    );
    expect(runs).toHaveLength(5);
    expect(other.runs).toHaveLength(15);
    expect(answers.filter((x) => x.reason === "BUDGET_EXHAUSTED")).toHaveLength(10);
    expect(await usage(a.id)).toEqual({ "2026-03-02/": 20, "2026-03-02/probe": 5, "2026-03-02/other": 15 });
  }, 60_000);

  it("a lowered budget applies to the very next pull", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    const { runner } = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner } };
    const pull = (id: string) =>
      requestPull(deps, a.admin.viewer, {
        accountId: a.accounts.admin[0] as string,
        connector: "probe",
        depth: "DEEP",
        pullJobId: id,
        source: "api",
      });
    expect((await pull("l1")).result).toBe("RUN");
    await putPullBudget(t.db, a.admin.viewer, { unitsPerDay: 3 }, clock);
    expect(await pull("l2")).toMatchObject({ result: "DEFER", reason: "BUDGET_EXHAUSTED" });
    await putPullBudget(t.db, a.admin.viewer, { unitsPerDay: 6 }, clock);
    expect((await pull("l2")).result).toBe("RUN");
  });
});

describe(`pull-job ids (${TEST_PROVIDER})`, () => {
  it("a repeated pull-job id is DUPLICATE_PULL_JOB_ID and runs nothing; concurrent repeats admit exactly one", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    const { runner, runs } = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner } };
    const req = {
      accountId: a.accounts.seller[0] as string,
      connector: "probe",
      depth: "SHALLOW" as const,
      pullJobId: "job-1",
      source: "api" as const,
    };
    expect((await requestPull(deps, a.admin.viewer, req)).result).toBe("RUN");
    expect(await requestPull(deps, a.admin.viewer, req)).toEqual({
      result: "SKIP",
      reason: "DUPLICATE_PULL_JOB_ID",
      tier: "COLD",
      units: 0,
    });
    expect(runs).toHaveLength(1);
    const burst = await Promise.all(Array.from({ length: 20 }, () => requestPull(deps, a.admin.viewer, { ...req, pullJobId: "job-2" })));
    expect(burst.filter((x) => x.result === "RUN")).toHaveLength(1);
    expect(burst.filter((x) => x.reason === "DUPLICATE_PULL_JOB_ID")).toHaveLength(19);
    expect(runs).toHaveLength(2);
    expect(await usage(a.id)).toEqual({ "2026-03-02/": 2, "2026-03-02/probe": 2 });
    const ledger = await ledgerOf(a.id);
    expect(ledger).toHaveLength(22);
    expect(ledger.filter((e) => e.result === "RUN")).toHaveLength(2);
    // The same id in another tenant is another pull.
    const b = await makeTenant(t.db);
    expect((await requestPull(deps, b.admin.viewer, { ...req, accountId: b.accounts.seller[0] as string })).result).toBe("RUN");
  }, 60_000);

  it("an id deferred for budget may be asked again once the budget allows (the reservation rolled back)", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    await putPullBudget(t.db, a.admin.viewer, { unitsPerDay: 0 }, clock);
    const { runner, runs } = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner } };
    const req = {
      accountId: a.accounts.seller[0] as string,
      connector: "probe",
      depth: "SHALLOW" as const,
      pullJobId: "later",
      source: "api" as const,
    };
    expect((await requestPull(deps, a.admin.viewer, req)).reason).toBe("BUDGET_EXHAUSTED");
    expect(await t.db.pullJob.count({ where: { tenantId: a.id } })).toBe(0);
    await putPullBudget(t.db, a.admin.viewer, { unitsPerDay: 5 }, clock);
    expect((await requestPull(deps, a.admin.viewer, req)).result).toBe("RUN");
    expect(runs).toHaveLength(1);
  });

  it("a failing connector: the pull is RUN (budget spent, ledgered) and the job is FAILED with a redacted error", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    const { runner } = probeRunner(undefined, { fail: true });
    const answer = await requestPull({ db: t.db, clock, runners: { probe: runner } }, a.admin.viewer, {
      accountId: a.accounts.seller[0] as string,
      connector: "probe",
      depth: "DEEP",
      pullJobId: "f1",
      source: "api",
    });
    expect(answer).toMatchObject({ result: "RUN", run: { status: "FAILED", signals: 0 } });
    const job = await t.db.pullJob.findFirstOrThrow({ where: { tenantId: a.id, pullJobId: "f1" } });
    expect(job).toMatchObject({ status: "FAILED", units: 3 });
    expect(job.error).toContain("upstream said no");
    expect(job.finishedAt).not.toBeNull();
  });
});

describe(`rate limits shared in the database (${TEST_PROVIDER})`, () => {
  it("per tenant+connector and global per connector, across concurrent callers of two tenants; the next minute opens again", async () => {
    const a = await makeTenant(t.db);
    const b = await makeTenant(t.db);
    // its own minute: the windows of the other tests' connector are not this test's
    const clock = fixedClock("2026-03-05T10:00:15Z");
    const { runner, runs } = probeRunner({ perTenantPerMinute: 5, globalPerMinute: 8 });
    const deps = { db: t.db, clock, runners: { probe: runner } };
    const burst = (tenant: TestTenant, tag: string) =>
      Array.from({ length: 20 }, (_, i) =>
        requestPull(deps, tenant.admin.viewer, {
          accountId: allAccounts(tenant)[i % 9] as string,
          connector: "probe",
          depth: "SHALLOW",
          pullJobId: `${tag}-${i}`,
          source: "api",
        }),
      );
    const answers = await Promise.all([...burst(a, "a"), ...burst(b, "b")]);
    const ranA = runs.filter((r) => r.tenantId === a.id).length;
    const ranB = runs.filter((r) => r.tenantId === b.id).length;
    expect(ranA + ranB).toBe(8); // the global window
    expect(ranA).toBeLessThanOrEqual(5); // each tenant's window
    expect(ranB).toBeLessThanOrEqual(5);
    expect(ranA).toBeGreaterThanOrEqual(3);
    const limited = answers.filter((x) => x.result !== "RUN");
    expect(limited).toHaveLength(32);
    expect(limited.every((x) => x.result === "DEFER" && x.reason === "RATE_LIMITED" && x.retryAfterSeconds === 45)).toBe(true);
    // a rate-limited pull spent no budget and reserved no id
    expect(await t.db.pullJob.count({ where: { tenantId: { in: [a.id, b.id] } } })).toBe(8);
    expect((await usage(a.id))["2026-03-05/"]).toBe(ranA);
    expect((await ledgerOf(a.id)).length + (await ledgerOf(b.id)).length).toBe(40);
    // the same ids succeed in the next window (up to its limits)
    clock.advance(60_000);
    const limitedA = answers.findIndex((x, i) => i < 20 && x.reason === "RATE_LIMITED");
    const again = await requestPull(deps, a.admin.viewer, {
      accountId: allAccounts(a)[limitedA % 9] as string,
      connector: "probe",
      depth: "SHALLOW",
      pullJobId: `a-${limitedA}`,
      source: "api",
    });
    expect(again.result).toBe("RUN");
    const fresh = await requestPull(deps, b.admin.viewer, {
      accountId: b.accounts.seller[0] as string,
      connector: "probe",
      depth: "SHALLOW",
      pullJobId: "b-new",
      source: "api",
    });
    expect(fresh.result).toBe("RUN");
  }, 60_000);
});

describe(`rate limits from the tenant's settings (${TEST_PROVIDER})`, () => {
  it("a runner's limits may be read per tenant (the CRM's rate_limit_per_minute): 1 per minute admits one, defers the next", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-06T10:00:30Z");
    const { runner, runs } = probeRunner();
    const seen: string[] = [];
    const configured: PullRunner = {
      ...runner,
      rateLimits: async (_db, tenantId) => {
        seen.push(tenantId);
        return { perTenantPerMinute: 1, globalPerMinute: 100 };
      },
    };
    const deps = { db: t.db, clock, runners: { "probe-cfg": configured } };
    const ask = (id: string) =>
      requestPull(deps, a.admin.viewer, {
        accountId: a.accounts.seller[0] as string,
        connector: "probe-cfg",
        depth: "SHALLOW",
        pullJobId: id,
        source: "api",
      });
    expect((await ask("c1")).result).toBe("RUN");
    expect(await ask("c2")).toMatchObject({ result: "DEFER", reason: "RATE_LIMITED", retryAfterSeconds: 30 });
    expect(runs).toHaveLength(1);
    expect(seen).toEqual([a.id, a.id]);
  });
});

describe(`eligibility (${TEST_PROVIDER})`, () => {
  it("no runner, not configured, disabled, kill switch: SKIP with its reason, ledgered, nothing run or spent", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    const ready = probeRunner();
    const disabled = probeRunner(undefined, { availability: "DISABLED" });
    const runners: PullRunners = { probe: ready.runner, off: disabled.runner, demo: demoPullRunner };
    const deps = { db: t.db, clock, runners };
    const ask = (connector: string, id: string) =>
      requestPull(deps, a.admin.viewer, {
        accountId: a.accounts.seller[0] as string,
        connector,
        depth: "SHALLOW",
        pullJobId: id,
        source: "api",
      });
    expect(await ask("crm", "e1")).toMatchObject({ result: "SKIP", reason: "NO_PULL_RUNNER" });
    expect(await ask("demo", "e2")).toMatchObject({ result: "SKIP", reason: "CONNECTOR_NOT_CONFIGURED" });
    expect(await ask("off", "e3")).toMatchObject({ result: "SKIP", reason: "CONNECTOR_DISABLED" });
    // The kill-switch service accepts only real connector names (internal, webhook, email, crm,
    // demo); this test's probe connector is not one, so its switch row is written directly.
    const ks = await t.db.killSwitch.create({
      data: { tenantId: a.id, scope: "CONNECTOR", key: "probe", enabled: true, reason: "incident", updatedAt: clock.now() },
    });
    expect(await ask("probe", "e4")).toMatchObject({ result: "SKIP", reason: "KILL_SWITCH" });
    expect(ready.runs.length + disabled.runs.length).toBe(0);
    expect(await t.db.pullUsage.count({ where: { tenantId: a.id } })).toBe(0);
    await t.db.killSwitch.update({ where: { id: ks.id }, data: { enabled: false } });
    // the id was not consumed by the refusal
    expect(await ask("probe", "e4")).toMatchObject({ result: "RUN" });
    expect((await ledgerOf(a.id)).map((e) => e.reason)).toEqual([
      "NO_PULL_RUNNER",
      "CONNECTOR_NOT_CONFIGURED",
      "CONNECTOR_DISABLED",
      "KILL_SWITCH",
      "ADMITTED",
    ]);
  });

  it("another tenant's account id → 404 (service, REST, tRPC); nothing ledgered anywhere", async () => {
    const a = await makeTenant(t.db);
    const b = await makeTenant(t.db);
    const { runner, runs } = probeRunner();
    const foreign = b.accounts.seller[0] as string;
    await expect(
      requestPull({ db: t.db, clock: systemClock, runners: { probe: runner } }, a.admin.viewer, {
        accountId: foreign,
        connector: "probe",
        depth: "SHALLOW",
        pullJobId: "x1",
        source: "api",
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND", field: "account_id" });
    const key = await apiKey(a, ["admin"]);
    const res = await call(pullsPost, key, "POST", { account_id: foreign, connector: "demo", depth: "SHALLOW", pull_job_id: "x2" });
    expect(res.status).toBe(404);
    const caller = createCaller({ db: t.db, clock: systemClock, session: a.admin.session });
    await expect(caller.perception.pull({ accountId: foreign, connector: "demo", depth: "DEEP" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(runs).toHaveLength(0);
    expect(await t.db.ledgerEntry.count({ where: { type: "PULL_SCHEDULED", tenantId: { in: [a.id, b.id] } } })).toBe(0);
  });
});

// ───────────── REST and tRPC edges ─────────────

async function apiKey(tenant: TestTenant, scopes: ApiKeyScope[]) {
  return (
    await createApiKey(t.db, { tenantId: tenant.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)
  ).key;
}

// biome-ignore lint/suspicious/noExplicitAny: route handlers differ only in their params type
type Handler = (req: Request, ctx?: any) => Promise<Response>;
async function call(h: Handler, key: string | null, method: string, body?: unknown) {
  const res = await h(
    new Request("http://127.0.0.1/api/v1/perception/x", {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string; field?: string } } };
}

describe(`REST /api/v1/perception/* (${TEST_PROVIDER})`, () => {
  let demo: TestTenant;
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    demo = await makeTenant(t.db, "demo");
    for (const s of ["admin", "read", "ingest", "approve"] as const) keys[s] = await apiKey(demo, [s]);
  });

  it("scopes: POST pulls admin only; GET budget/cadence read; PUT budget/cadence admin only; no key 401", async () => {
    const body = { account_id: demo.accounts.seller[0], connector: "demo", depth: "SHALLOW", pull_job_id: "rest-1" };
    expect((await call(pullsPost, null, "POST", body)).status).toBe(401);
    for (const s of ["read", "ingest", "approve"]) expect((await call(pullsPost, keys[s] as string, "POST", body)).status, s).toBe(403);
    for (const s of ["ingest", "approve"]) {
      expect((await call(budgetGet, keys[s] as string, "GET")).status, s).toBe(403);
      expect((await call(cadenceGet, keys[s] as string, "GET")).status, s).toBe(403);
    }
    for (const s of ["read", "ingest", "approve"]) {
      expect((await call(budgetPut, keys[s] as string, "PUT", { units_per_day: 1 })).status, s).toBe(403);
      expect((await call(cadencePut, keys[s] as string, "PUT", {})).status, s).toBe(403);
    }
    expect(
      await t.db.ledgerEntry.count({
        where: { tenantId: demo.id, type: { in: ["PULL_SCHEDULED", "CONFIG_CHANGED"] }, actorType: "API_KEY" },
      }),
    ).toBe(0);
    expect((await call(budgetGet, keys.read as string, "GET")).status).toBe(200);
    expect((await call(cadenceGet, keys.read as string, "GET")).status).toBe(200);
  });

  it("POST pulls: the demo connector runs for the demo tenant and produces signals; a repeat is DUPLICATE_PULL_JOB_ID", async () => {
    const body = { account_id: demo.accounts.seller[0], connector: "demo", depth: "DEEP", pull_job_id: "rest-deep-1" };
    const first = await call(pullsPost, keys.admin as string, "POST", body);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ result: "RUN", reason: "ADMITTED", units: 3, run: { status: "DONE" } });
    expect((first.json.run as { signals: number }).signals).toBeGreaterThanOrEqual(1);
    const signals = await t.db.signal.count({ where: { tenantId: demo.id, source: "demo-pull" } });
    expect(signals).toBe((first.json.run as { signals: number }).signals);
    const again = await call(pullsPost, keys.admin as string, "POST", body);
    expect(again.json).toEqual({ result: "SKIP", reason: "DUPLICATE_PULL_JOB_ID", pull_job_id: "rest-deep-1", tier: "COLD", units: 0 });
    expect(await t.db.signal.count({ where: { tenantId: demo.id, source: "demo-pull" } })).toBe(signals);
  });

  it("bad input → 400 naming the field, nothing written", async () => {
    const before = await t.db.ledgerEntry.count({ where: { tenantId: demo.id } });
    const cases: [Handler, string, unknown, string][] = [
      [pullsPost, "POST", { account_id: demo.accounts.seller[0], connector: "demo", depth: "MEDIUM", pull_job_id: "b" }, "depth"],
      [pullsPost, "POST", { account_id: demo.accounts.seller[0], connector: "Demo!", depth: "DEEP", pull_job_id: "b" }, "connector"],
      [
        pullsPost,
        "POST",
        { account_id: demo.accounts.seller[0], connector: "demo", depth: "DEEP", pull_job_id: "has space" },
        "pull_job_id",
      ],
      [pullsPost, "POST", { connector: "demo", depth: "DEEP", pull_job_id: "b" }, "account_id"],
      [budgetPut, "PUT", { units_per_day: -1 }, "units_per_day"],
      [budgetPut, "PUT", { units_per_day: 5, per_connector: { crm: 1.5 } }, "per_connector.crm"],
      [
        cadencePut,
        "PUT",
        { tiers: { HOT: { shallow: null, deep: { min_hours: 1, max_hours: 1 }, shallow_on_signal: true } } },
        "tiers.WARM",
      ],
    ];
    for (const [h, method, body, field] of cases) {
      const res = await call(h, keys.admin as string, method, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error?.field, JSON.stringify(body)).toBe(field);
    }
    const inverted = {
      tiers: {
        HOT: { shallow: null, deep: { min_hours: 1, max_hours: 1 }, shallow_on_signal: true },
        WARM: { shallow: { min_hours: 6, max_hours: 6 }, deep: null, shallow_on_signal: false },
        COLD: { shallow: { min_hours: 100, max_hours: 72 }, deep: null, shallow_on_signal: false },
      },
    };
    const res = await call(cadencePut, keys.admin as string, "PUT", inverted);
    expect(res.status).toBe(400);
    expect(res.json.error?.field).toBe("tiers.COLD.shallow.max_hours");
    expect(await t.db.ledgerEntry.count({ where: { tenantId: demo.id } })).toBe(before);
  });

  it("GET/PUT budget round-trip with used_today, remaining_today, date_key; the write is ledgered CONFIG_CHANGED", async () => {
    const put = await call(budgetPut, keys.admin as string, "PUT", { units_per_day: 40, per_connector: { demo: 30 } });
    expect(put.status).toBe(200);
    const got = await call(budgetGet, keys.read as string, "GET");
    expect(got.json).toMatchObject({ units_per_day: 40, per_connector: { demo: 30 }, date_key: new Date().toISOString().slice(0, 10) });
    expect(got.json.used_today).toBe((got.json.per_connector_used as Record<string, number>).demo);
    expect(got.json.remaining_today).toBe(40 - (got.json.used_today as number));
    const change = await t.db.ledgerEntry.findFirstOrThrow({
      where: { tenantId: demo.id, type: "CONFIG_CHANGED" },
      orderBy: { seq: "desc" },
    });
    expect(JSON.parse(change.payload)).toMatchObject({
      change: "perception_budget",
      after: { units_per_day: 40, per_connector: { demo: 30 } },
    });
  });

  it("GET/PUT cadence round-trip (snake_case), and tRPC reads the same table", async () => {
    const tiers = {
      HOT: { shallow: { min_hours: 2, max_hours: 2 }, deep: { min_hours: 1, max_hours: 1 }, shallow_on_signal: true },
      WARM: { shallow: { min_hours: 4, max_hours: 8 }, deep: null, shallow_on_signal: false },
      COLD: { shallow: { min_hours: 72, max_hours: 168 }, deep: null, shallow_on_signal: false },
    };
    expect((await call(cadencePut, keys.admin as string, "PUT", { tiers })).status).toBe(200);
    expect((await call(cadenceGet, keys.read as string, "GET")).json.tiers).toEqual(tiers);
    const caller = createCaller({ db: t.db, clock: systemClock, session: demo.admin.session });
    expect((await caller.perception.cadence()).tiers.WARM).toEqual({
      shallow: { minHours: 4, maxHours: 8 },
      deep: null,
      shallowOnSignal: false,
    });
  });

  it("tRPC: admin only (seller and auditor FORBIDDEN) but today's numbers, which auditors read; another tenant's admin sees its own budget", async () => {
    for (const u of [demo.seller, demo.auditor]) {
      const c = createCaller({ db: t.db, clock: systemClock, session: u.session });
      await expect(c.perception.budget()).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(c.perception.setBudget({ unitsPerDay: 1 })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(
        c.perception.pull({ accountId: demo.accounts.seller[0] as string, connector: "demo", depth: "DEEP" }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    const other = await makeTenant(t.db);
    const c = createCaller({ db: t.db, clock: systemClock, session: other.admin.session });
    expect((await c.perception.budget()).unitsPerDay).toBe(500);
    expect((await c.perception.decisions({})).items).toEqual([]);
    const mine = createCaller({ db: t.db, clock: systemClock, session: demo.admin.session });
    expect((await mine.perception.decisions({})).items.length).toBeGreaterThan(0);
    const today = await mine.perception.today();
    expect(today.byConnector.find((x) => x.connector === "demo")?.units).toBeGreaterThan(0);
    const auditor = createCaller({ db: t.db, clock: systemClock, session: demo.auditor.session });
    expect(await auditor.perception.today()).toEqual(today);
    const seller = createCaller({ db: t.db, clock: systemClock, session: demo.seller.session });
    await expect(seller.perception.today()).rejects.toMatchObject({ code: "FORBIDDEN" });
    // another tenant's auditor sees its own (empty) day
    expect((await createCaller({ db: t.db, clock: systemClock, session: other.auditor.session }).perception.today()).usedToday).toBe(0);
  });
});

// ───────────── the perception job ─────────────

async function setTier(tenantId: string, accountId: string, tier: "HOT" | "WARM" | "COLD", now: Date) {
  await t.db.accountHeat.upsert({
    where: { tenantId_accountId: { tenantId, accountId } },
    create: { tenantId, accountId, tier, score: tier === "HOT" ? 0.9 : tier === "WARM" ? 0.5 : 0.1, since: now },
    update: { tier },
  });
}

describe(`perception job (${TEST_PROVIDER})`, () => {
  it("budget exhausted: the job stops asking and ledgers the refusal once a day, not per account or per tick", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    await putPullBudget(t.db, a.admin.viewer, { unitsPerDay: 6 }, clock);
    for (const id of allAccounts(a)) await setTier(a.id, id, "HOT", clock.now());
    const { runner, runs } = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner } };
    // HOT accounts are first pulled at a hashed phase inside their first hour: a few hours of ticks
    for (let i = 0; i < 12; i++) {
      await runPerceptionTick(deps);
      clock.advance(15 * 60_000);
    }
    // the job ticks every tenant; this test looks at its own
    expect(runs.filter((r) => r.tenantId === a.id)).toHaveLength(2);
    expect(await usage(a.id)).toEqual({ "2026-03-02/": 6, "2026-03-02/probe": 6 });
    const ledger = await ledgerOf(a.id);
    expect(ledger.filter((e) => e.result === "RUN")).toHaveLength(2);
    expect(ledger.filter((e) => e.reason === "BUDGET_EXHAUSTED")).toHaveLength(1);
    expect(ledger).toHaveLength(3);
    expect(ledger.every((e) => e.source === "cadence" && e.tier === "HOT" && e.depth === "DEEP")).toBe(true);
  }, 60_000);

  it("a repeated or concurrent tick is not a double pull: deterministic pull-job ids", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    for (const id of allAccounts(a)) await setTier(a.id, id, "HOT", clock.now());
    const { runner, runs } = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner } };
    await runPerceptionTick(deps); // seeds the states (an account whose phase is 0 is pulled now)
    const seededRuns = await t.db.pullJob.count({ where: { tenantId: a.id } });
    runs.length = 0;
    clock.advance(61 * 60_000); // every HOT account is due (deep, hourly)
    await Promise.all([runPerceptionTick(deps), runPerceptionTick(deps), runPerceptionTick(deps)]);
    await runPerceptionTick(deps);
    const own = runs.filter((r) => r.tenantId === a.id);
    expect(own).toHaveLength(9);
    expect(new Set(own.map((r) => r.accountId)).size).toBe(9);
    expect(await t.db.pullJob.count({ where: { tenantId: a.id } })).toBe(seededRuns + 9);
    const ledger = await ledgerOf(a.id);
    expect(ledger.filter((e) => e.result === "RUN")).toHaveLength(seededRuns + 9);
    expect(ledger.filter((e) => e.result !== "RUN").every((e) => e.reason === "DUPLICATE_PULL_JOB_ID")).toBe(true);
  }, 60_000);

  it("a shorter cadence applies on the next tick (every account is rechecked)", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-02T10:00:00Z");
    const { runner, runs } = probeRunner();
    const deps = { db: t.db, clock, runners: { probe: runner } };
    await runPerceptionTick(deps);
    // pull every COLD account once, so each has a last pull and its next one is days away
    for (const id of allAccounts(a))
      await requestPull(deps, a.admin.viewer, { accountId: id, connector: "probe", depth: "SHALLOW", pullJobId: `p-${id}`, source: "api" });
    clock.advance(2 * 3_600_000);
    runs.length = 0;
    await runPerceptionTick(deps);
    expect(runs.filter((r) => r.tenantId === a.id)).toHaveLength(0);
    await putCadence(
      t.db,
      a.admin.viewer,
      {
        tiers: {
          HOT: { shallow: null, deep: { minHours: 1, maxHours: 1 }, shallowOnSignal: true },
          WARM: { shallow: { minHours: 6, maxHours: 6 }, deep: null, shallowOnSignal: false },
          COLD: { shallow: { minHours: 1, maxHours: 1 }, deep: null, shallowOnSignal: false },
        },
      },
      clock,
    );
    await runPerceptionTick(deps);
    const own = runs.filter((r) => r.tenantId === a.id);
    expect(own).toHaveLength(9);
    expect(own.every((r) => r.depth === "SHALLOW")).toBe(true);
  }, 60_000);

  it("a synthetic week: COLD accounts cost ≤ 1/10 of HOT accounts in pull units (demo connector, real intake)", async () => {
    const demoT = await t.db.tenant.findUniqueOrThrow({ where: { slug: "demo" } });
    const admin: Viewer = { tenantId: demoT.id, actor: { type: "SYSTEM", id: "test" }, role: null, userId: null };
    const clock = fixedClock("2026-04-06T00:00:00Z");
    await putPullBudget(t.db, admin, { unitsPerDay: 5000, perConnector: {} }, clock);
    // reset what earlier tests in this tenant did to the cadence and pull state
    await putCadence(
      t.db,
      admin,
      {
        tiers: {
          HOT: { shallow: null, deep: { minHours: 1, maxHours: 1 }, shallowOnSignal: true },
          WARM: { shallow: { minHours: 6, maxHours: 6 }, deep: null, shallowOnSignal: false },
          COLD: { shallow: { minHours: 72, maxHours: 168 }, deep: null, shallowOnSignal: false },
        },
      },
      clock,
    );
    await t.db.accountPullState.deleteMany({ where: { tenantId: demoT.id } });
    const accounts = (await t.db.account.findMany({ where: { tenantId: demoT.id }, orderBy: { id: "asc" } })).map((x) => x.id);
    const hot = accounts.slice(0, 3);
    const cold = accounts.slice(3);
    for (const id of hot) await setTier(demoT.id, id, "HOT", clock.now());
    for (const id of cold) await setTier(demoT.id, id, "COLD", clock.now());
    const start = clock.now();
    const deps = { db: t.db, clock, runners: { demo: demoPullRunner } };
    const STEP = 30 * 60_000;
    for (let i = 0; i < (7 * 24 * 3_600_000) / STEP; i++) {
      // a signal for every account every 6 hours, pushed between ticks
      if (i % 12 === 5)
        for (const id of accounts)
          await ingestSignal(
            t.db,
            admin,
            { accountId: id, signalType: "USAGE_TREND_CHANGE", severity: "medium", evidence: { i }, source: "test" },
            clock,
          );
      await runPerceptionTick(deps);
      clock.advance(STEP);
    }
    const jobs = await t.db.pullJob.findMany({ where: { tenantId: demoT.id, createdAt: { gte: start } } });
    const unitsOf = (ids: string[]) => jobs.filter((j) => ids.includes(j.accountId)).reduce((s, j) => s + j.units, 0);
    const hotPerAccount = unitsOf(hot) / hot.length;
    const coldPerAccount = unitsOf(cold) / cold.length;
    expect(coldPerAccount).toBeGreaterThan(0);
    expect(hotPerAccount).toBeGreaterThan(0);
    expect(coldPerAccount).toBeLessThanOrEqual(hotPerAccount / 10);
    // HOT: deep hourly (about 3 × 168 units) plus shallow pulls on the pushed signals
    expect(hotPerAccount).toBeGreaterThanOrEqual(3 * 160);
    expect(jobs.some((j) => hot.includes(j.accountId) && j.depth === "SHALLOW" && j.pullJobId.includes(":sig"))).toBe(true);
    // COLD: one pull every 3–7 days → one or two in a week, never more than three
    for (const id of cold) expect(jobs.filter((j) => j.accountId === id).length).toBeLessThanOrEqual(3);
    expect(jobs.every((j) => j.status === "DONE")).toBe(true);
    // every pull the job made is one PULL_SCHEDULED RUN
    const runs = await t.db.ledgerEntry.count({
      where: { tenantId: demoT.id, type: "PULL_SCHEDULED", createdAt: { gte: start }, payload: { contains: '"result":"RUN"' } },
    });
    expect(runs).toBe(jobs.length);
  }, 300_000);
});

describe(`interrupted pulls (${TEST_PROVIDER})`, () => {
  it("a pull whose process died mid-run ends FAILED (INTERRUPTED) once past its lease, once; a pull still inside it and a finished one are untouched", async () => {
    const a = await makeTenant(t.db);
    const clock = fixedClock("2026-03-04T10:00:00Z");
    // Never settles: to the database this is a process that died during the run.
    const dead: PullRunner = {
      availability: async () => "READY",
      rateLimits: { perTenantPerMinute: 100, globalPerMinute: 100 },
      run: () => new Promise(() => {}),
    };
    const { runner } = probeRunner();
    const deps = { db: t.db, clock, runners: { dead, probe: runner } };
    const [account] = allAccounts(a) as [string];
    void requestPull(deps, a.admin.viewer, {
      accountId: account,
      connector: "dead",
      depth: "SHALLOW",
      pullJobId: "dies-mid-run",
      source: "api",
    });
    await requestPull(deps, a.admin.viewer, {
      accountId: account,
      connector: "probe",
      depth: "SHALLOW",
      pullJobId: "finishes",
      source: "api",
    });
    const row = (pullJobId: string) => t.db.pullJob.findFirstOrThrow({ where: { tenantId: a.id, pullJobId } });
    await vi.waitFor(async () => expect(await row("dies-mid-run")).toMatchObject({ status: "RUNNING" }));

    const tickAt = (at: string) => runPerceptionTick({ db: t.db, clock: fixedClock(at), runners: {} });
    expect(await tickAt("2026-03-04T10:09:00Z")).toMatchObject({ interrupted: 0 });
    expect(await row("dies-mid-run")).toMatchObject({ status: "RUNNING", finishedAt: null });

    expect(await tickAt("2026-03-04T10:11:00Z")).toMatchObject({ interrupted: 1 });
    expect(await row("dies-mid-run")).toMatchObject({
      status: "FAILED",
      error: "INTERRUPTED: the process running this pull stopped before it finished",
      finishedAt: new Date("2026-03-04T10:11:00Z"),
      units: 1,
    });
    expect(await row("finishes")).toMatchObject({ status: "DONE" });
    expect(await tickAt("2026-03-04T10:12:00Z")).toMatchObject({ interrupted: 0 });
  });
});
