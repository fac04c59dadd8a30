import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUT as connectorPut } from "@/app/api/v1/connectors/[name]/route";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { POST as pullPost } from "@/app/api/v1/perception/pulls/route";
import { createCaller } from "@/server/api/root";
import { fixedClock } from "@/server/clock";
import { jobDepsFromEnv } from "@/server/http/deps";
import { JOBS } from "@/server/jobs/registry";
import { createApiKey } from "@/server/services/apiKeys";
import { flushCallSamples } from "@/server/services/callSamples";
import { DEFER_RETRY_SECONDS, settleSlotReleases } from "@/server/services/resilience";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { FakeHubspot } from "../helpers/fakeHubspot";
import { receiver } from "../helpers/receiver";

/**
 * The resilience wrapper's other callers, through their production entry points (REST routes,
 * tRPC procedures, the scheduled jobs with their deps built from the environment):
 *  (a) CRM syncs (tRPC "Sync now", the crm-sync job) and CRM pulls (REST and tRPC) while the crm
 *      breaker is FORCED_OPEN, then OPEN after real failures: nothing reaches the HubSpot-like
 *      server; the pull is DEFERred with retry_after_seconds, the sync reports the refusal;
 *  (b) the cap across tenants (CONNECTOR_MAX_CONCURRENCY → the "*" slots): two tenants' approved
 *      executions against one slow receiver never have more than 2 calls in flight there; the
 *      rest wait in the job queue and all succeed exactly once.
 */

// The edge reads these when env() is first called (after this module's top level ran).
process.env.CONNECTOR_SECRET_KEY = "resilience-callers-connector-key";
process.env.CONNECTOR_MAX_CONCURRENCY = "webhook=2,crm=2";

