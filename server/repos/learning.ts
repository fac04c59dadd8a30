import type { DbOrTx, Tx } from "../db";
import { UNDECIDED_STATUSES } from "../engine/outcomes";
import { tenantWhere } from "./scope";

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

/**
 * Decided, original (not edited-version) intents created in [from, to), oldest first, keyset-paged
 * by (createdAt, id). Edited versions are folded into their original by `outcomeLabelsFor`.
 */
export function decidedIntentsPage(
  db: DbOrTx,
  tenantId: string,
  range: { from: Date; to: Date },
  after: { createdAt: Date; id: string } | null,
  take: number,
) {
  return db.actionIntent.findMany({
    where: tenantWhere(tenantId, {
      parentId: null,
      status: { notIn: [...UNDECIDED_STATUSES] },
      // The cursor's instant is also the lower bound, so the index scan starts at the cursor
      // instead of filtering every earlier row of the range again on each page.
      createdAt: { gte: after && after.createdAt > range.from ? after.createdAt : range.from, lt: range.to },
      ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
    }),
    select: { id: true, actionType: true, confidence: true, rankScore: true, features: true, decision: true, createdAt: true },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    take,
  });
}

/**
 * The outcome labels of each intent in `ids`, including those of its edited versions (an idea
 * edited and then sent is judged by what the sent version met).
 */
export async function outcomeLabelsFor(db: DbOrTx, tenantId: string, ids: string[]) {
  const labels = new Map<string, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return labels;
  const children = await db.actionIntent.findMany({
    where: tenantWhere(tenantId, { parentId: { in: ids } }),
    select: { id: true, parentId: true },
  });
  const rootOf = new Map<string, string>(ids.map((id) => [id, id]));
  for (const c of children) if (c.parentId) rootOf.set(c.id, c.parentId);
  const outcomes = await db.outcome.findMany({
    where: tenantWhere(tenantId, { intentId: { in: [...rootOf.keys()] } }),
    select: { intentId: true, label: true },
  });
  for (const o of outcomes) {
    const root = rootOf.get(o.intentId);
    if (root) labels.get(root)?.push(o.label);
  }
  return labels;
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
