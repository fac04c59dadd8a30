import type { Clock } from "../clock";
import type { Db, DbOrTx } from "../db";
import { redactSecrets, redactText } from "../engine/redact";
import { badRequest } from "../errors";
import {
  claimNextPg,
  countJobsByKindAndStatus,
  countJobsByStatus,
  dueJobsOf,
  dueTenants,
  expireExhaustedJob,
  finishLeasedJob,
  insertJob,
  JOB_STATUSES,
  type JobFilter,
  type JobRow,
  type JobStatus,
  type LeaseToken,
  lastServed,
  leaseJob,
  listJobs as listJobRows,
  markTenantServed,
  oldestDueJob,
} from "../repos/jobs";
import { isPostgres } from "../repos/tx";

/**
 * The durable job queue (SPEC §4.3, §4.7).
 *
 * Delivery is at-least-once; completion is exactly-once. A job is handed to a worker under a
 * lease; a worker killed at any point simply lets its lease expire and the job is claimed again.
 * Only the holder of the current, unexpired lease can complete or fail a job, so a late worker
 * can never overwrite the outcome of the one that replaced it.
 *
 * HANDLER CONTRACT: a handler may run more than once for one job (its worker died after the side
 * effect but before `completeJob`, or outlived its lease). Handlers must therefore be idempotent:
 * key every side effect by the job id (or a key derived from the payload) and make the second run
 * a no-op, ideally by checking for and writing the effect in one transaction.
 */

export type { JobStatus } from "../repos/jobs";
export { JOB_STATUSES } from "../repos/jobs";

/** A job as handed to a worker: the row, in status LEASED, with this worker's lease. */
export type ClaimedJob = JobRow;

export const DEFAULT_MAX_ATTEMPTS = 5;
/** First retry after 5 s, doubling per attempt, never more than 15 min between attempts. */
export const BACKOFF_BASE_SECONDS = 5;
export const BACKOFF_CAP_SECONDS = 15 * 60;
export const MAX_ERROR_LENGTH = 500;
/** How many of the chosen tenant's oldest jobs a claimer tries before re-reading the queue. */
const CLAIM_CANDIDATES = 8;
/** Each lost round means another claimer made progress, so this bound only guards against bugs. */
const CLAIM_ROUNDS = 50;

export interface EnqueueInput {
  tenantId: string;
  kind: string;
  payload: unknown;
  runAt?: Date;
  /** Idempotency key, unique per tenant for the life of the job table (put the period in the key). */
  dedupeKey?: string;
  maxAttempts?: number;
}

/**
 * Queue a job. With `dedupeKey`, enqueueing again returns the existing job (`created: false`)
 * whatever its status. Accepts a transaction so a job can be queued atomically with the state
 * change that calls for it — then a crash can never leave the change without its job.
 */
export async function enqueue(db: DbOrTx, input: EnqueueInput, clock: Clock): Promise<{ job: JobRow; created: boolean }> {
  if (!input.kind || input.kind.length > 100) throw badRequest("kind", "kind must be 1–100 characters");
  if (input.dedupeKey !== undefined && (input.dedupeKey.length === 0 || input.dedupeKey.length > 200)) {
    throw badRequest("dedupeKey", "dedupeKey must be 1–200 characters");
  }
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    throw badRequest("maxAttempts", "maxAttempts must be an integer from 1 to 100");
  }
  let payload: string | undefined;
  try {
    payload = JSON.stringify(input.payload ?? null);
  } catch {
    payload = undefined; // BigInt, cycles
  }
  if (payload === undefined) throw badRequest("payload", "payload must be JSON-serialisable");
  const now = clock.now();
  return insertJob(
    db,
    { tenantId: input.tenantId, kind: input.kind, payload, runAt: input.runAt ?? now, maxAttempts, dedupeKey: input.dedupeKey ?? null },
    now,
  );
}

export interface ClaimOptions {
  owner: string;
  leaseSeconds: number;
  /** only jobs of these kinds (a worker claims only what it has handlers for) */
  kinds?: readonly string[];
}

interface DueTenant {
  tenantId: string;
  oldestRunAt: Date | null;
}

/**
 * Pure fairness order: tenants never served first, then the one served longest ago; ties go to
 * the tenant whose oldest due job has waited longest, then to the tenant id (determinism).
 */