let t: TestDb;
/** near the real time: the REST routes read the system clock, tRPC and the jobs this one */
const clock = fixedClock(new Date().toISOString());
const as = (u: TestTenant["admin"]) => createCaller({ db: t.db, clock, session: u.session });
const keyOf = async (tenantId: string, scopes: ("admin" | "read" | "ingest")[]) =>
  (await createApiKey(t.db, { tenantId, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, clock)).key;

async function rest(
  handler: (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>,
  key: string,
  body: unknown,
  name = "",
) {
  const res = await handler(
    new Request("http://127.0.0.1/api/v1/x", {
      method: handler === (connectorPut as unknown) ? "PUT" : "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    { params: Promise.resolve({ name }) },
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  t = await freshDb();
  // The REST handlers use the process's database.
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
});
afterAll(async () => {
  await t.cleanup();
});

describe(`CRM sync and pull behind an open crm breaker (${TEST_PROVIDER})`, () => {
  let a: TestTenant;
  let hub: FakeHubspot;
  let adminKey = "";
  const token = `pat-na1-${randomUUID()}`;

  beforeAll(async () => {
    a = await makeTenant(t.db);
    adminKey = await keyOf(a.id, ["admin"]);
    hub = await new FakeHubspot({ token, now: () => clock.now().getTime() }).start();
    const company = hub.add("companies", { name: "Breaker Co", domain: "breaker.example" });
    await t.db.account.update({ where: { id: a.accounts.seller[0] as string }, data: { externalId: company } });
    const put = await rest(
      connectorPut as never,
      adminKey,
      {
        enabled: true,
        base_url: hub.url,
        token,
        // two failed calls open it; a cooldown long enough that the REST routes' system clock still reads OPEN
        breaker: { failure_threshold: 2, window_seconds: 60, cooldown_seconds: 600 },
      },
      "crm",
    );
    expect(put.status).toBe(200);
  });
  afterAll(async () => {
    await hub.stop();
  });

  const pullBody = () => ({ account_id: a.accounts.seller[0], connector: "crm", depth: "DEEP", pull_job_id: `pj-${randomUUID()}` });
  /** the refusals every caller must give while the breaker is open, with no request to HubSpot */
  async function everyCallerRefused(state: RegExp) {
    const before = hub.requests.length;
    const sync = await as(a.admin).connectors.syncNow();
    expect(sync).toMatchObject({ ok: false, status: "BREAKER_OPEN" });
    expect(sync.error).toMatch(/^BREAKER_OPEN: /);
    expect(sync.error).toMatch(state);
    expect((await as(a.auditor).connectors.get({ name: "crm" })).sync).toMatchObject({ lastStatus: "BREAKER_OPEN" });

    // The crm-sync job, as the scheduler runs it: the refusal is not a job failure (it resumes next tick).
    const job = await JOBS["crm-sync"].run(jobDepsFromEnv(t.db, clock, "crm-sync-test"));
    expect(job.ok).toBe(true);
    expect((job as unknown as { tenants: { tenantId: string; status: string }[] }).tenants).toContainEqual(
      expect.objectContaining({ tenantId: a.id, status: "BREAKER_OPEN" }),
    );

    // Pulls: REST and tRPC answer DEFER with when to retry, spending nothing.
    const viaRest = await rest(pullPost as never, adminKey, pullBody());
    expect(viaRest.status).toBe(200);
    expect(viaRest.json).toMatchObject({ result: "DEFER", reason: "BREAKER_OPEN", units: 0 });
    expect(viaRest.json.retry_after_seconds).toEqual(expect.any(Number));
    expect(viaRest.json.retry_after_seconds as number).toBeGreaterThan(0);
    const b = pullBody();
    const viaTrpc = await as(a.admin).perception.pull({
      accountId: b.account_id as string,
      connector: "crm",
      depth: "SHALLOW",
      pullJobId: b.pull_job_id,
    });
    expect(viaTrpc).toMatchObject({ result: "DEFER", reason: "BREAKER_OPEN", units: 0 });
    expect(viaTrpc.retryAfterSeconds).toBeGreaterThan(0);
    expect((await as(a.admin).perception.budget()).usedToday).toBe(0);

    expect(hub.requests.length).toBe(before);
    return { retryAfter: viaRest.json.retry_after_seconds as number };
  }

  it("closed: a sync reaches HubSpot (the control); FORCED_OPEN: no sync, job run or pull sends a request; closed again: syncs flow", async () => {
    const first = await as(a.admin).connectors.syncNow();
    expect(first).toMatchObject({ ok: true, status: "OK" });
    expect(hub.requests.length).toBeGreaterThan(0);

    await as(a.admin).reliability.setForcedOpen({ name: "crm", forcedOpen: true, reason: "HubSpot incident" });
    const { retryAfter } = await everyCallerRefused(/forced open/);
    expect(retryAfter).toBeGreaterThan(0);

    await as(a.admin).reliability.setForcedOpen({ name: "crm", forcedOpen: false, reason: "HubSpot recovered" });
    const before = hub.requests.length;
    expect(await as(a.admin).connectors.syncNow()).toMatchObject({ ok: true, status: "OK" });
    expect(hub.requests.length).toBeGreaterThan(before);
  });

  it("OPEN after real failures: two failed syncs trip it; then syncs, the job and pulls send nothing, and the pull's retry_after is the cooldown left", async () => {
    hub.failStatus = 503;
    for (let i = 0; i < 2; i++) expect(await as(a.admin).connectors.syncNow()).toMatchObject({ ok: false, status: "FAILED" });
    hub.failStatus = 0;
    expect((await as(a.auditor).reliability.connectors()).find((c) => c.connector === "crm")?.state).toBe("OPEN");
    const moves = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "CONNECTOR_STATE_CHANGED" }, orderBy: { seq: "asc" } });
    expect(JSON.parse(moves.at(-1)?.payload ?? "{}")).toMatchObject({ connector: "crm", from: "CLOSED", to: "OPEN", failures: 2 });

    const { retryAfter } = await everyCallerRefused(/circuit breaker is open/);
    // The REST route reads the system clock, a few seconds past this test's clock at most.
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(retryAfter).toBeGreaterThan(540);
  });
});

describe(`the connector cap across tenants (CONNECTOR_MAX_CONCURRENCY, ${TEST_PROVIDER})`, () => {
  let c: TestTenant;
  let d: TestTenant;
  let slow: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    c = await makeTenant(t.db);
    d = await makeTenant(t.db);
    slow = await receiver();
    slow.delayMs = 40;
    // No tenant cap (max_concurrency unset): only the cap across tenants applies.
    for (const tn of [c, d]) await as(tn.admin).autonomy.setWebhook({ url: slow.url, enabled: true });
  });
  afterAll(async () => {
    await new Promise((ok) => slow.server.close(ok));
  });

  it("two tenants' approvals against one slow receiver, cap 2 across tenants: never more than 2 in flight there; the rest wait in the queue and all succeed exactly once", async () => {
    const perTenant = 12;
    const ids: Record<string, string[]> = {};
    for (const tn of [c, d]) {
      const ingest = await keyOf(tn.id, ["ingest"]);
      ids[tn.id] = [];
      for (let i = 0; i < perTenant; i++) {
        const { status, json } = await rest(intentsPost as never, ingest, {
          account_id: tn.accounts.seller[i % 3],
          action_type: "REQUEST_DISCOVERY_CALL",
          confidence: 0.9,
          risk_level: "HIGH",
          why: ["RENEWAL_WINDOW_ENTERED"],
          parameters: { n: i, run: randomUUID() },
        });
        expect(status, JSON.stringify(json)).toBe(201);
        expect(json.status).toBe("PENDING_APPROVAL");
        ids[tn.id]?.push(json.action_intent_id as string);
      }
    }
    // Approve through the inbox's procedure, alternating tenants: both queues fill at once.
    for (let i = 0; i < perTenant; i++) for (const tn of [c, d]) await as(tn.admin).work.approve({ id: ids[tn.id]?.[i] as string });

    // Six workers run the `decisions` job (which drains the queue) at once, round after round.
    const open = () => t.db.job.count({ where: { tenantId: { in: [c.id, d.id] }, kind: "EXECUTE_APPROVED", status: { not: "DONE" } } });
    let rounds = 0;
    while ((await open()) > 0) {
      expect(++rounds).toBeLessThan(200);
      const ticks = await Promise.all([1, 2, 3, 4, 5, 6].map((w) => JOBS.decisions.run(jobDepsFromEnv(t.db, clock, `w${w}`))));
      // A deferral is never a failed job.
      for (const tick of ticks) expect(tick.ok).toBe(true);
      // Deferred jobs are due again DEFER_RETRY_SECONDS later on the queue's clock.
      clock.advance(DEFER_RETRY_SECONDS * 1000);
    }

    expect(slow.maxInFlight).toBeLessThanOrEqual(2);
    expect(slow.maxInFlight).toBe(2);
    const all = [...(ids[c.id] ?? []), ...(ids[d.id] ?? [])];
    const executions = await t.db.execution.findMany({ where: { intentId: { in: all } } });
    expect(executions).toHaveLength(2 * perTenant);
    expect(executions.every((e) => e.status === "SUCCEEDED")).toBe(true);
    expect(new Set(executions.map((e) => e.tenantId))).toEqual(new Set([c.id, d.id]));
    expect(slow.hits).toBe(2 * perTenant);
    expect(new Set(slow.keys).size).toBe(2 * perTenant);
    // The cap was hit (some jobs waited), and waiting never spent an attempt or failed one.
    const jobs = await t.db.job.findMany({ where: { tenantId: { in: [c.id, d.id] }, kind: "EXECUTE_APPROVED" } });
    expect(jobs.some((j) => j.lastError?.includes("CONCURRENCY_LIMIT"))).toBe(true);
    expect(jobs.every((j) => j.status === "DONE" && j.attempts === 1)).toBe(true);
    // The refusals were sampled as DEFERRED, never as errors; no slot is left held.
    await flushCallSamples(t.db); // samples are written in batches off the call path
    expect(await t.db.connectorCallSample.count({ where: { tenantId: { in: [c.id, d.id] }, outcome: "DEFERRED" } })).toBeGreaterThan(0);
    expect(
      await t.db.connectorCallSample.count({ where: { tenantId: { in: [c.id, d.id] }, ok: false, outcome: { not: "DEFERRED" } } }),
    ).toBe(0);
    await settleSlotReleases(); // a finished call releases its slot off its path
    expect(await t.db.connectorSlot.count({ where: { holder: { not: null } } })).toBe(0);
  }, 180_000);

  it("two tenants' CRM pulls and syncs at once against one slow HubSpot, crm cap 2 across tenants: never more than 2 in flight there; a request that finds no free slot waits for one instead of failing its pull or sync", async () => {
    const e = await makeTenant(t.db);
    const f = await makeTenant(t.db);
    const token = `pat-na1-${randomUUID()}`;
    const hub = await new FakeHubspot({ token, now: () => clock.now().getTime() }).start();
    try {
      const keys: Record<string, string> = {};
      for (const tn of [e, f]) {
        keys[tn.id] = await keyOf(tn.id, ["admin"]);
        expect((await rest(connectorPut as never, keys[tn.id] as string, { enabled: true, base_url: hub.url, token }, "crm")).status).toBe(
          200,
        );
        for (const [i, accountId] of tn.accounts.seller.entries()) {
          const company = hub.add("companies", { name: `Cap ${tn.id} ${i}`, domain: `cap${i}.${tn.id}.example` });
          await t.db.account.update({ where: { id: accountId }, data: { externalId: company } });
        }
      }
      hub.delayMs = 40;
      const pulls = [e, f].flatMap((tn) =>
        tn.accounts.seller.map((accountId) =>
          rest(pullPost as never, keys[tn.id] as string, {
            account_id: accountId,
            connector: "crm",
            depth: "SHALLOW",
            pull_job_id: `pj-${randomUUID()}`,
          }),
        ),
      );
      const syncs = [e, f].map((tn) => as(tn.admin).connectors.syncNow());
      const [pulled, synced] = await Promise.all([Promise.all(pulls), Promise.all(syncs)]);
      expect(hub.maxInFlight).toBeLessThanOrEqual(2);
      expect(hub.maxInFlight).toBe(2);
      await flushCallSamples(t.db); // samples are written in batches off the call path
      // The cap was hit: requests were turned away (sampled DEFERRED) — and waited, so every pull
      // ran to the end and both syncs finished. Before, each of these pulls ended FAILED with
      // "CONCURRENCY_LIMIT: the crm connector has no free slot" after spending its unit.
      expect(
        await t.db.connectorCallSample.count({ where: { tenantId: { in: [e.id, f.id] }, connector: "crm", outcome: "DEFERRED" } }),
      ).toBeGreaterThan(0);
      for (const p of pulled) expect(p.json).toMatchObject({ result: "RUN", reason: "ADMITTED", run: { status: "DONE" } });
      expect((await t.db.pullJob.findMany({ where: { tenantId: { in: [e.id, f.id] } } })).map((j) => j.status)).toEqual(
        Array(pulled.length).fill("DONE"),
      );
      for (const x of synced) expect(x).toMatchObject({ ok: true, status: "OK" });
      await settleSlotReleases(); // a finished call releases its slot off its path
      expect(await t.db.connectorSlot.count({ where: { connector: "crm", holder: { not: null } } })).toBe(0);
    } finally {
      await hub.stop();
    }
  }, 120_000);
});
