/**
 * `npm run scheduler`: the self-hosted twin of the cron routes. Each job runs on its cron
 * expression (UTC) through the same tick function `/api/cron/<job>` and `cli tick <job>` call.
 * Jobs are idempotent and safe to overlap with a cron route, so running both is harmless.
 */
import { hostname } from "node:os";
import { Cron } from "croner";
import { systemClock } from "../server/clock";
import { getDb } from "../server/db";
import { reportUnexpected } from "../server/errors";
import { jobDepsFromEnv } from "../server/http/deps";
import { JOB_LIST, JOBS, type JobName } from "../server/jobs/registry";
import { flushCallSamples } from "../server/services/callSamples";

const db = getDb();
const deps = jobDepsFromEnv(db, systemClock, `scheduler:${hostname()}:${process.pid}`);
const running = new Set<JobName>();

async function tick(name: JobName) {
  if (running.has(name)) return; // one run of a job per process at a time
  running.add(name);
  const started = Date.now();
  try {
    const res = await JOBS[name].run(deps);
    console.log(`[scheduler] ${name} ${res.ok ? "ok" : "reported problems"} in ${Date.now() - started} ms`);
  } catch (err) {
    // Logged once, redacted, under an error id (server/errors.ts), like the REST and tRPC edges.
    reportUnexpected(`[scheduler] ${name}`, err);
  } finally {
    running.delete(name);
  }
}

const crons = JOB_LIST.map(
  ([name, job]) => new Cron(job.localSchedule ?? job.schedule, { timezone: "UTC", protect: true, name }, () => tick(name)),
);
console.log(`[scheduler] ${crons.length} job(s): ${crons.map((c) => `${c.name} (next ${c.nextRun()?.toISOString()})`).join(", ")}`);

function stop() {
  for (const c of crons) c.stop();
  flushCallSamples(db)
    .then(() => db.$disconnect())
    .finally(() => process.exit(0));
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
