import type { DbOrTx, Tx } from "../db";
import { Prisma } from "../generated/sqlite/client";
import { accountWhere, tenantWhere, type Viewer } from "./scope";

/**
 * Outcome normalisation persistence (SPEC §4.5): the work lists of the `normalize` job, the
 * insert-once writes that let any number of concurrent normalizers record each outcome and each
 * gap exactly once, and the gap as a viewer sees it.
 *
 * The work lists are raw SQL because they are anti-joins ("decided, and no outcome of this kind")
 * that Prisma cannot express without relations; they are keyset-paged by intent id.
 */

/** Ids per `IN (…)` list: under SQLite's bound-parameter limit as Prisma counts it. */
const CHUNK = 400;

/** Raw results carry dates as Date, or as text (SQLite's stored form; PostgreSQL JSON has no zone: UTC). */
function asDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  const t = String(v);
  return new Date(/[Zz]|[+-]\d\d:\d\d$/.test(t) ? t : `${t}Z`);
}

const after = (id: string | null) => (id === null ? Prisma.empty : Prisma.sql` AND i."id" > ${id}`);

// ───────────── labels implied by the status ─────────────

export interface LabelCandidate {
  id: string;
  accountId: string;
  correlationId: string;
  status: string;
  /** the policy's reason code (why a BLOCKED intent was blocked) */
  reason: string | null;
}

/**
 * Intents in a status that implies a label (`labelForStatus`: status → label) without an outcome
 * of that label, ids after `afterId`, ascending.
 */
export async function labelCandidates(
  db: DbOrTx,
  tenantId: string,
  labelForStatus: Record<string, string>,
  afterId: string | null,
  take: number,
): Promise<LabelCandidate[]> {
  const entries = Object.entries(labelForStatus);
  const implied = Prisma.join(
    entries.map(([status, label]) => Prisma.sql`WHEN ${status} THEN ${label}`),
    " ",
  );
  return db.$queryRaw<LabelCandidate[]>`
    SELECT i."id", i."accountId", i."correlationId", i."status", i."reason" FROM "ActionIntent" i
    WHERE i."tenantId" = ${tenantId} AND i."status" IN (${Prisma.join(entries.map(([s]) => s))})${after(afterId)}
      AND NOT EXISTS (SELECT 1 FROM "Outcome" o WHERE o."tenantId" = i."tenantId" AND o."intentId" = i."id"
        AND o."label" = CASE i."status" ${implied} END)
    ORDER BY i."id" LIMIT ${take}`;
}

/** Every outcome label recorded on each of `ids` (their own, not their versions'). */
export async function labelsOf(db: DbOrTx, tenantId: string, ids: string[]) {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db.outcome.findMany({
      where: tenantWhere(tenantId, { intentId: { in: ids.slice(i, i + CHUNK) } }),
      select: { intentId: true, label: true },
    });
    for (const r of rows) out.get(r.intentId)?.push(r.label);
  }
  return out;
}

/** The original (non-replay) execution of each of `ids` that has one. */
export async function originalExecutionsOf(db: DbOrTx, tenantId: string, ids: string[]) {
  const out = new Map<string, { id: string; status: string; outcome: string | null; error: string | null; finishedAt: Date | null }>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db.execution.findMany({
      where: tenantWhere(tenantId, { intentId: { in: ids.slice(i, i + CHUNK) }, replayOf: null }),
      select: { id: true, intentId: true, status: true, outcome: true, error: true, finishedAt: true },
    });
    for (const { intentId, ...e } of rows) out.set(intentId, e);
  }
  return out;
}

/** The edited version that superseded each of `ids`, where there is one. */
export async function editedVersionsOf(db: DbOrTx, tenantId: string, ids: string[]) {
  const out = new Map<string, string>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db.actionIntent.findMany({
      where: tenantWhere(tenantId, { parentId: { in: ids.slice(i, i + CHUNK) } }),
      select: { id: true, parentId: true },
    });
    for (const r of rows) if (r.parentId) out.set(r.parentId, r.id);
  }
  return out;
}

export interface OutcomeInsert {
  /** deterministic (`<intentId>:<label>`, or `<intentId>:RESPONSE`): the key that makes it once */
  id: string;
  intentId: string;
  executionId: string | null;
  label: string;
  details: string;
}

/**
 * Insert outcomes whose id may already exist: `ON CONFLICT DO NOTHING RETURNING` answers the ids
 * this transaction inserted, so only their recorder ledgers them. Rows go in id order, so two
 * normalizers inserting overlapping pages wait on each other in one order and cannot deadlock
 * (PostgreSQL makes the second wait for the first's commit, then skip).
 */
