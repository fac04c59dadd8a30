import { randomUUID } from "node:crypto";
import type { DbOrTx } from "../db";
import type { Job } from "../generated/sqlite/client.ts";
import type { Page } from "../schemas/common";
import { decodeCursor, encodeCursor } from "./cursor";
import { tenantWhere } from "./scope";

/**
 * The only file that touches `Job` and `TenantQueueState`. Every write that moves a job between
 * states is a conditional update on the state the caller last saw: that single-statement
 * compare-and-set is what makes the queue safe with any number of claimers on SQLite and
 * PostgreSQL alike, without row locks held across round trips.
 */
export type JobRow = Job;

export const JOB_STATUSES = ["QUEUED", "LEASED", "DONE", "FAILED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface NewJob {
  tenantId: string;
  kind: string;
  /** JSON text */
  payload: string;
  runAt: Date;
  maxAttempts: number;
  dedupeKey: string | null;
}

/**
 * Insert a job; with a dedupe key, a second insert for the same (tenant, key) returns the first
 * job instead. `ON CONFLICT DO NOTHING` never raises, so this is race-safe under concurrent
 * enqueuers and also usable inside a transaction (a unique violation would abort a PostgreSQL
 * transaction). Both databases store the bound `Date`s exactly as Prisma's own writes do.
 */
export async function insertJob(db: DbOrTx, data: NewJob, now: Date): Promise<{ job: JobRow; created: boolean }> {
  if (data.dedupeKey === null) {
    const job = await db.job.create({ data: { ...data, status: "QUEUED", createdAt: now, updatedAt: now } });
    return { job, created: true };
  }
  const inserted = await db.$executeRaw`
    INSERT INTO "Job" ("id", "tenantId", "kind", "payload", "dedupeKey", "status", "runAt", "attempts", "maxAttempts", "createdAt", "updatedAt")
    VALUES (${randomUUID()}, ${data.tenantId}, ${data.kind}, ${data.payload}, ${data.dedupeKey}, ${"QUEUED"}, ${data.runAt}, ${0}, ${data.maxAttempts}, ${now}, ${now})
    ON CONFLICT ("tenantId", "dedupeKey") DO NOTHING`;
  // Read committed: this statement sees the winner's row even when another transaction inserted it.
  const job = await db.job.findUnique({ where: { tenantId_dedupeKey: { tenantId: data.tenantId, dedupeKey: data.dedupeKey } } });
  if (!job) throw new Error(`job with dedupe key ${data.dedupeKey} vanished after insert`);
  return { job, created: inserted === 1 };
}

export function findJob(db: DbOrTx, tenantId: string, id: string) {
  return db.job.findFirst({ where: tenantWhere(tenantId, { id }) });
}

/** The jobs queued under these dedupe keys (one tenant, one query); a key with no job is absent. */
export function jobsByDedupeKeys(db: DbOrTx, tenantId: string, keys: string[]) {
  return db.job.findMany({
    where: tenantWhere(tenantId, { dedupeKey: { in: [...new Set(keys)] } }),
    select: { dedupeKey: true, status: true, lastError: true },
  });
}

/**
 * Claimable now: queued and due, or leased with an expired lease (its worker died or stalled).
 * At exactly `leaseUntil` the lease still holds (see `finishLeasedJob`), so there is no instant
 * at which both the old owner may finish and a new owner may claim.
 */
function dueWhere(now: Date, kinds?: readonly string[]) {
  return {
    OR: [
      { status: "QUEUED", runAt: { lte: now } },
      { status: "LEASED", leaseUntil: { lt: now } },
    ],
    ...(kinds ? { kind: { in: [...kinds] } } : {}),
  };
}

/**
 * Tenants with claimable work and their oldest due `runAt`. Deliberately cross-tenant: the worker
 * serves every tenant, and fairness is decided between them.
 */
export async function dueTenants(db: DbOrTx, now: Date, kinds?: readonly string[]) {
  const rows = await db.job.groupBy({ by: ["tenantId"], where: dueWhere(now, kinds), _min: { runAt: true } });
  return rows.map((r) => ({ tenantId: r.tenantId, oldestRunAt: r._min.runAt }));
}

export async function lastServed(db: DbOrTx, tenantIds: string[]): Promise<Map<string, Date>> {
  const rows = await db.tenantQueueState.findMany({ where: { tenantId: { in: tenantIds } } });
  return new Map(rows.map((r) => [r.tenantId, r.lastServedAt]));
}

/** Native `INSERT … ON CONFLICT DO UPDATE` on both databases, so concurrent stamps never collide. */
export async function markTenantServed(db: DbOrTx, tenantId: string, at: Date) {
  await db.tenantQueueState.upsert({ where: { tenantId }, create: { tenantId, lastServedAt: at }, update: { lastServedAt: at } });
}

/** A tenant's oldest claimable jobs, oldest first. */
export function dueJobsOf(db: DbOrTx, tenantId: string, now: Date, kinds: readonly string[] | undefined, take: number) {
  return db.job.findMany({
    where: tenantWhere(tenantId, dueWhere(now, kinds)),
    orderBy: [{ runAt: "asc" }, { createdAt: "asc" }, { id: "asc" }],
    take,
  });
}

