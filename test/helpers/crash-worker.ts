/**
 * A worker process for test/integration/crash.test.ts, meant to be SIGKILLed at random moments:
 * `tsx test/helpers/crash-worker.ts` with DATABASE_URL, WORKER_OWNER, LEASE_SECONDS, POLL_MS.
 *
 * Its one handler does a side effect a re-run must not repeat: it appends a ledger entry keyed by
 * the job id (correlationId = job id). It prints `START <id> <attempt>` as a handler begins and
 * `JOB <outcome> <id> <attempt>` as a job finishes, so the test can time its kills and count
 * completions across all the processes it killed.
 */
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { appendLedger, listLedger } from "@/server/repos/ledger";
import { inTransaction } from "@/server/repos/tx";
import type { JobHandlers } from "@/server/services/jobQueue";
import { main } from "../../scripts/worker";

export const CRASH_KIND = "crash.effect";

/** Thrown inside the transaction to roll back a duplicate append. */
class AlreadyApplied extends Error {}

const jitter = (maxMs: number) => sleep(Math.floor(Math.random() * maxMs));

export const handlers: JobHandlers = {
  [CRASH_KIND]: async (payload, { db, job, clock }) => {
    process.stdout.write(`START ${job.id} ${job.attempt}\n`);
    await jitter(40); // work before the effect: a kill here leaves a leased job and no effect
    let result: { seq: number } | { replay: true };
    try {
      result = await inTransaction(db, async (tx) => {
        // Append first, then check. appendLedger's first statement locks the tenant's ledger head
        // (PostgreSQL row lock, SQLite write lock), so the lookup below sees every committed run of
        // this job. Checking *before* the append would race under PostgreSQL's read committed:
        // two runs could both see nothing and both append.
        const entry = await appendLedger(
          tx,
          {
            tenantId: job.tenantId,
            type: "OUTCOME_RECORDED",
            actor: { type: "SYSTEM", id: "crash-worker" },
            payload: { action_intent_id: job.id, label: "CRASH_TEST_EFFECT", jobId: job.id, effect: payload },
            correlationId: job.id,
          },
          clock.now(),
        );
        const applied = await listLedger(tx, job.tenantId, { correlationId: job.id }, { limit: 2 });
        if (applied.items.length > 1) throw new AlreadyApplied();
        await jitter(20); // a kill here rolls the effect back with the transaction
        return { seq: entry.seq };
      });
    } catch (err) {
      if (!(err instanceof AlreadyApplied)) throw err;
      result = { replay: true };
    }
    // Work after the effect: a kill here leaves the effect committed but the job still leased, so
    // the next run must find it and do nothing.
    await jitter(40);
    return result;
  },
};

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isEntry) {
  // Detached from the test runner's process group: never outlive a test run that died abruptly.
  setTimeout(() => process.exit(3), Number(process.env.MAX_LIFETIME_MS ?? 60_000)).unref();
  main({
    handlers,
    owner: process.env.WORKER_OWNER,
    leaseSeconds: Number(process.env.LEASE_SECONDS ?? 1),
    pollMs: Number(process.env.POLL_MS ?? 50),
    maxJobsPerTick: 5,
    log: (line) => console.error(line),
    onJob: (j) => process.stdout.write(`JOB ${j.outcome} ${j.id} ${j.attempt}\n`),
  }).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