export async function insertOutcomesOnce(tx: Tx, tenantId: string, rows: OutcomeInsert[], now: Date): Promise<Set<string>> {
  const out = new Set<string>();
  const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // 7 bound values per row.
  for (let i = 0; i < sorted.length; i += 200) {
    const values = sorted
      .slice(i, i + 200)
      .map((r) => Prisma.sql`(${r.id}, ${tenantId}, ${r.intentId}, ${r.executionId}, ${r.label}, ${r.details}, ${now})`);
    const got = await tx.$queryRaw<
      { id: string }[]
    >`INSERT INTO "Outcome" ("id", "tenantId", "intentId", "executionId", "label", "details", "createdAt")
      VALUES ${Prisma.join(values)} ON CONFLICT ("id") DO NOTHING RETURNING "id"`;
    for (const g of got) out.add(g.id);
  }
  return out;
}

// ───────────── response windows ─────────────

export interface ResponseCandidate {
  id: string;
  accountId: string;
  correlationId: string;
  executionId: string;
  /** when the outreach went out: its window opens here */
  finishedAt: Date;
}

/**
 * Outreach intents whose own execution succeeded and that have no response outcome yet (open
 * windows, and closed ones not recorded), ids after `afterId`, ascending.
 */
export async function responseCandidates(
  db: DbOrTx,
  tenantId: string,
  actionTypes: readonly string[],
  responseLabels: readonly string[],
  afterId: string | null,
  take: number,
): Promise<ResponseCandidate[]> {
  if (actionTypes.length === 0) return [];
  const rows = await db.$queryRaw<(Omit<ResponseCandidate, "finishedAt"> & { finishedAt: unknown })[]>`
    SELECT i."id", i."accountId", i."correlationId", e."id" AS "executionId", e."finishedAt" FROM "ActionIntent" i
    JOIN "Execution" e ON e."tenantId" = i."tenantId" AND e."intentId" = i."id" AND e."replayOf" IS NULL
    WHERE i."tenantId" = ${tenantId} AND i."status" = 'SUCCEEDED' AND i."actionType" IN (${Prisma.join(actionTypes)})${after(afterId)}
      AND e."status" = 'SUCCEEDED' AND e."finishedAt" IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM "Outcome" o WHERE o."tenantId" = i."tenantId" AND o."intentId" = i."id"
        AND o."label" IN (${Prisma.join(responseLabels)}))
    ORDER BY i."id" LIMIT ${take}`;
  return rows.map((r) => ({ ...r, finishedAt: asDate(r.finishedAt) as Date }));
}

/** Signals of `types` on `accountIds` that occurred at or after `since`. */
export async function signalsSince(db: DbOrTx, tenantId: string, accountIds: string[], types: readonly string[], since: Date) {
  const ids = [...new Set(accountIds)];
  const out: { id: string; accountId: string; type: string; occurredAt: Date; evidence: string }[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    out.push(
      ...(await db.signal.findMany({
        where: tenantWhere(tenantId, { accountId: { in: ids.slice(i, i + CHUNK) }, type: { in: [...types] }, occurredAt: { gte: since } }),
        select: { id: true, accountId: true, type: true, occurredAt: true, evidence: true },
      })),
    );
  }
  return out;
}

// ───────────── normalisation gaps ─────────────

export interface GapCandidate {
  id: string;
  accountId: string;
  correlationId: string;
  status: string;
  decidedAt: Date;
}

/**
 * Decided intents (status not in `undecided`) decided at or before `cutoff`, with no outcome at
 * all and not flagged yet, ids after `afterId`, ascending.
 */
export async function gapCandidates(
  db: DbOrTx,
  tenantId: string,
  undecided: readonly string[],
  cutoff: Date,
  afterId: string | null,
  take: number,
): Promise<GapCandidate[]> {
  const rows = await db.$queryRaw<(Omit<GapCandidate, "decidedAt"> & { decidedAt: unknown })[]>`
    SELECT i."id", i."accountId", i."correlationId", i."status", i."decidedAt" FROM "ActionIntent" i
    WHERE i."tenantId" = ${tenantId} AND i."decidedAt" IS NOT NULL AND i."decidedAt" <= ${cutoff}
      AND i."status" NOT IN (${Prisma.join(undecided)})${after(afterId)}
      AND NOT EXISTS (SELECT 1 FROM "Outcome" o WHERE o."tenantId" = i."tenantId" AND o."intentId" = i."id")
      AND NOT EXISTS (SELECT 1 FROM "NormalizationGap" g WHERE g."tenantId" = i."tenantId" AND g."intentId" = i."id")
    ORDER BY i."id" LIMIT ${take}`;
  return rows.map((r) => ({ ...r, decidedAt: asDate(r.decidedAt) as Date }));
}

/**
 * Flag `ids` as gaps, each at most once ever (the primary key), and only while it still has no
 * outcome — re-checked in the same statement, so an outcome recorded since the candidates were
 * read is not flagged. Returns the ids this transaction flagged: only those are ledgered.
 */
