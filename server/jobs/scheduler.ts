/**
 * The local scheduler: each job of the registry on its cron expression (UTC), through the same
 * tick function `/api/cron/<job>` and `cli tick <job>` call. Jobs are idempotent and safe to
 * overlap with a cron route or another instance's scheduler, so running several is harmless.
 * `npm start` runs it inside the web server's process (one process instead of a second Node heap);
 * `npm run scheduler` (scripts/scheduler.ts) runs it alone.
 */
import { hostname } from "node:os";
import { Cron } from "croner";
import { systemClock } from "../clock";
import type { Db } from "../db";
import { reportUnexpected } from "../errors";
import { jobDepsFromEnv } from "../http/deps";
import { JOB_LIST, JOBS, type JobName } from "./registry";

export interface LocalScheduler {
  /** the jobs with their next run, for the start-up line */
  describe(): string;
  /** no new ticks; a tick in hand finishes on its own */
  stop(): void;
}

export function startScheduler(db: Db, log: (line: string) => void = console.log): LocalScheduler {
  const deps = jobDepsFromEnv(db, systemClock, `scheduler:${hostname()}:${process.pid}`);
  const running = new Set<JobName>();

  async function tick(name: JobName) {
    if (running.has(name)) return; // one run of a job per process at a time
    running.add(name);
    const started = Date.now();
    try {
      const res = await JOBS[name].run(deps);
      log(`[scheduler] ${name} ${res.ok ? "ok" : "reported problems"} in ${Date.now() - started} ms`);
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
  return {
    describe: () => `${crons.length} job(s): ${crons.map((c) => `${c.name} (next ${c.nextRun()?.toISOString()})`).join(", ")}`,
    stop: () => {
      for (const c of crons) c.stop();
    },
  };
}
