/**
 * The durable job worker: `tsx scripts/worker.ts [--registry <module>] [--owner <id>] [--lease <s>]
 * [--poll <ms>] [--max-jobs <n>]`, against DATABASE_URL.
 *
 * Without --registry it serves the app's own queue (`queueHandlers` in server/jobs/registry.ts).
 * A registry module exports `handlers` (or a default export): a record of job kind → handler,
 * each idempotent (see server/services/jobQueue.ts). Run as many workers as you like, on any
 * number of machines; SIGINT/SIGTERM finish the job in hand and exit 0. A worker killed outright
 * loses nothing: its leases expire and the jobs are claimed again.
 */

import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { systemClock } from "../server/clock";
import { createDb, type Db } from "../server/db";
import { env } from "../server/env";
import { startWorker, type WorkerStats } from "../server/jobs/worker";
import { pingDatabase } from "../server/repos/health";
import { flushCallSamples } from "../server/services/callSamples";
import { describeError, type JobHandlers, type JobRun, type TickSummary } from "../server/services/jobQueue";
import { settleSlotReleases } from "../server/services/resilience";

export interface WorkerMainOptions {
  /** handlers given directly (a process that is its own registry, e.g. test/helpers/crash-worker.ts) */
  handlers?: JobHandlers;
  /** path of a module exporting `handlers`, resolved against the working directory; default: the app's queue */
  registry?: string;
  databaseUrl?: string;
  owner?: string;
  leaseSeconds?: number;
  pollMs?: number;
  maxJobsPerTick?: number;
  /** stops the worker; without one, SIGINT/SIGTERM do */
  signal?: AbortSignal;
  onTick?: (summary: TickSummary) => void;
  onJob?: (run: JobRun) => void;
  log?: (line: string) => void;
}

class UsageError extends Error {}

export function parseArgs(args: string[]): WorkerMainOptions {
  const out: WorkerMainOptions = {};
  const num = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number`);
    return n;
  };
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i] as string;
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    if (flag === "--registry") out.registry = v;
    else if (flag === "--owner") out.owner = v;
    else if (flag === "--lease") out.leaseSeconds = num(flag, v);
    else if (flag === "--poll") out.pollMs = num(flag, v);
    else if (flag === "--max-jobs") out.maxJobsPerTick = num(flag, v);
    else throw new UsageError(`unknown flag ${flag}`);
  }
  return out;
}

export async function loadHandlers(registry: string): Promise<JobHandlers> {
  const mod = (await import(pathToFileURL(path.resolve(registry)).href)) as { handlers?: unknown; default?: unknown };
  const handlers = mod.handlers ?? mod.default;
  if (!handlers || typeof handlers !== "object" || !Object.values(handlers).every((h) => typeof h === "function")) {
    throw new UsageError(`${registry} must export \`handlers\`: a record of job kind → async handler`);
  }
  return handlers as JobHandlers;
}

/** Host, pid and a random suffix: unique even when a restarted process reuses a pid. */
export function defaultOwner() {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/** The app's queue handlers, loaded lazily so a custom registry does not pay for the app's imports. */
async function appHandlers(db: Db, owner: string): Promise<JobHandlers> {
  const [{ queueHandlers }, { jobDepsFromEnv }] = await Promise.all([import("../server/jobs/registry"), import("../server/http/deps")]);
  return queueHandlers(jobDepsFromEnv(db, systemClock, owner));
}

export async function main(opts: WorkerMainOptions): Promise<WorkerStats> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const owner = opts.owner ?? defaultOwner();
  const db = createDb(opts.databaseUrl ?? env().DATABASE_URL);
  const stop = new AbortController();
  const onSignal = () => {
    log("[worker] stopping after the job in hand");
    stop.abort();
  };
  try {
    const handlers = opts.handlers ?? (opts.registry ? await loadHandlers(opts.registry) : await appHandlers(db, owner));
    const kinds = Object.keys(handlers);
    if (kinds.length === 0) throw new UsageError("the registry has no handlers");
    let signal = opts.signal;
    if (!signal) {
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      signal = stop.signal;
    }
    // Fail fast on a wrong DATABASE_URL (the driver adapters connect lazily, so $connect would not).
    await pingDatabase(db);
    log(`[worker] ${owner} serving ${kinds.join(", ")}`);
    return await startWorker({
      db,
      handlers,
      owner,
      pollMs: opts.pollMs ?? 1000,
      leaseSeconds: opts.leaseSeconds ?? 60,
      maxJobsPerTick: opts.maxJobsPerTick ?? 10,
      clock: systemClock,
      signal,
      onJob: opts.onJob,
      onTick: (s) => {
        opts.onTick?.(s);
        if (s.claimed > 0)
          log(`[worker] ${s.claimed} claimed: ${s.completed} done, ${s.retried} retry, ${s.failed} failed, ${s.leaseLost} lease lost`);
      },
      // describeError: driver errors can carry the connection string.
      onError: (err) => log(`[worker] tick failed, retrying: ${describeError(err)}`),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // The last jobs' slot releases and call samples (both off the call path) go out before the client closes.
    await settleSlotReleases();
    await flushCallSamples(db);
    await db.$disconnect();
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isEntry) {
  Promise.resolve(process.argv.slice(2))
    .then((args) => main(parseArgs(args)))
    .then(
      (stats) => {
        console.log(`[worker] stopped after ${stats.ticks} ticks, ${stats.claimed} jobs`);
        process.exit(0);
      },
      (err) => {
        console.error(err instanceof UsageError ? `usage: ${err.message}` : `error: ${describeError(err)}`);
        process.exit(2);
      },
    );
}