export function fairTenantOrder(due: DueTenant[], served: Map<string, Date>): string[] {
  const key = (t: DueTenant) => served.get(t.tenantId)?.getTime() ?? Number.NEGATIVE_INFINITY;
  return [...due]
    .sort(
      (a, b) =>
        key(a) - key(b) ||
        (a.oldestRunAt?.getTime() ?? 0) - (b.oldestRunAt?.getTime() ?? 0) ||
        (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0),
    )
    .map((t) => t.tenantId);
}

/**
 * The stamp that sends a served tenant to the back of the line: later than every competing
 * tenant's stamp even when the clock has not moved (a frozen test clock, or many claims within one
 * millisecond) — with plain `now`, equal stamps would tie and the tie-break would always pick the
 * same tenant, starving the others.
 */
export function servedStamp(served: Map<string, Date>, now: Date): Date {
  let latest = now.getTime() - 1;
  for (const d of served.values()) latest = Math.max(latest, d.getTime());
  return new Date(Math.max(now.getTime(), latest + 1));
}

/**
 * Claim the next job: fairly across tenants (the tenant with due work served least recently goes
 * first), then that tenant's oldest due job. Returns null when nothing is due.
 *
 * No locks are held between the read and the claim; the claim is a compare-and-set on the row as
 * read (see `leaseJob`). A claimer that loses the race tries the tenant's next candidate, then
 * re-reads the queue. Stamping the tenant after the claim is not atomic with it on purpose: a crash
 * between the two costs one round of fairness, never a job.
 */
export async function claimNext(db: Db, opts: ClaimOptions, clock: Clock): Promise<ClaimedJob | null> {
  if (opts.kinds && opts.kinds.length === 0) return null;
  if (!(opts.leaseSeconds > 0)) throw new Error("leaseSeconds must be positive");
  if (isPostgres(db)) return claimNextOnPostgres(db, opts, clock);
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const now = clock.now();
    const due = await dueTenants(db, now, opts.kinds);
    if (due.length === 0) return null;
    const served = await lastServed(
      db,
      due.map((t) => t.tenantId),
    );
    for (const tenantId of fairTenantOrder(due, served)) {
      for (const candidate of await dueJobsOf(db, tenantId, now, opts.kinds, CLAIM_CANDIDATES)) {
        // Its last worker died holding the final attempt: retrying would exceed maxAttempts.
        if (candidate.status === "LEASED" && candidate.attempts >= candidate.maxAttempts) {
          await expireExhaustedJob(db, candidate, `lease expired after ${candidate.attempts} attempts`, now);
          continue;
        }
        const leaseUntil = new Date(now.getTime() + opts.leaseSeconds * 1000);
        const job = await leaseJob(db, candidate, opts.owner, leaseUntil, now);
        if (job) {
          await markTenantServed(db, tenantId, servedStamp(served, now));
          return job;
        }
      }
    }
  }
  return null;
}

/**
 * PostgreSQL: the same order and guarantees in one statement per claim (`claimNextPg`: row locks
 * with SKIP LOCKED instead of read-then-compare-and-set). A round that released expired leases
 * claims again, since the released jobs become visible only to the next statement.
 */
async function claimNextOnPostgres(db: Db, opts: ClaimOptions, clock: Clock): Promise<ClaimedJob | null> {
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const now = clock.now();
    const leaseUntil = new Date(now.getTime() + opts.leaseSeconds * 1000);
    const { job, released } = await claimNextPg(db, opts.owner, leaseUntil, now, opts.kinds);
    if (job || released === 0) return job;
  }
  return null;
}

/** Exponential backoff after the `attempts`-th failed attempt (1-based), capped. */
export function backoffSeconds(attempts: number): number {
  return Math.min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempts - 1));
}

/** The error as stored on the job and shown to admins: no secrets, no stack, at most 500 chars. */
export function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // Prisma puts a source excerpt between the failed call and the cause; 500 chars of excerpt
  // would push out the one line that matters, so keep the first line and the cause.
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const first = lines[0] ?? "";
  const body = first.startsWith("Invalid `") && lines.length > 1 ? `${first.replace(/( in|:)$/, "")}: ${lines.at(-1)}` : lines.join(" | ");
  let text = err instanceof Error ? `${err.name}: ${body}` : body;
  // Connection strings and tokens end up in driver errors: the one redactor (engine/redact.ts).
  text = redactText(text);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

