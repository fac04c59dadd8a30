import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import PgBoss from "pg-boss";
import { systemClock } from "../server/clock";
import type { Db } from "../server/db";
import { percentile } from "../server/engine/slo";
import { startWorker } from "../server/jobs/worker";
import { createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { enqueue } from "../server/services/jobQueue";
import { atLeast, type BenchRow } from "./ledger";

/**
 * Issue 13 item 4: our durable queue against an anchor, pg-boss 10.4.2 (the newest that runs on
 * Node 20), on the same fresh PostgreSQL database in one run. Each side: N jobs enqueued by 4
 * concurrent producers, then drained by 4 concurrent workers (batch size 1, a handler that does
 * nothing); then a trickle — jobs enqueued at a steady rate while the 4 workers poll — for pickup
 * latency. Pickup latency is the time from the enqueue call to the handler starting (the claim).
 *
 * pg-boss is measured two ways: `fetch` loops (fetch one, run, `complete`, awaited — the same
 * shape as our worker, so its claim SQL is what is compared) and its own `work` API with 4
 * workers. pg-boss 10's `work` loop sleeps out the rest of `pollingIntervalSeconds` after every
 * fetch, even a non-empty one, so with batch size 1 each worker takes at most one job per interval;
 * it is drained with fewer jobs (BENCH_QUEUE_WORK_N) to keep the run short. Polling interval for
 * everyone: BENCH_QUEUE_POLL_MS (default 500 ms = pg-boss's minimum pollingIntervalSeconds 0.5);
 * our worker and the fetch loops sleep that long only when a poll found nothing.
 *
 * On SQLite only our queue runs (pg-boss is PostgreSQL-only); its rows have no ratio.
 */
const WORKERS = 4;
const PRODUCERS = 4;
const TENANTS = 4;
const KIND = "bench.noop";
const POLL_MS = Number(process.env.BENCH_QUEUE_POLL_MS ?? 500);
const WORK_N = Number(process.env.BENCH_QUEUE_WORK_N ?? 100);
const TRICKLE_RATE = Number(process.env.BENCH_QUEUE_TRICKLE_RATE ?? 5);
const TRICKLE_SECONDS = Number(process.env.BENCH_QUEUE_TRICKLE_SECONDS ?? 20);
/** A drain that takes longer than this is reported as a failure rather than hanging the bench. */
const TIMEOUT_MS = Number(process.env.BENCH_QUEUE_TIMEOUT_MS ?? 600_000);

const now = () => performance.timeOrigin + performance.now();

interface Side {
  name: string;
  /** queue one job whose payload carries its enqueue time */
  send(tenantIdx: number, t: number): Promise<unknown>;
  /** start 4 workers that call `onRun(enqueuedAt)` as each handler starts; resolves to a stop function */
  start(onRun: (enqueuedAt: number) => void): Promise<() => Promise<void>>;
}

interface Measured {
  jobsPerSec: number;
  latencies: number[];
}

/** Run `n` sends with `PRODUCERS` concurrent producers; returns jobs/s. */
async function produce(side: Side, n: number): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      for (let i = next++; i < n; i = next++) await side.send(i % TENANTS, now());
    }),
  );
  return n / ((now() - t0) / 1000);
}

/** Start the workers and wait until `n` handlers have run (or the timeout). */
async function consume(side: Side, n: number, during?: () => Promise<unknown>): Promise<Measured> {
  const latencies: number[] = [];
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((ok) => {
    resolveDone = ok;
  });
  const timer = new AbortController();
  const t0 = now();
  let tEnd = 0;
  const stop = await side.start((enqueuedAt) => {
    latencies.push(now() - enqueuedAt);
    if (latencies.length === n) {
      tEnd = now();
      resolveDone();
    }
  });
  try {
    await during?.();
    // The timer is cancelled once done, so a finished run never waits it out.
    const timeout = sleep(TIMEOUT_MS, undefined, { signal: timer.signal }).then(
      () => {
        throw new Error(`${side.name}: ${latencies.length} of ${n} jobs ran within ${TIMEOUT_MS} ms`);
      },
      () => {},
    );
    await Promise.race([done, timeout]);
  } finally {
    timer.abort();
    await stop();
  }
  return { jobsPerSec: n / ((tEnd - t0) / 1000), latencies: latencies.sort((a, b) => a - b) };
}

