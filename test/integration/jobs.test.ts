import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { startWorker } from "@/server/jobs/worker";
import { findJob } from "@/server/repos/jobs";
import { inTransaction } from "@/server/repos/tx";
import {
  BACKOFF_CAP_SECONDS,
  backoffSeconds,
  type ClaimedJob,
  claimNext,
  completeJob,
  describeError,
  enqueue,
  failJob,
  JobError,
  type JobHandlers,
  listJobs,
  queueStats,
  runWorkerTick,
} from "@/server/services/jobQueue";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

let t: TestDb;
let A: TestTenant;
let B: TestTenant;
const T0 = "2026-03-01T00:00:00.000Z";

beforeAll(async () => {
  t = await freshDb();
  A = await makeTenant(t.db);
  B = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

/** Claimers are cross-tenant, so each test claims only its own kind and never sees another's jobs. */
const claim = (owner: string, kind: string, clock: ReturnType<typeof fixedClock>, leaseSeconds = 30) =>
  claimNext(t.db, { owner, leaseSeconds, kinds: [kind] }, clock);

async function mustClaim(owner: string, kind: string, clock: ReturnType<typeof fixedClock>, leaseSeconds = 30): Promise<ClaimedJob> {
  const job = await claim(owner, kind, clock, leaseSeconds);
  if (!job) throw new Error(`expected a ${kind} job to be claimable at ${clock.now().toISOString()}`);
  return job;
}

const row = async (tenantId: string, id: string) => {
  const job = await findJob(t.db, tenantId, id);
  if (!job) throw new Error(`job ${id} not found`);
  return job;
};

describe(`durable job queue on ${TEST_PROVIDER}`, () => {
  it("20 concurrent enqueues with one dedupe key make one job; the key is per tenant; works inside a transaction", async () => {
    const clock = fixedClock(T0);
    const input = { tenantId: A.id, kind: "t.dedupe", payload: { n: 1 }, dedupeKey: "digest:2026-03-01" };
    const results = await Promise.all(Array.from({ length: 20 }, () => enqueue(t.db, input, clock)));
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await listJobs(t.db, A.id, { kind: "t.dedupe" }, { limit: 50 })).items).toHaveLength(1);

    const other = await enqueue(t.db, { ...input, tenantId: B.id }, clock);
    expect(other.created).toBe(true);
    expect(other.job.id).not.toBe(results[0]?.job.id);

    // ON CONFLICT DO NOTHING never raises, so a duplicate does not poison the surrounding transaction.
    const [first, again] = await inTransaction(t.db, async (tx) => {
      const one = await enqueue(tx, { ...input, dedupeKey: "in-tx" }, clock);
      const two = await enqueue(tx, { ...input, dedupeKey: "in-tx" }, clock);
      await tx.tenant.findFirst({ where: { id: A.id } }); // the transaction is still usable
      return [one, two];
    });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, job: { id: first.job.id } });

    // Jobs without a key never collide (NULLs are distinct in the unique index on both databases).
    const plain = await Promise.all([1, 2, 3].map(() => enqueue(t.db, { tenantId: A.id, kind: "t.dedupe", payload: {} }, clock)));
    expect(plain.every((r) => r.created)).toBe(true);
  });

  it("10 concurrent claimers on 50 jobs: each job is claimed once and completed once", async () => {
    const clock = fixedClock(T0);
    const kind = "t.concurrent";
    for (let i = 0; i < 50; i++) await enqueue(t.db, { tenantId: i % 2 ? A.id : B.id, kind, payload: { i } }, clock);

    const claims: { id: string; owner: string; attempts: number }[] = [];
    let completions = 0;
    await Promise.all(
      Array.from({ length: 10 }, async (_, w) => {
        const owner = `claimer-${w}`;
        for (let job = await claim(owner, kind, clock); job; job = await claim(owner, kind, clock)) {
          claims.push({ id: job.id, owner, attempts: job.attempts });
          if (await completeJob(t.db, job, owner, { by: owner }, clock)) completions++;
        }
      }),
    );

    expect(claims).toHaveLength(50);
    expect(new Set(claims.map((c) => c.id)).size).toBe(50);
    expect(claims.every((c) => c.attempts === 1)).toBe(true);
    expect(completions).toBe(50);
    const done = [
      ...(await listJobs(t.db, A.id, { kind }, { limit: 100 })).items,
      ...(await listJobs(t.db, B.id, { kind }, { limit: 100 })).items,
    ];
    expect(done).toHaveLength(50);
    for (const j of done) {
      expect(j.status).toBe("DONE");
      // The stored result is the claimer's own: nobody overwrote anybody.
      expect(j.result).toEqual({ by: claims.find((c) => c.id === j.id)?.owner });
    }
  });

  it("fairness: with 300 due jobs for one tenant and 5 for another, all 5 are claimed within the first 10 claims", async () => {
    const clock = fixedClock(T0);
    const kind = "t.fair";
    const noisy = await makeTenant(t.db);
    const quiet = await makeTenant(t.db);
    // The noisy tenant's jobs are also older: age alone must not let it starve the quiet one.
    const earlier = new Date(new Date(T0).getTime() - 3600_000);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => enqueue(t.db, { tenantId: noisy.id, kind, payload: { i }, runAt: earlier }, clock)),
    );
    for (let i = 0; i < 5; i++) await enqueue(t.db, { tenantId: quiet.id, kind, payload: { i } }, clock);

    // The clock is frozen on purpose: fairness must not depend on time moving between claims.
    const order: string[] = [];
    for (let i = 0; i < 10; i++) order.push((await mustClaim("fair", kind, clock)).tenantId === quiet.id ? "Q" : "N");
    expect(order.filter((x) => x === "Q")).toHaveLength(5);
    expect(order.join("")).toMatch(/^(NQ|QN){5}$/);

    // The quiet tenant is drained; the noisy one gets every later claim.
    for (let i = 0; i < 5; i++) expect((await mustClaim("fair", kind, clock)).tenantId).toBe(noisy.id);

    // A tenant that turns up later is served next, ahead of the backlog.
    const late = await makeTenant(t.db);
    await enqueue(t.db, { tenantId: late.id, kind, payload: {} }, clock);
    expect((await mustClaim("fair", kind, clock)).tenantId).toBe(late.id);
  });

  it("an expired lease is claimed by another owner; the first owner's late completion or failure is refused", async () => {
    const clock = fixedClock(T0);
    const kind = "t.lease";
    const { job } = await enqueue(t.db, { tenantId: A.id, kind, payload: {} }, clock);

    const first = await mustClaim("w1", kind, clock, 30);
    expect(first).toMatchObject({ id: job.id, status: "LEASED", leaseOwner: "w1", attempts: 1 });
    clock.advance(30_000);
    expect(await claim("w2", kind, clock)).toBeNull(); // at exactly leaseUntil the lease still holds
    clock.advance(1);
    const second = await mustClaim("w2", kind, clock, 30);
    expect(second).toMatchObject({ id: job.id, leaseOwner: "w2", attempts: 2 });

    expect(await completeJob(t.db, first, "w1", { by: "w1" }, clock)).toBe(false);
    expect(await failJob(t.db, first, "w1", new Error("late"), {}, clock)).toEqual({ status: "LEASE_LOST" });
    expect(await completeJob(t.db, second, "w2", { by: "w2" }, clock)).toBe(true);
    expect(await completeJob(t.db, second, "w2", { by: "w2 again" }, clock)).toBe(false); // exactly-once completion
    expect(await row(A.id, job.id)).toMatchObject({ status: "DONE", result: JSON.stringify({ by: "w2" }), leaseOwner: "w2" });
  });

  it("the lease is fenced by attempt: a restarted worker reusing its owner name cannot complete its old attempt", async () => {
    const clock = fixedClock(T0);
    const kind = "t.fence";
    await enqueue(t.db, { tenantId: A.id, kind, payload: {} }, clock);
    const old = await mustClaim("same-owner", kind, clock, 10);
    clock.advance(10_001);
    const fresh = await mustClaim("same-owner", kind, clock, 10);
    expect(await completeJob(t.db, old, "same-owner", "stale", clock)).toBe(false);
    expect(await completeJob(t.db, fresh, "same-owner", "fresh", clock)).toBe(true);
  });

  it("a holder whose lease expired cannot complete even if nobody re-claimed yet", async () => {
    const clock = fixedClock(T0);
    const kind = "t.expired-holder";
    await enqueue(t.db, { tenantId: A.id, kind, payload: {} }, clock);
    const job = await mustClaim("slow", kind, clock, 5);
    clock.advance(5_001);
    expect(await completeJob(t.db, job, "slow", null, clock)).toBe(false);
    // …and the job is not lost: the next claim gets it.
    expect((await mustClaim("next", kind, clock)).id).toBe(job.id);
  });

  it("failures retry with capped exponential backoff (or retryAfterSeconds), then FAIL at maxAttempts", async () => {
    const clock = fixedClock(T0);
    const kind = "t.retry";
    const { job } = await enqueue(t.db, { tenantId: A.id, kind, payload: {}, maxAttempts: 3 }, clock);

    const a1 = await mustClaim("w", kind, clock);
    expect(await failJob(t.db, a1, "w", new Error("boom 1"), {}, clock)).toEqual({
      status: "QUEUED",
      runAt: new Date(clock.now().getTime() + backoffSeconds(1) * 1000),
    });
    expect(await row(A.id, job.id)).toMatchObject({ status: "QUEUED", attempts: 1, lastError: "Error: boom 1", leaseOwner: null });
    clock.advance(backoffSeconds(1) * 1000 - 1);
    expect(await claim("w", kind, clock)).toBeNull(); // not due yet
    clock.advance(1);

    const a2 = await mustClaim("w", kind, clock);
    expect(a2.attempts).toBe(2);
    const retried = await failJob(t.db, a2, "w", new Error("rate limited"), { retryAfterSeconds: 2 }, clock);
    expect(retried).toEqual({ status: "QUEUED", runAt: new Date(clock.now().getTime() + 2000) });
    clock.advance(2000);

    const a3 = await mustClaim("w", kind, clock);
    expect(await failJob(t.db, a3, "w", new Error("boom 3"), {}, clock)).toEqual({ status: "FAILED" });
    expect(await row(A.id, job.id)).toMatchObject({ status: "FAILED", attempts: 3, lastError: "Error: boom 3", finishedAt: clock.now() });
    clock.advance(3600_000);
    expect(await claim("w", kind, clock)).toBeNull();

    expect([1, 2, 3, 4].map(backoffSeconds)).toEqual([5, 10, 20, 40]);
    expect(backoffSeconds(30)).toBe(BACKOFF_CAP_SECONDS);
  });

  it("deferrals re-queue without spending an attempt, however often; the job still completes", async () => {
    const clock = fixedClock(T0);
    const kind = "t.defer";
    const { job } = await enqueue(t.db, { tenantId: A.id, kind, payload: {}, maxAttempts: 2 }, clock);
    // Four deferrals on a job with two attempts: each gives its lease's attempt back.
    for (let i = 0; i < 4; i++) {
      const leased = await mustClaim("w", kind, clock);
      expect(leased.attempts).toBe(1);
      const out = await failJob(t.db, leased, "w", new Error("connector at capacity"), { deferred: true, retryAfterSeconds: 3 }, clock);
      expect(out).toEqual({ status: "QUEUED", runAt: new Date(clock.now().getTime() + 3000) });
      expect(await row(A.id, job.id)).toMatchObject({ status: "QUEUED", attempts: 0, leaseOwner: null });
      expect(await claim("w", kind, clock)).toBeNull(); // waits out retryAfterSeconds
      clock.advance(3000);
    }
    const last = await mustClaim("w", kind, clock);
    expect(await completeJob(t.db, last, "w", { ok: true }, clock)).toBe(true);
    expect(await row(A.id, job.id)).toMatchObject({ status: "DONE", attempts: 1 });
  });

  it("a job whose lease expires on its last attempt becomes FAILED instead of being claimed again", async () => {
    const clock = fixedClock(T0);
    const kind = "t.exhausted";
    const { job } = await enqueue(t.db, { tenantId: A.id, kind, payload: {}, maxAttempts: 2 }, clock);
    await mustClaim("w1", kind, clock, 10);
    clock.advance(10_001);
    await mustClaim("w2", kind, clock, 10); // attempt 2 of 2, then that worker dies too
    clock.advance(10_001);
    expect(await claim("w3", kind, clock)).toBeNull();
    expect(await row(A.id, job.id)).toMatchObject({ status: "FAILED", attempts: 2, lastError: "lease expired after 2 attempts" });
  });

  it("stored errors carry no secrets and at most 500 characters", async () => {
    const clock = fixedClock(T0);
    const kind = "t.secret";
    const { job } = await enqueue(t.db, { tenantId: A.id, kind, payload: {} }, clock);
    const claimed = await mustClaim("w", kind, clock);
    const message = `connect postgres://app:hunter2@db:5432/x failed; Authorization: Bearer sk-live-123; api_key=abc123 ${"x".repeat(1000)}`;
    await failJob(t.db, claimed, "w", new Error(message), {}, clock);
    const stored = (await row(A.id, job.id)).lastError ?? "";
    expect(stored.length).toBeLessThanOrEqual(500);
    for (const secret of ["hunter2", "sk-live-123", "abc123"]) expect(stored).not.toContain(secret);
    expect(stored).toContain("postgres://[REDACTED]@db:5432");
    expect(describeError("password=swordfish")).toBe("password=[REDACTED]");
    // Prisma's source excerpt is dropped so the cause survives the 500-char cut.
    const prismaStyle = `Invalid \`db.job.findMany()\` invocation in\n/app/x.ts:1:1\n\n${"  71 code\n".repeat(80)}\nCan't reach database server`;
    expect(describeError(new Error(prismaStyle))).toBe("Error: Invalid `db.job.findMany()` invocation: Can't reach database server");
  });

  it("runWorkerTick runs handlers with the parsed payload, completes, retries and fails as the handler says", async () => {
    const clock = fixedClock(T0);
    const seen: unknown[] = [];
    const handlers: JobHandlers = {
      "t.tick.ok": async (payload, ctx) => {
        seen.push({ payload, tenantId: ctx.job.tenantId, attempt: ctx.job.attempt });
        return { ok: true, token: "s3cret" };
      },
      "t.tick.flaky": async () => {
        throw new Error("temporarily down");
      },
      "t.tick.bad": async () => {
        throw new JobError("payload names an unknown account", { permanent: true });
      },
    };
    const ok = await enqueue(t.db, { tenantId: B.id, kind: "t.tick.ok", payload: { hello: "world" } }, clock);
    const flaky = await enqueue(t.db, { tenantId: A.id, kind: "t.tick.flaky", payload: {} }, clock);
    const bad = await enqueue(t.db, { tenantId: A.id, kind: "t.tick.bad", payload: {} }, clock);
    await enqueue(t.db, { tenantId: A.id, kind: "t.tick.unhandled", payload: {} }, clock);

    const summary = await runWorkerTick(t.db, handlers, { owner: "ticker", leaseSeconds: 30, maxJobs: 10, clock });
    expect(summary).toMatchObject({ claimed: 3, completed: 1, retried: 1, failed: 1, leaseLost: 0 });
    expect(seen).toEqual([{ payload: { hello: "world" }, tenantId: B.id, attempt: 1 }]);
    expect(await row(B.id, ok.job.id)).toMatchObject({ status: "DONE", result: JSON.stringify({ ok: true, token: "[REDACTED]" }) });
    expect(await row(A.id, flaky.job.id)).toMatchObject({ status: "QUEUED", lastError: "Error: temporarily down" });
    expect(await row(A.id, bad.job.id)).toMatchObject({ status: "FAILED", attempts: 1 });
    // A kind this worker has no handler for is left for a worker that has one.
    expect((await listJobs(t.db, A.id, { kind: "t.tick.unhandled" }, { limit: 5 })).items[0]?.status).toBe("QUEUED");

    const capped = await runWorkerTick(t.db, handlers, { owner: "ticker", leaseSeconds: 30, maxJobs: 1, clock });
    expect(capped.claimed).toBe(0); // the flaky job is backing off
  });

  it("startWorker drains the queue, sleeps when idle and stops cleanly when aborted", async () => {
    const clock = fixedClock(T0);
    const kind = "t.loop";
    for (let i = 0; i < 7; i++) await enqueue(t.db, { tenantId: i % 2 ? A.id : B.id, kind, payload: { i } }, clock);
    const stop = new AbortController();
    let handled = 0;
    const stats = await startWorker({
      db: t.db,
      handlers: {
        [kind]: async () => {
          handled++;
          return null;
        },
      },
      owner: "looper",
      pollMs: 10,
      leaseSeconds: 30,
      maxJobsPerTick: 3,
      clock,
      signal: stop.signal,
      // Stop once an idle tick shows the queue is empty.
      onTick: (s) => {
        if (s.claimed === 0) stop.abort();
      },
    });
    expect(handled).toBe(7);
    expect(stats).toMatchObject({ claimed: 7, errors: 0 });
    expect(stats.ticks).toBe(4); // 3 + 3 + 1, then the idle tick
    const stats2 = await queueStats(t.db, A.id, clock);
    expect(stats2.byKind[kind]).toMatchObject({ DONE: 3, QUEUED: 0, LEASED: 0 });
  });

  it("list and stats are tenant-scoped, newest first, filterable and paginated", async () => {
    const clock = fixedClock("2026-04-01T00:00:00.000Z");
    const X = await makeTenant(t.db);
    const Y = await makeTenant(t.db);
    for (let i = 0; i < 5; i++) {
      await enqueue(t.db, { tenantId: X.id, kind: i < 3 ? "x.a" : "x.b", payload: { i } }, clock);
      clock.advance(1000);
    }
    await enqueue(t.db, { tenantId: Y.id, kind: "x.a", payload: { y: true } }, clock);
    await enqueue(t.db, { tenantId: X.id, kind: "x.later", payload: {}, runAt: new Date("2026-05-01T00:00:00Z") }, clock);
    clock.advance(60_000);
    const claimed = await mustClaim("w", "x.a", clock);
    expect(claimed.tenantId).toBe(X.id); // X served never, Y never: X's job waited longer
    await completeJob(t.db, claimed, "w", null, clock);

    const page1 = await listJobs(t.db, X.id, {}, { limit: 4 });
    expect(page1.items.map((j) => j.payload)).toEqual([{}, { i: 4 }, { i: 3 }, { i: 2 }]);
    const page2 = await listJobs(t.db, X.id, {}, { limit: 4, cursor: page1.nextCursor ?? undefined });
    expect(page2.items.map((j) => j.payload)).toEqual([{ i: 1 }, { i: 0 }]);
    expect(page2.nextCursor).toBeNull();
    expect([...page1.items, ...page2.items].every((j) => j.tenantId === X.id)).toBe(true);
    expect((await listJobs(t.db, X.id, { kind: "x.a", status: "DONE" }, { limit: 10 })).items.map((j) => j.payload)).toEqual([{ i: 0 }]);
    expect((await listJobs(t.db, Y.id, {}, { limit: 10 })).items.map((j) => j.payload)).toEqual([{ y: true }]);

    const sx = await queueStats(t.db, X.id, clock);
    expect(sx).toEqual({
      total: 6,
      byStatus: { QUEUED: 5, LEASED: 0, DONE: 1, FAILED: 0 },
      byKind: {
        "x.a": { QUEUED: 2, LEASED: 0, DONE: 1, FAILED: 0 },
        "x.b": { QUEUED: 2, LEASED: 0, DONE: 0, FAILED: 0 },
        "x.later": { QUEUED: 1, LEASED: 0, DONE: 0, FAILED: 0 },
      },
      oldestDueAgeSeconds: 64, // x.a #1 ran due at +1 s; now is +65 s
    });
    const sy = await queueStats(t.db, Y.id, clock);
    expect(sy).toMatchObject({ total: 1, byStatus: { QUEUED: 1 }, oldestDueAgeSeconds: 60 });
    expect(Object.keys(sy.byKind)).toEqual(["x.a"]);
  });
});
