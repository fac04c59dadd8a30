import { randomUUID } from "node:crypto";
import type { DbOrTx } from "../db";
import { type Job, Prisma } from "../generated/sqlite/client.ts";
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

/** What one PostgreSQL claim statement did: the job it leased (if any) and the expired leases it released. */
export interface PgClaim {
  job: JobRow | null;
  released: number;
}

/**
 * PostgreSQL only: the whole claim in ONE statement — release expired leases, pick the tenant,
 * lease its oldest due job, stamp the tenant — instead of the five round trips of the portable
 * path (`dueTenants`, `lastServed`, `dueJobsOf`, `leaseJob`, `markTenantServed`). It is typed raw
 * SQL because Prisma has neither `FOR UPDATE SKIP LOCKED` nor data-modifying CTEs, and the two are
 * what make it fast (issue 13: the portable path ran at 0.35× pg-boss on 300 jobs, worse as the
 * backlog grew, because `dueTenants` groups every due row on every claim):
 *
 * - `released`: every LEASED row past its lease goes back to QUEUED (or to FAILED when it has no
 *   attempts left — retrying would exceed maxAttempts). The old holder was already unable to finish
 *   (`finishLeasedJob` needs LEASED and an unexpired lease), so nothing about fencing changes; the
 *   row is claimable by the next statement (a CTE's writes are invisible to its siblings), and
 *   `claimNext` goes round again when `released` > 0. LEASED rows are few (one per busy worker),
 *   found through the (status, runAt) index.
 * - `tenants`: the distinct tenant ids of the job table by a recursive skip scan of the
 *   (tenantId, status, runAt) index — one index probe per tenant, never a scan of the due rows.
 * - `due`: per tenant, its oldest due QUEUED job's runAt (one index probe), and when it was last
 *   served. Fairness order as `fairTenantOrder`: never served first, then served longest ago, then
 *   oldest due job, then tenant id.
 * - `picked`: the first of the 4 first-in-line tenants that has an unlocked due job, its oldest, by
 *   `FOR UPDATE SKIP LOCKED`: concurrent claimers take different rows instead of losing a
 *   compare-and-set and re-reading. The row lock plus the status/runAt re-check in the UPDATE keep
 *   "one claim per job" (the UPDATE re-evaluates its WHERE on the locked, current row).
 * - `claimed` leases it (attempts + 1: the fencing token) and `served` stamps the tenant in the same
 *   statement with `servedStamp`'s rule: later than every due tenant's stamp even when the clock is
 *   frozen.
 */
export async function claimNextPg(
  db: DbOrTx,
  owner: string,
  leaseUntil: Date,
  now: Date,
  kinds: readonly string[] | undefined,
): Promise<PgClaim> {
  const kindList = kinds ? JSON.stringify(kinds) : null;
  const ofKind = (alias: string) =>
    kinds ? Prisma.sql` AND ${Prisma.raw(alias)}."kind" IN (SELECT jsonb_array_elements_text(${kindList}::jsonb))` : Prisma.empty;
  const at = Prisma.sql`${now}::timestamp(3)`;
  const rows = await db.$queryRaw<(JobRow & { released: number | null })[]>`
    WITH RECURSIVE released AS (
      UPDATE "Job" r SET
        "status" = CASE WHEN r."attempts" >= r."maxAttempts" THEN 'FAILED' ELSE 'QUEUED' END,
        "lastError" = CASE WHEN r."attempts" >= r."maxAttempts" THEN 'lease expired after ' || r."attempts" || ' attempts' ELSE r."lastError" END,
        "finishedAt" = CASE WHEN r."attempts" >= r."maxAttempts" THEN ${at} ELSE r."finishedAt" END,
        "leaseUntil" = NULL,
        "updatedAt" = ${at}
      WHERE r."id" IN (
        SELECT x."id" FROM "Job" x WHERE x."status" = 'LEASED' AND x."leaseUntil" < ${at}${ofKind("x")}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING 1
    ),
    tenants AS (
      (SELECT "tenantId" AS id FROM "Job" ORDER BY "tenantId" LIMIT 1)
      UNION ALL
      SELECT (SELECT j."tenantId" FROM "Job" j WHERE j."tenantId" > t.id ORDER BY j."tenantId" LIMIT 1)
      FROM tenants t WHERE t.id IS NOT NULL
    ),
    due AS (
      SELECT t.id, o."runAt" AS oldest, s."lastServedAt" AS served
      FROM tenants t
      CROSS JOIN LATERAL (
        SELECT j."runAt" FROM "Job" j
        WHERE j."tenantId" = t.id AND j."status" = 'QUEUED' AND j."runAt" <= ${at}${ofKind("j")}
        ORDER BY j."runAt" LIMIT 1
      ) o
      LEFT JOIN "TenantQueueState" s ON s."tenantId" = t.id
      WHERE t.id IS NOT NULL
    ),
    stamp AS (
      SELECT GREATEST(${at}, MAX(served) + interval '1 millisecond') AS v FROM due
    ),
    picked AS (
      SELECT c.id, f.id AS "tenantId"
      FROM (SELECT * FROM due ORDER BY served ASC NULLS FIRST, oldest, id LIMIT 4) f
      CROSS JOIN LATERAL (
        SELECT j."id" FROM "Job" j
        WHERE j."tenantId" = f.id AND j."status" = 'QUEUED' AND j."runAt" <= ${at}${ofKind("j")}
        ORDER BY j."runAt", j."createdAt", j."id"
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      ) c
      ORDER BY f.served ASC NULLS FIRST, f.oldest, f.id
      LIMIT 1
    ),
    claimed AS (
      UPDATE "Job" j SET
        "status" = 'LEASED', "leaseOwner" = ${owner}, "leaseUntil" = ${leaseUntil}::timestamp(3),
        "attempts" = j."attempts" + 1, "updatedAt" = ${at}
      FROM picked p
      WHERE j."id" = p.id AND j."status" = 'QUEUED' AND j."runAt" <= ${at}
      RETURNING j.*
    ),
    served AS (
      INSERT INTO "TenantQueueState" ("tenantId", "lastServedAt")
      SELECT c."tenantId", (SELECT v FROM stamp) FROM claimed c
      ON CONFLICT ("tenantId") DO UPDATE SET "lastServedAt" = EXCLUDED."lastServedAt"
    )
    SELECT c.*, (SELECT COUNT(*)::int FROM released) AS released
    FROM (SELECT 1) one LEFT JOIN claimed c ON true`;
  const row = rows[0];
  const released = row?.released ?? 0;
  if (!row || row.id === null) return { job: null, released };
  const { released: _, ...job } = row;
  return { job: job as JobRow, released };
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