/**
 * Thrown by a handler to steer the retry: `permanent` fails the job now (retrying cannot help,
 * e.g. an invalid payload); `retryAfterSeconds` honours a rate limit's hint; `deferred` says the
 * handler did nothing because the work must wait (backpressure: a connector's concurrency cap) —
 * the job is re-queued after `retryAfterSeconds` without spending an attempt, so waiting for a
 * slot can never exhaust it into FAILED.
 */
export class JobError extends Error {
  readonly permanent: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly deferred: boolean;
  constructor(message: string, opts: { permanent?: boolean; retryAfterSeconds?: number; deferred?: boolean } = {}) {
    super(message);
    this.name = "JobError";
    this.permanent = opts.permanent ?? false;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.deferred = opts.deferred ?? false;
  }
}

/** Complete a job. False when this worker no longer holds the lease; the result is then discarded. */
export async function completeJob(db: DbOrTx, job: LeaseToken, owner: string, result: unknown, clock: Clock): Promise<boolean> {
  const text = JSON.stringify(redactSecrets(result ?? null)) ?? "null";
  return finishLeasedJob(db, job, owner, { status: "DONE", result: text }, clock.now());
}

export type FailOutcome = { status: "QUEUED"; runAt: Date } | { status: "FAILED" } | { status: "LEASE_LOST" };

/**
 * Record a failed attempt: back to QUEUED after a backoff while attempts remain, else FAILED.
 * Refused (LEASE_LOST) unless this worker holds the current, unexpired lease.
 */
export async function failJob(
  db: DbOrTx,
  job: LeaseToken & { maxAttempts: number },
  owner: string,
  error: unknown,
  opts: { retryAfterSeconds?: number; permanent?: boolean; deferred?: boolean },
  clock: Clock,
): Promise<FailOutcome> {
  const now = clock.now();
  const lastError = describeError(error);
  if (opts.deferred && !opts.permanent) {
    const runAt = new Date(now.getTime() + Math.max(0, opts.retryAfterSeconds ?? BACKOFF_BASE_SECONDS) * 1000);
    const ok = await finishLeasedJob(db, job, owner, { status: "QUEUED", runAt, lastError, deferred: true }, now);
    return ok ? { status: "QUEUED", runAt } : { status: "LEASE_LOST" };
  }
  if (opts.permanent || job.attempts >= job.maxAttempts) {
    const ok = await finishLeasedJob(db, job, owner, { status: "FAILED", lastError }, now);
    return ok ? { status: "FAILED" } : { status: "LEASE_LOST" };
  }
  const delay = opts.retryAfterSeconds !== undefined ? Math.max(0, opts.retryAfterSeconds) : backoffSeconds(job.attempts);
  const runAt = new Date(now.getTime() + delay * 1000);
  const ok = await finishLeasedJob(db, job, owner, { status: "QUEUED", runAt, lastError }, now);
  return ok ? { status: "QUEUED", runAt } : { status: "LEASE_LOST" };
}

export interface JobContext {
  db: Db;
  clock: Clock;
  job: { id: string; tenantId: string; kind: string; attempt: number; maxAttempts: number; leaseUntil: Date };
}

/**
 * A job handler. MUST be idempotent (see the contract at the top of this file): it may run again
 * for the same job after a crash, and its return value is stored as the job's result.
 */
export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<unknown>;
export type JobHandlers = Record<string, JobHandler>;

export type JobRunOutcome = "DONE" | "RETRY" | "FAILED" | "LEASE_LOST";

export interface TickSummary {
  claimed: number;
  completed: number;
  retried: number;
  failed: number;
  /** finished after losing the lease: the outcome was discarded and another worker owns the job */
  leaseLost: number;
  jobs: JobRun[];
}

export interface JobRun {
  id: string;
  tenantId: string;
  kind: string;
  attempt: number;
  outcome: JobRunOutcome;
}

export interface TickOptions {
  owner: string;
  leaseSeconds: number;
  maxJobs: number;
  clock: Clock;
  /** stop claiming once aborted; a job already running is finished, not abandoned */
  signal?: AbortSignal;
  /** called as each job finishes, before the next claim (logs, metrics) */
  onJob?: (run: JobRun) => void;
}

/**
 * One worker tick: claim up to `maxJobs` jobs one at a time (only kinds this worker has handlers
 * for) and run each to completion or failure. Claiming one at a time keeps leases short-lived and
 * lets other workers take the rest in parallel.
 */
