/**
 * One app instance for test/integration/crash-trials.test.ts, meant to be SIGKILLed at random
 * moments: `tsx test/helpers/crash-app.ts` with DATABASE_URL, CONNECTOR_SECRET_KEY, WORKER_OWNER,
 * LEASE_SECONDS, CLOCK_OFFSET_MS (how long the test pretends this process was down: leases,
 * admission locks and cadences expire by it), APPROVER (a viewer, JSON) and APPROVE (intent ids,
 * JSON).
 *
 * It does what a deployment does, through the production entry points only: the inbox's approve
 * button (`approveIntent`, which REST and tRPC call), a queue worker tick (`runWorkerTick` over
 * `queueHandlers`, what scripts/worker.ts loops on) and the scheduler's ticks (`JOBS.decisions`,
 * `JOBS.perception`, `JOBS["executions-sweep"]`, what /api/cron/<job> and scripts/scheduler.ts
 * run), with the job dependencies built by `jobDepsFromEnv` as the cron route builds them.
 * It prints `STEP <name>` as each step begins, `JOB <outcome> <id> <attempt>` as each queue job
 * finishes and `IDLE` after a round that found nothing to do; SIGTERM ends it after the step in hand.
 */
import { systemClock } from "@/server/clock";
import { createDb } from "@/server/db";
import { AppError } from "@/server/errors";
import { jobDepsFromEnv } from "@/server/http/deps";
import { JOBS, queueHandlers } from "@/server/jobs/registry";
import type { Viewer } from "@/server/repos/scope";
import { describeError, runWorkerTick } from "@/server/services/jobQueue";
import { approveIntent } from "@/server/services/reviews";

// Detached from the test runner's process group: never outlive a test run that died abruptly.
setTimeout(() => process.exit(3), Number(process.env.MAX_LIFETIME_MS ?? 120_000)).unref();

const offset = Number(process.env.CLOCK_OFFSET_MS ?? 0);
const clock = { now: () => new Date(systemClock.now().getTime() + offset) };
const owner = process.env.WORKER_OWNER ?? `crash-app:${process.pid}`;
const leaseSeconds = Number(process.env.LEASE_SECONDS ?? 2);
const db = createDb(process.env.DATABASE_URL as string);
const deps = jobDepsFromEnv(db, clock, owner);
const approver = JSON.parse(process.env.APPROVER as string) as Viewer;
const toApprove = JSON.parse(process.env.APPROVE ?? "[]") as string[];

let stopping = false;
process.once("SIGTERM", () => {
  stopping = true;
});

/**
 * One step, as the scheduler runs a job: a failure (a lock wait that timed out under load, a
 * connector error) is logged and the loop goes on, the next round retries.
 */
async function run<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
  process.stdout.write(`STEP ${name} ${Date.now()}\n`);
  try {
    return await fn();
  } catch (err) {
    console.error(`[crash-app] ${name} failed: ${describeError(err)}`);
    return null;
  }
}

async function round(): Promise<boolean> {
  const id = toApprove.shift();
  if (id)
    await run("approve", async () => {
      try {
        await approveIntent(deps, approver, id, {});
      } catch (err) {
        // Another instance (or an earlier, killed one) already decided it: the CONFLICT is the contract.
        if (!(err instanceof AppError && err.code === "CONFLICT")) throw err;
      }
    });
  const tick = await run("worker", () =>
    runWorkerTick(db, queueHandlers(deps), {
      owner,
      leaseSeconds,
      maxJobs: 3,
      clock,
      onJob: (j) => process.stdout.write(`JOB ${j.outcome} ${j.id} ${j.attempt}\n`),
    }),
  );
  const decisions = await run("decisions", () => JOBS.decisions.run(deps));
  const perception = await run("perception", () => JOBS.perception.run(deps));
  const sweep = await run("executions-sweep", () => JOBS["executions-sweep"].run(deps));
  const did = [
    tick?.claimed,
    decisions?.triggers.fired,
    decisions?.queue.claimed,
    perception?.run,
    perception?.interrupted,
    sweep?.expired,
    sweep?.queued.length,
  ];
  return id !== undefined || did.some((n) => n === undefined || n > 0);
}

async function main() {
  process.stdout.write(`STEP start ${Date.now()}\n`);
  while (!stopping) {
    if (!(await round())) {
      process.stdout.write("IDLE\n");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await db.$disconnect();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
