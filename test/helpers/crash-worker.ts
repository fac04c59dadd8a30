/**
 * A worker process for test/integration/crash.test.ts, meant to be SIGKILLed at random moments:
 * `tsx test/helpers/crash-worker.ts` with DATABASE_URL, WORKER_OWNER, LEASE_SECONDS, POLL_MS.
 *
 * Its one handler does a side effect a re-run must not repeat: it appends a ledger entry keyed by
 * the job id (correlationId = job id). Every job outcome is printed as `JOB <outcome> <id>
 * <attempt>` on stdout, so the test can count completions across all the processes it killed.
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
    await jitter(50); // "work" before the effect: a kill here leaves a leased job and no effect
    try {
      return await inTransaction(db, async (tx) => {
        // Append first, then check. appendLedger's first statement locks the tenant's ledger head
        // (PostgreSQL row lock, SQLite write lock), so the count below sees every committed run of
        // this job. Checking *before* the append would race under PostgreSQL's read committed:
        // two runs could both see nothing and both append.
        const entry = await appendLedger(
          tx,
          {
            tenantId: job.tenantId,
            type: "OUTCOME_RECORDED",
            actor: { type: "SYSTEM", id: "crash-worker" },
            payload: { jobId: job.id, effect: payload },
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
      if (err instanceof AlreadyApplied) return { replay: true };
      throw err;
    }
  },
};

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isEntry) {
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
