import type { DbOrTx, Tx } from "../db";
import { UNDECIDED_STATUSES } from "../engine/outcomes";
import { Prisma } from "../generated/sqlite/client.ts";
import { tenantWhere } from "./scope";
import { isPostgres } from "./tx";

/**
 * Learning-loop persistence (SPEC §4.5): the weights registry and its pointer, calibration runs,
 * shadow and guard evaluations, and the reads that turn decided intents into labelled rows.
 *
 * Scope: a tenant's rows carry its id; the GLOBAL scope is the tenant id "" (GLOBAL). Nothing here
 * takes a tenant id from request input — services pass the viewer's.
 */
export const GLOBAL = "";

// ───────────── the pointer (LearningState) ─────────────

export function learningState(db: DbOrTx, tenantId: string) {
  return db.learningState.findUnique({ where: { tenantId } });
}

/** Create the scope's pointer row if it is missing (idempotent under concurrency). */
export async function ensureLearningState(tx: DbOrTx, tenantId: string, now: Date) {
  await tx.$executeRaw`INSERT INTO "LearningState" ("tenantId", "history", "revision", "settings", "updatedAt")
    VALUES (${tenantId}, '[]', 0, '{}', ${now}) ON CONFLICT ("tenantId") DO NOTHING`;
}

export function saveLearningSettings(tx: Tx, tenantId: string, settings: string, actorId: string | null, now: Date) {
  return tx.learningState.update({ where: { tenantId }, data: { settings, updatedBy: actorId, updatedAt: now } });
}

/**
 * Move the pointer, only if nobody moved it since `revision` was read: the conditional update is
 * what makes promote and rollback safe under concurrent callers on any number of instances.
 */
export async function flipActive(
  tx: Tx,
  tenantId: string,
  revision: number,
  data: { activeId: string | null; history: string; guard: string | null },
  actorId: string | null,
  now: Date,
) {
  const res = await tx.learningState.updateMany({
    where: { tenantId, revision },
    data: { ...data, revision: revision + 1, updatedBy: actorId, updatedAt: now },
  });
  return res.count === 1;
}

/** Replace the guard watch (the pointer stays), again only at the revision that was read. */
export async function setGuard(tx: Tx, tenantId: string, revision: number, guard: string | null, now: Date) {
  const res = await tx.learningState.updateMany({ where: { tenantId, revision }, data: { guard, revision: revision + 1, updatedAt: now } });
  return res.count === 1;
}

/** Pointers with a guard watch running, across tenants (the `shadow` job's work list). */
export function guardedStates(db: DbOrTx) {
  return db.learningState.findMany({ where: { guard: { not: null } }, orderBy: { tenantId: "asc" } });
}

// ───────────── weights versions ─────────────

export function weightsById(db: DbOrTx, tenantId: string, id: string) {
  return db.rankingWeights.findFirst({ where: tenantWhere(tenantId, { id }) });
}

/** The versions a tenant can see: its own and the GLOBAL ones, newest first. */
export function listWeights(db: DbOrTx, tenantId: string, take: number) {
  return db.rankingWeights.findMany({
    where: { tenantId: { in: [tenantId, GLOBAL] } },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take,
  });
}

export function candidatesOf(db: DbOrTx, tenantId: string) {
  return db.rankingWeights.findMany({ where: tenantWhere(tenantId, { status: "CANDIDATE" }), orderBy: { createdAt: "asc" } });
}

/** Tenants (and GLOBAL) with at least one CANDIDATE: the shadow job's work list. */
export async function tenantsWithCandidates(db: DbOrTx) {
  const rows = await db.rankingWeights.findMany({ where: { status: "CANDIDATE" }, select: { tenantId: true }, distinct: ["tenantId"] });
  return rows.map((r) => r.tenantId).sort();
}

export async function nextWeightsVersion(tx: Tx, tenantId: string) {
  const top = await tx.rankingWeights.findFirst({ where: { tenantId }, orderBy: { version: "desc" }, select: { version: true } });
  return (top?.version ?? 0) + 1;
}

export function insertWeights(
  tx: Tx,
  data: { tenantId: string; version: number; featuresVersion: string; model: string; provenance: string; createdBy: string | null },
  now: Date,
) {
  return tx.rankingWeights.create({ data: { ...data, status: "CANDIDATE", createdAt: now } });
}

export function setWeightsStatus(tx: Tx, tenantId: string, id: string, status: "ACTIVE" | "RETIRED" | "CANDIDATE", now: Date) {
  return tx.rankingWeights.updateMany({
    where: tenantWhere(tenantId, { id }),
    data:
      status === "ACTIVE" ? { status, promotedAt: now, retiredAt: null } : status === "RETIRED" ? { status, retiredAt: now } : { status },
  });
}

// ───────────── calibration runs ─────────────