/** Jobs enqueued one every 1/rate s (by the clock, not after the previous one) while the workers poll. */
async function trickle(side: Side): Promise<Measured> {
  const n = Math.max(1, Math.round(TRICKLE_RATE * TRICKLE_SECONDS));
  return consume(side, n, async () => {
    await sleep(POLL_MS * 2); // every worker has found the queue empty and is polling
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const wait = t0 + (i * 1000) / TRICKLE_RATE - now();
      if (wait > 0) await sleep(wait);
      await side.send(i % TENANTS, now());
    }
  });
}

function ours(db: Db, tenantIds: string[]): Side {
  return {
    name: "ours",
    send: (k, t) => enqueue(db, { tenantId: tenantIds[k] as string, kind: KIND, payload: { t } }, systemClock),
    async start(onRun) {
      const abort = new AbortController();
      const loops = Array.from({ length: WORKERS }, (_, w) =>
        startWorker({
          db,
          handlers: {
            [KIND]: async (payload) => {
              onRun((payload as { t: number }).t);
              return null;
            },
          },
          owner: `bench-${w}-${randomUUID()}`,
          pollMs: POLL_MS,
          leaseSeconds: 60,
          maxJobsPerTick: 10,
          clock: systemClock,
          signal: abort.signal,
          onError: (err) => console.error("queue bench worker:", err),
        }),
      );
      return async () => {
        abort.abort();
        await Promise.all(loops);
      };
    },
  };
}

function bossFetchLoops(boss: PgBoss, queue: string): Side {
  return {
    name: "pg-boss fetch loops",
    send: (_k, t) => boss.send(queue, { t }),
    async start(onRun) {
      const abort = new AbortController();
      const loops = Array.from({ length: WORKERS }, async () => {
        while (!abort.signal.aborted) {
          const [job] = await boss.fetch<{ t: number }>(queue, { batchSize: 1 });
          if (!job) {
            await sleep(POLL_MS, undefined, { signal: abort.signal }).catch(() => {});
            continue;
          }
          onRun(job.data.t);
          await boss.complete(queue, job.id);
        }
      });
      return async () => {
        abort.abort();
        await Promise.all(loops);
      };
    },
  };
}