export async function runWorkerTick(db: Db, handlers: JobHandlers, opts: TickOptions): Promise<TickSummary> {
  const summary: TickSummary = { claimed: 0, completed: 0, retried: 0, failed: 0, leaseLost: 0, jobs: [] };
  const kinds = Object.keys(handlers);
  while (summary.claimed < opts.maxJobs && !opts.signal?.aborted) {
    const job = await claimNext(db, { owner: opts.owner, leaseSeconds: opts.leaseSeconds, kinds }, opts.clock);
    if (!job) break;
    summary.claimed++;
    const outcome = await runOne(db, handlers, job, opts);
    if (outcome === "DONE") summary.completed++;
    else if (outcome === "RETRY") summary.retried++;
    else if (outcome === "FAILED") summary.failed++;
    else summary.leaseLost++;
    const run = { id: job.id, tenantId: job.tenantId, kind: job.kind, attempt: job.attempts, outcome };
    summary.jobs.push(run);
    opts.onJob?.(run);
  }
  return summary;
}

async function runOne(db: Db, handlers: JobHandlers, job: ClaimedJob, opts: TickOptions): Promise<JobRunOutcome> {
  const handler = handlers[job.kind];
  let result: unknown;
  try {
    if (!handler) throw new JobError(`no handler for job kind ${job.kind}`, { permanent: true });
    let payload: unknown;
    try {
      payload = JSON.parse(job.payload);
    } catch {
      throw new JobError("payload is not valid JSON", { permanent: true });
    }
    result = await handler(payload, {
      db,
      clock: opts.clock,
      job: {
        id: job.id,
        tenantId: job.tenantId,
        kind: job.kind,
        attempt: job.attempts,
        maxAttempts: job.maxAttempts,
        leaseUntil: job.leaseUntil ?? new Date(0),
      },
    });
  } catch (err) {
    const steer =
      err instanceof JobError ? { permanent: err.permanent, retryAfterSeconds: err.retryAfterSeconds, deferred: err.deferred } : {};
    const res = await failJob(db, job, opts.owner, err, steer, opts.clock);
    return res.status === "QUEUED" ? "RETRY" : res.status;
  }
  return (await completeJob(db, job, opts.owner, result, opts.clock)) ? "DONE" : "LEASE_LOST";
}

/** A job as shown on the admin page: JSON decoded, status narrowed. */
export interface JobView extends Omit<JobRow, "payload" | "result" | "status"> {
  status: JobStatus;
  payload: unknown;
  result: unknown;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toView(row: JobRow): JobView {
  return { ...row, status: row.status as JobStatus, payload: parseJson(row.payload), result: parseJson(row.result) };
}

/** One tenant's jobs, newest first. The tenant id comes from the caller's viewer, never from input. */
export async function listJobs(db: DbOrTx, tenantId: string, filter: JobFilter, page: { limit: number; cursor?: string }) {
  const res = await listJobRows(db, tenantId, filter, page);
  return { items: res.items.map(toView), nextCursor: res.nextCursor };
}

export interface QueueStats {
  total: number;
  byStatus: Record<JobStatus, number>;
  byKind: Record<string, Record<JobStatus, number>>;
  /** seconds the longest-waiting due job has waited past its runAt; null when nothing is due */
  oldestDueAgeSeconds: number | null;
}

const zeroCounts = (): Record<JobStatus, number> => Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
const isStatus = (s: string): s is JobStatus => (JOB_STATUSES as readonly string[]).includes(s);

export async function queueStats(db: DbOrTx, tenantId: string, clock: Clock): Promise<QueueStats> {
  const now = clock.now();
  const [byStatusRows, byKindRows, oldest] = await Promise.all([
    countJobsByStatus(db, tenantId),
    countJobsByKindAndStatus(db, tenantId),
    oldestDueJob(db, tenantId, now),
  ]);
  const byStatus = zeroCounts();
  for (const r of byStatusRows) if (isStatus(r.status)) byStatus[r.status] += r.count;
  const byKind: Record<string, Record<JobStatus, number>> = {};
  for (const r of byKindRows) {
    if (!isStatus(r.status)) continue;
    const counts = byKind[r.kind] ?? zeroCounts();
    counts[r.status] += r.count;
    byKind[r.kind] = counts;
  }
  return {
    total: Object.values(byStatus).reduce((a, b) => a + b, 0),
    byStatus,
    byKind,
    oldestDueAgeSeconds: oldest ? Math.max(0, Math.floor((now.getTime() - oldest.runAt.getTime()) / 1000)) : null,
  };
}