export async function insertGapsOnce(tx: Tx, tenantId: string, ids: string[], now: Date): Promise<Set<string>> {
  const out = new Set<string>();
  const sorted = [...new Set(ids)].sort();
  for (let i = 0; i < sorted.length; i += CHUNK) {
    const got = await tx.$queryRaw<{ intentId: string }[]>`
      INSERT INTO "NormalizationGap" ("tenantId", "intentId", "correlationId", "flaggedAt")
      SELECT i."tenantId", i."id", i."correlationId", ${now} FROM "ActionIntent" i
      WHERE i."tenantId" = ${tenantId} AND i."id" IN (${Prisma.join(sorted.slice(i, i + CHUNK))})
        AND NOT EXISTS (SELECT 1 FROM "Outcome" o WHERE o."tenantId" = i."tenantId" AND o."intentId" = i."id")
      ORDER BY i."id"
      ON CONFLICT ("tenantId", "intentId") DO NOTHING RETURNING "intentId"`;
    for (const g of got) out.add(g.intentId);
  }
  return out;
}

/** Open gaps whose intent has an outcome by now: to be marked resolved. */
export async function gapsWithOutcome(db: DbOrTx, tenantId: string, take: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ intentId: string }[]>`
    SELECT g."intentId" FROM "NormalizationGap" g
    WHERE g."tenantId" = ${tenantId} AND g."resolvedAt" IS NULL
      AND EXISTS (SELECT 1 FROM "Outcome" o WHERE o."tenantId" = g."tenantId" AND o."intentId" = g."intentId")
    ORDER BY g."intentId" LIMIT ${take}`;
  return rows.map((r) => r.intentId);
}

/** One row at a time by key: concurrent resolvers never hold two rows' locks, so cannot deadlock. */
export async function resolveGap(db: DbOrTx, tenantId: string, intentId: string, now: Date) {
  const res = await db.normalizationGap.updateMany({
    where: tenantWhere(tenantId, { intentId, resolvedAt: null }),
    data: { resolvedAt: now },
  });
  return res.count === 1;
}

// ───────────── the gap as a viewer sees it ─────────────

/** The seller's narrowing, taken from accountWhere so the rule lives in one place. */
function ownerClause(viewer: Viewer) {
  const { ownerId } = accountWhere(viewer);
  return ownerId ? Prisma.sql` AND a."ownerId" = ${ownerId}` : Prisma.empty;
}

/**
 * The gap now: the viewer's decided intents decided at or before `cutoff` with no outcome, and
 * the oldest decision among them. A seller counts only intents on accounts they own.
 */
export async function gapSummary(db: DbOrTx, viewer: Viewer, undecided: readonly string[], cutoff: Date) {
  const rows = await db.$queryRaw<{ gap: number | bigint; oldest: unknown }[]>`
    SELECT COUNT(*) AS "gap", MIN(i."decidedAt") AS "oldest" FROM "ActionIntent" i
    LEFT JOIN "Account" a ON a."tenantId" = i."tenantId" AND a."id" = i."accountId"
    WHERE i."tenantId" = ${viewer.tenantId} AND i."decidedAt" IS NOT NULL AND i."decidedAt" <= ${cutoff}
      AND i."status" NOT IN (${Prisma.join(undecided)})${ownerClause(viewer)}
      AND NOT EXISTS (SELECT 1 FROM "Outcome" o WHERE o."tenantId" = i."tenantId" AND o."intentId" = i."id")`;
  const row = rows[0];
  return { gap: Number(row?.gap ?? 0), oldestDecidedAt: asDate(row?.oldest) };
}

/**
 * Flagged gaps that are still open (no outcome yet, whatever the resolver has got to), newest
 * decision first, at most `take`. A seller sees only intents on accounts they own.
 */
export async function openGaps(db: DbOrTx, viewer: Viewer, take: number) {
  const rows = await db.$queryRaw<{ intentId: string; accountId: string; status: string; decidedAt: unknown; flaggedAt: unknown }[]>`
    SELECT g."intentId", i."accountId", i."status", i."decidedAt", g."flaggedAt" FROM "NormalizationGap" g
    JOIN "ActionIntent" i ON i."tenantId" = g."tenantId" AND i."id" = g."intentId"
    LEFT JOIN "Account" a ON a."tenantId" = i."tenantId" AND a."id" = i."accountId"
    WHERE g."tenantId" = ${viewer.tenantId} AND g."resolvedAt" IS NULL${ownerClause(viewer)}
      AND NOT EXISTS (SELECT 1 FROM "Outcome" o WHERE o."tenantId" = g."tenantId" AND o."intentId" = g."intentId")
    ORDER BY i."decidedAt" DESC, g."intentId" DESC LIMIT ${take}`;
  return rows.map((r) => ({ ...r, decidedAt: asDate(r.decidedAt), flaggedAt: asDate(r.flaggedAt) as Date }));
}
