import { setTimeout as delay } from "node:timers/promises";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { type JobHandlers, type JobRun, runWorkerTick, type TickSummary } from "../services/jobQueue";

export interface WorkerOptions {
  db: Db;
  handlers: JobHandlers;
  /** unique per process: leases are fenced by owner + attempt, so two processes must never share one */
  owner: string;
  /** idle sleep between polls; a busy worker polls again at once */
  pollMs: number;
  /** longer than the slowest handler, or jobs will be run twice (still correct, but wasted) */
  leaseSeconds: number;
  clock: Clock;
  /** abort to stop: the job in hand is finished, no new one is claimed */
  signal: AbortSignal;
  maxJobsPerTick?: number;
  onTick?: (summary: TickSummary) => void;
  onJob?: (run: JobRun) => void;
  /** a failing tick (database unreachable, …) is reported and retried with backoff, never fatal */
  onError?: (err: unknown) => void;
}

const MAX_ERROR_BACKOFF_MS = 30_000;

export interface WorkerStats {
  ticks: number;
  claimed: number;
  errors: number;
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
async function sleep(ms: number, signal: AbortSignal) {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

/**
 * The long-running worker loop: tick until aborted, sleeping only when a tick found nothing to do.
 * Stopping is cooperative, so a clean stop never leaves a half-run job; a hard kill is covered by
 * the lease (the job is claimed again once it expires).
 */
export async function startWorker(opts: WorkerOptions): Promise<WorkerStats> {
  const stats: WorkerStats = { ticks: 0, claimed: 0, errors: 0 };
  const maxJobs = opts.maxJobsPerTick ?? 10;
  let failures = 0;
  while (!opts.signal.aborted) {
    let summary: TickSummary;
    try {
      summary = await runWorkerTick(opts.db, opts.handlers, {
        owner: opts.owner,
        leaseSeconds: opts.leaseSeconds,
        maxJobs,
        clock: opts.clock,
        signal: opts.signal,
        onJob: opts.onJob,
      });
    } catch (err) {
      stats.errors++;
      failures++;
      opts.onError?.(err);
      // Back off while the database is unreachable rather than hammering it every poll.
      await sleep(Math.min(opts.pollMs * 2 ** (failures - 1), MAX_ERROR_BACKOFF_MS), opts.signal);
      continue;
    }
    failures = 0;
    stats.ticks++;
    stats.claimed += summary.claimed;
    opts.onTick?.(summary);
    if (summary.claimed === 0) await sleep(opts.pollMs, opts.signal);
  }
  return stats;
}