export function insertCalibrationRun(
  tx: DbOrTx,
  data: { tenantId: string; seed: number; actorType: string; actorId: string | null },
  now: Date,
) {
  return tx.calibrationRun.create({ data: { ...data, status: "QUEUED", createdAt: now } });
}

export function calibrationRun(db: DbOrTx, tenantId: string, id: string) {
  return db.calibrationRun.findFirst({ where: tenantWhere(tenantId, { id }) });
}

export function recentCalibrationRuns(db: DbOrTx, tenantId: string, take: number) {
  return db.calibrationRun.findMany({ where: tenantWhere(tenantId), orderBy: [{ createdAt: "desc" }, { id: "desc" }], take });
}

/** QUEUED → RUNNING (or a RUNNING one whose worker died, re-claimed by the queue): one winner. */
export async function claimCalibrationRun(db: DbOrTx, tenantId: string, id: string, now: Date) {
  const res = await db.calibrationRun.updateMany({
    where: tenantWhere(tenantId, { id, status: { in: ["QUEUED", "RUNNING"] } }),
    data: { status: "RUNNING", startedAt: now, progress: 0, phase: "LOADING", error: null },
  });
  return res.count === 1;
}

export function updateCalibrationRun(
  db: DbOrTx,
  tenantId: string,
  id: string,
  data: {
    status?: "RUNNING" | "COMPLETED" | "FAILED";
    phase?: string;
    progress?: number;
    rowsTotal?: number;
    rowsDone?: number;
    versionId?: string | null;
    error?: string | null;
    finishedAt?: Date;
  },
) {
  return db.calibrationRun.updateMany({ where: tenantWhere(tenantId, { id }), data });
}

// ───────────── shadow and guard evaluations ─────────────

export function insertShadowEvaluation(
  tx: DbOrTx,
  data: {
    tenantId: string;
    versionId: string;
    kind: "SHADOW" | "GUARD";
    metric: string;
    windowDays: number;
    minSample: number;
    threshold: number;
    value: number | null;
    baselineValue: number | null;
    sample: number;
    passed: boolean;
  },
  at: Date,
) {
  return tx.shadowEvaluation.create({ data: { ...data, at } });
}

export function latestEvaluations(db: DbOrTx, tenantId: string, versionIds: string[], kind: "SHADOW" | "GUARD") {
  return db.shadowEvaluation.findMany({
    where: { tenantId: { in: [tenantId, GLOBAL] }, versionId: { in: versionIds }, kind },
    orderBy: [{ at: "desc" }, { id: "desc" }],
  });
}

export function evaluationHistory(db: DbOrTx, tenantId: string, since: Date, take: number) {
  return db.shadowEvaluation.findMany({
    where: tenantWhere(tenantId, { at: { gte: since } }),
    orderBy: [{ at: "asc" }, { id: "asc" }],
    take,
  });
}

// ───────────── labelled rows ─────────────

/** Raw results carry dates as text: SQLite's stored form, or PostgreSQL JSON's (no zone: UTC). */
function asDate(v: unknown): Date {
  const t = String(v);
  return new Date(/[Zz]|[+-]\d\d:\d\d$/.test(t) ? t : `${t}Z`);
}

export interface DecidedIntent {
  id: string;
  actionType: string;
  confidence: number;
  rankScore: number;
  features: string | null;
  decision: string | null;
  createdAt: Date;
  /** its outcome labels and those of its edited versions (an idea edited and then sent is judged
   *  by what the sent version met) */
  labels: string[];
}

/**
 * Decided, original (not edited-version) intents created in [from, to), oldest first, keyset-paged
 * by (createdAt, id), each with its outcome labels (`DecidedIntent.labels`).
 *
 * One statement per page whose rows come back folded into one JSON text cell: a calibration
 * reads 100,000 intents, and converting them row by row through the client costs several times
 * the read itself. The cursor's instant is also the lower bound of the range, so the
 * (tenantId, createdAt) index scan starts at the cursor instead of filtering every earlier row
 * again on each page; the labels are read through the (tenantId, intentId) and
 * (tenantId, parentId) indexes.
 */