/**
 * The state a candidate was read in. `attempts` doubles as a version number: every claim bumps it,
 * so a row that was claimed (and perhaps retried back to QUEUED) after we read it no longer
 * matches, even though its status looks the same again.
 */
function unchangedSince(candidate: JobRow, now: Date) {
  const base = { id: candidate.id, tenantId: candidate.tenantId, attempts: candidate.attempts };
  return candidate.status === "QUEUED"
    ? { ...base, status: "QUEUED", runAt: { lte: now } }
    : { ...base, status: "LEASED", leaseUntil: { lt: now } };
}

/**
 * Take the lease on a candidate if nobody else did since we read it. One UPDATE … RETURNING: of
 * any number of concurrent claimers exactly one matches the row; the rest get null and move on.
 */
export async function leaseJob(db: DbOrTx, candidate: JobRow, owner: string, leaseUntil: Date, now: Date): Promise<JobRow | null> {
  const [job] = await db.job.updateManyAndReturn({
    where: unchangedSince(candidate, now),
    data: { status: "LEASED", leaseOwner: owner, leaseUntil, attempts: { increment: 1 }, updatedAt: now },
  });
  return job ?? null;
}

/** An expired lease on a job with no attempts left ends it, under the same compare-and-set. */
export async function expireExhaustedJob(db: DbOrTx, candidate: JobRow, error: string, now: Date) {
  const res = await db.job.updateMany({
    where: unchangedSince(candidate, now),
    data: { status: "FAILED", lastError: error, leaseUntil: null, finishedAt: now, updatedAt: now },
  });
  return res.count === 1;
}

/** Who holds a lease: the claim's owner and the attempt number it produced (the fencing token). */
export interface LeaseToken {
  id: string;
  tenantId: string;
  attempts: number;
}

export type LeasedJobOutcome =
  | { status: "DONE"; result: string }
  | { status: "QUEUED"; runAt: Date; lastError: string; deferred?: boolean }
  | { status: "FAILED"; lastError: string };

/**
 * Finish a leased job, only if this owner still holds this very lease, unexpired. A worker whose
 * lease expired and was re-claimed (even by a process with the same owner name: `attempts`
 * differs) matches nothing, so it can never overwrite the new owner's outcome.
 */
export async function finishLeasedJob(db: DbOrTx, lease: LeaseToken, owner: string, outcome: LeasedJobOutcome, now: Date) {
  const data =
    outcome.status === "QUEUED"
      ? {
          status: "QUEUED",
          runAt: outcome.runAt,
          lastError: outcome.lastError,
          leaseOwner: null,
          leaseUntil: null,
          // A deferral (backpressure) was not an attempt: the lease's increment is given back.
          ...(outcome.deferred ? { attempts: { decrement: 1 } } : {}),
        }
      : outcome.status === "DONE"
        ? { status: "DONE", result: outcome.result, leaseUntil: null, finishedAt: now }
        : { status: "FAILED", lastError: outcome.lastError, leaseUntil: null, finishedAt: now };
  const res = await db.job.updateMany({
    where: tenantWhere(lease.tenantId, {
      id: lease.id,
      status: "LEASED",
      leaseOwner: owner,
      attempts: lease.attempts,
      leaseUntil: { gte: now },
    }),
    data: { ...data, updatedAt: now },
  });
  return res.count === 1;
}

export interface JobFilter {
  status?: JobStatus;
  kind?: string;
}

/** Newest first; the cursor is (createdAt, id) of the last row so equal timestamps never skip rows. */
export async function listJobs(db: DbOrTx, tenantId: string, filter: JobFilter, page: { limit: number; cursor?: string }) {
  const after = page.cursor ? decodeCursor(page.cursor, { c: "epochMs", i: "id" }) : undefined;
  const rows = await db.job.findMany({
    where: tenantWhere(tenantId, {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.kind ? { kind: filter.kind } : {}),
      ...(after ? { OR: [{ createdAt: { lt: new Date(after.c) } }, { createdAt: new Date(after.c), id: { lt: after.i } }] } : {}),
    }),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last ? encodeCursor({ c: last.createdAt.getTime(), i: last.id }) : null,
  } satisfies Page<JobRow>;
}

export async function countJobsByStatus(db: DbOrTx, tenantId: string) {
  const rows = await db.job.groupBy({ by: ["status"], where: tenantWhere(tenantId), _count: { _all: true } });
  return rows.map((r) => ({ status: r.status, count: r._count._all }));
}

export async function countJobsByKindAndStatus(db: DbOrTx, tenantId: string) {
  const rows = await db.job.groupBy({ by: ["kind", "status"], where: tenantWhere(tenantId), _count: { _all: true } });
  return rows.map((r) => ({ kind: r.kind, status: r.status, count: r._count._all }));
}

/** The job that has waited longest for a worker (due and unclaimed, or with an expired lease). */
export function oldestDueJob(db: DbOrTx, tenantId: string, now: Date) {
  return db.job.findFirst({ where: tenantWhere(tenantId, dueWhere(now)), orderBy: [{ runAt: "asc" }, { id: "asc" }] });
}