function bossWork(boss: PgBoss, queue: string, admin: pg.Client): Side {
  return {
    name: "pg-boss work",
    send: (_k, t) => boss.send(queue, { t }),
    async start(onRun) {
      for (let w = 0; w < WORKERS; w++) {
        await boss.work<{ t: number }>(queue, { batchSize: 1, pollingIntervalSeconds: POLL_MS / 1000 }, async (jobs) => {
          for (const job of jobs) onRun(job.data.t);
        });
      }
      return async () => {
        await boss.offWork(queue);
        // `work` completes without awaiting; wait until every handled job is recorded completed.
        for (let i = 0; i < 200; i++) {
          const r = await admin.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state NOT IN ('completed')`, [queue]);
          if (r.rows[0].n === 0) return;
          await sleep(50);
        }
      };
    },
  };
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const p = (xs: number[], q: number) => percentile(xs, q) ?? Number.NaN;
const lat = (m: Measured) => `p50 ${ms(p(m.latencies, 50))}, p99 ${ms(p(m.latencies, 99))}`;

export async function queueBench(db: Db, label: string, url: string, n: number): Promise<BenchRow[]> {
  const tenantIds = await inTransaction(db, async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < TENANTS; i++) ids.push((await createTenant(tx, { slug: `bench-q-${randomUUID().slice(0, 8)}`, name: `q${i}` })).id);
    return ids;
  });
  const mine = ours(db, tenantIds);
  const rows: BenchRow[] = [];
  const row = (c: string, opsPerSec: number, ratio: number | null, note: string, target: BenchRow["target"] = null) =>
    rows.push({ suite: "queue", db: label, case: c, opsPerSec, ratio, note, target });
  const poll = `idle poll ${POLL_MS} ms`;

  if (label !== "postgres") {
    const enq = await produce(mine, n);
    const drain = await consume(mine, n);
    const tr = await trickle(mine);
    row(`ours: enqueue ${n}, ${PRODUCERS} producers`, enq, null, "pg-boss is PostgreSQL-only");
    row(`ours: drain ${n}, ${WORKERS} workers`, drain.jobsPerSec, null, `pickup ${lat(drain)}`);
    row(`ours: trickle ${TRICKLE_RATE}/s × ${TRICKLE_SECONDS} s`, tr.jobsPerSec, null, `pickup ${lat(tr)}; ${poll}`);
    return rows;
  }

  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const boss = new PgBoss({ connectionString: url, max: 10, supervise: false, schedule: false, migrate: true });
  boss.on("error", (err) => console.error("pg-boss:", err));
  await boss.start();
  try {
    const q = (s: string) => `bench_${s}`;
    for (const s of ["fetch", "work", "fetch_trickle", "work_trickle"]) await boss.createQueue(q(s));
    const fetchSide = bossFetchLoops(boss, q("fetch"));

    // Throughput: enqueue N, then drain N — pg-boss first, then ours, on the same database.
    const bossEnq = await produce(fetchSide, n);
    const bossDrain = await consume(fetchSide, n);
    const ourEnq = await produce(mine, n);
    const ourDrain = await consume(mine, n);
    const workSide = bossWork(boss, q("work"), admin);
    await produce(workSide, WORK_N);
    const workDrain = await consume(workSide, WORK_N);

    // Pickup latency under a steady trickle.
    const bossTrickle = await trickle(bossFetchLoops(boss, q("fetch_trickle")));
    const workTrickle = await trickle(bossWork(boss, q("work_trickle"), admin));
    const ourTrickle = await trickle(mine);

    const p99 = (m: Measured) => p(m.latencies, 99);
    row(`pg-boss send: enqueue ${n}, ${PRODUCERS} producers (baseline)`, bossEnq, null, "");
    row(`ours enqueue: ${n}, ${PRODUCERS} producers`, ourEnq, ourEnq / bossEnq, "ratio ours/pg-boss jobs/s");
    row(`pg-boss fetch loops: drain ${n}, ${WORKERS} workers (baseline)`, bossDrain.jobsPerSec, null, `pickup ${lat(bossDrain)}`);
    row(
      `ours: drain ${n}, ${WORKERS} workers`,
      ourDrain.jobsPerSec,
      ourDrain.jobsPerSec / bossDrain.jobsPerSec,
      `pickup ${lat(ourDrain)}; ratio ours/pg-boss jobs/s; p99 pickup ours/pg-boss ${(p99(ourDrain) / p99(bossDrain)).toFixed(2)}`,
      atLeast(ourDrain.jobsPerSec / bossDrain.jobsPerSec, 0.8),
    );
    row(
      `pg-boss work: drain ${WORK_N}, ${WORKERS} workers, pollingIntervalSeconds ${POLL_MS / 1000}`,
      workDrain.jobsPerSec,
      null,
      `pickup ${lat(workDrain)}; ours/this jobs/s ${(ourDrain.jobsPerSec / workDrain.jobsPerSec).toFixed(1)} (work sleeps the interval after every fetch)`,
    );
    const tc = `trickle ${TRICKLE_RATE}/s × ${TRICKLE_SECONDS} s`;
    row(`pg-boss fetch loops: ${tc} (baseline)`, bossTrickle.jobsPerSec, null, `pickup ${lat(bossTrickle)}; ${poll}`);
    row(`pg-boss work: ${tc}`, workTrickle.jobsPerSec, null, `pickup ${lat(workTrickle)}; pollingIntervalSeconds ${POLL_MS / 1000}`);
    row(
      `ours: ${tc}`,
      ourTrickle.jobsPerSec,
      p99(bossTrickle) / p99(ourTrickle),
      `pickup ${lat(ourTrickle)}; ${poll}; ratio = pg-boss fetch p99 / ours p99 (≥ 1: ours picks up as fast); vs work ${(p99(workTrickle) / p99(ourTrickle)).toFixed(2)}`,
    );
    return rows;
  } finally {
    await boss.stop({ graceful: false, wait: true });
    await admin.end();
  }
}