export async function decidedIntentsPage(
  db: DbOrTx,
  tenantId: string,
  range: { from: Date; to: Date },
  after: { createdAt: Date; id: string } | null,
  take: number,
): Promise<DecidedIntent[]> {
  const pg = isPostgres(db);
  const from = after && after.createdAt > range.from ? after.createdAt : range.from;
  // The rest of the keyset, as a filter only: an OR (or a row value) here makes SQLite split or
  // skip-scan the index and sort every remaining row of the range for each page.
  const keyset = after ? Prisma.sql` AND NOT (i."createdAt" = ${after.createdAt} AND i."id" <= ${after.id})` : Prisma.empty;
  // SQLite's statistics make "parentId IS NULL" look selective (most rows share the one NULL);
  // the unary + keeps its planner on the (tenantId, createdAt) index, which yields the page in order.
  const original = pg ? Prisma.sql`i."parentId" IS NULL` : Prisma.sql`+i."parentId" IS NULL`;
  const labels = (where: Prisma.Sql) =>
    pg
      ? Prisma.sql`(SELECT COALESCE(json_agg(o."label"), '[]'::json) ${where})`
      : Prisma.sql`(SELECT json_group_array(o."label") ${where})`;
  // SQLite: a subquery's JSON text reaches the outer query as plain text; json() makes it JSON again.
  const labelColumns = pg ? `p."own", p."edited"` : `json(p."own"), json(p."edited")`;
  const columns = `p."id", p."actionType", p."confidence", p."rankScore", p."features", p."decision", p."createdAt", ${labelColumns}`;
  const fold = pg
    ? Prisma.raw(`COALESCE(json_agg(json_build_array(${columns}) ORDER BY p."createdAt", p."id"), '[]'::json)::text`)
    : Prisma.raw(`json_group_array(json_array(${columns}) ORDER BY p."createdAt", p."id")`);
  const [row] = await db.$queryRaw<{ j: string }[]>`SELECT ${fold} AS "j" FROM (
      SELECT i."id", i."actionType", i."confidence", i."rankScore", i."features", i."decision", i."createdAt",
        ${labels(Prisma.sql`FROM "Outcome" o WHERE o."tenantId" = i."tenantId" AND o."intentId" = i."id"`)} AS "own",
        ${labels(
          Prisma.sql`FROM "ActionIntent" c JOIN "Outcome" o ON o."tenantId" = c."tenantId" AND o."intentId" = c."id"
            WHERE c."tenantId" = i."tenantId" AND c."parentId" = i."id"`,
        )} AS "edited"
      FROM "ActionIntent" i
      WHERE i."tenantId" = ${tenantId} AND ${original} AND i."status" NOT IN (${Prisma.join([...UNDECIDED_STATUSES])})
        AND i."createdAt" >= ${from} AND i."createdAt" < ${range.to}${keyset}
      ORDER BY i."createdAt", i."id" LIMIT ${take}
    ) p`;
  const rows = JSON.parse(row?.j ?? "[]") as unknown[][];
  return rows.map((r) => ({
    id: String(r[0]),
    actionType: String(r[1]),
    confidence: Number(r[2]),
    rankScore: Number(r[3]),
    features: (r[4] as string | null) ?? null,
    decision: (r[5] as string | null) ?? null,
    createdAt: asDate(r[6]),
    labels: [...(r[7] as string[]), ...(r[8] as string[])],
  }));
}

// ───────────── calibration: one at a time per tenant, progress, scheduling ─────────────

/**
 * Take the tenant's pointer row for this transaction: every request for a calibration passes
 * here first, so two concurrent requests check "is one already running?" one after the other.
 * PostgreSQL: a row lock. SQLite: the write takes the database write lock. The row is not
 * changed (its revision stays), so promote and rollback are not disturbed.
 */
export async function lockLearningState(tx: Tx, tenantId: string, now: Date) {
  await ensureLearningState(tx, tenantId, now);
  await tx.$executeRaw`UPDATE "LearningState" SET "tenantId" = "tenantId" WHERE "tenantId" = ${tenantId}`;
}

/** The tenant's QUEUED or RUNNING calibration, if any (there is at most one). */
export function activeCalibrationRun(db: DbOrTx, tenantId: string) {
  return db.calibrationRun.findFirst({
    where: tenantWhere(tenantId, { status: { in: ["QUEUED", "RUNNING"] } }),
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
}

/** When the tenant's last calibration that registered a candidate was asked for (null: never). */
export async function lastCompletedCalibrationAt(db: DbOrTx, tenantId: string) {
  const run = await db.calibrationRun.findFirst({
    where: tenantWhere(tenantId, { status: "COMPLETED" }),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    select: { createdAt: true },
  });
  return run?.createdAt ?? null;
}

/**
 * Finish a run, but only if it is still RUNNING under the claim that started at `startedAt`: a
 * late duplicate worker (its lease expired and the run was re-claimed) finds nothing to finish.
 */
export async function finishCalibrationRun(
  tx: DbOrTx,
  tenantId: string,
  id: string,
  startedAt: Date,
  data: { status: "COMPLETED" | "FAILED"; phase?: string; progress?: number; versionId?: string | null; error?: string | null },
  now: Date,
) {
  const res = await tx.calibrationRun.updateMany({
    where: tenantWhere(tenantId, { id, status: "RUNNING", startedAt }),
    data: { ...data, finishedAt: now },
  });
  return res.count === 1;
}

/** Decided, original intents created in [from, to): what `decidedIntentsPage` will read (progress total). */
export function countDecidedIntents(db: DbOrTx, tenantId: string, range: { from: Date; to: Date }) {
  return db.actionIntent.count({
    where: tenantWhere(tenantId, {
      parentId: null,
      status: { notIn: [...UNDECIDED_STATUSES] },
      createdAt: { gte: range.from, lt: range.to },
    }),
  });
}
