import type { DbOrTx, Tx } from "../db";
import { Prisma } from "../generated/sqlite/client.ts";
import { decodeCursor, encodeCursor } from "./cursor";
import { tenantWhere, type Viewer } from "./scope";

/**
 * An input of an account's heat changed (a signal arrived, its posture moved, it was created by a
 * sync or an import): the `heat` job must look at it on its next tick. Called inside the writer's
 * transaction so the mark is never lost or left behind. The row's other columns keep their
 * defaults until the job computes them (a new account is COLD, score 0, since now).
 *
 * Lock order: call it BEFORE appending to the ledger in the same transaction. The heat job locks
 * AccountHeat rows and then the tenant's ledger head; a writer taking them the other way round
 * could deadlock with it on PostgreSQL.
 */
export function markHeatDirty(tx: DbOrTx, tenantId: string, accountId: string, now: Date) {
  return tx.accountHeat.upsert({
    where: { tenantId_accountId: { tenantId, accountId } },
    create: { tenantId, accountId, since: now, dirtyAt: now },
    update: { dirtyAt: now },
  });
}

export interface HeatKey {
  tenantId: string;
  accountId: string;
}

/**
 * The next page of rows the job must look at — dirty, or due for a recheck — in primary-key order
 * after `after`. Keyset paging: a row re-marked while the tick runs is left for the next tick
 * rather than looping this one forever.
 */
export function heatWorkPage(db: DbOrTx, now: Date, after: HeatKey | null, take: number) {
  return db.accountHeat.findMany({
    where: {
      AND: [
        { OR: [{ dirtyAt: { not: null } }, { recheckAt: { lte: now } }] },
        ...(after
          ? [{ OR: [{ tenantId: { gt: after.tenantId } }, { tenantId: after.tenantId, accountId: { gt: after.accountId } }] }]
          : []),
      ],
    },
    orderBy: [{ tenantId: "asc" }, { accountId: "asc" }],
    select: { tenantId: true, accountId: true },
    take,
  });
}

/**
 * Take the rows for this transaction: a no-op write, so on PostgreSQL it holds their row locks
 * and on SQLite the write lock until commit. Concurrent ticks then compute one after the other
 * from each other's results, and a signal intake marking one of them waits for the commit.
 */
export async function lockHeatRows(tx: Tx, tenantId: string, accountIds: string[]) {
  if (accountIds.length === 0) return;
  await tx.$executeRaw`UPDATE "AccountHeat" SET "tenantId" = "tenantId" WHERE "tenantId" = ${tenantId} AND "accountId" IN (${Prisma.join(accountIds)})`;
}

export function heatRowsFor(db: DbOrTx, tenantId: string, accountIds: string[]) {
  return db.accountHeat.findMany({ where: tenantWhere(tenantId, { accountId: { in: accountIds } }) });
}

export function heatAccounts(db: DbOrTx, tenantId: string, accountIds: string[]) {
  return db.account.findMany({
    where: tenantWhere(tenantId, { id: { in: accountIds } }),
    select: { id: true, posture: true, createdAt: true },
  });
}

/** Signals of these accounts received in (from, to]: what the job folds in. */
export function heatSignals(db: DbOrTx, tenantId: string, accountIds: string[], from: Date, to: Date) {
  return db.signal.findMany({
    where: tenantWhere(tenantId, { accountId: { in: accountIds }, receivedAt: { gt: from, lte: to } }),
    select: { accountId: true, severity: true, occurredAt: true, receivedAt: true },
  });
}

export function deleteHeatRows(tx: Tx, tenantId: string, accountIds: string[]) {
  return tx.accountHeat.deleteMany({ where: tenantWhere(tenantId, { accountId: { in: accountIds } }) });
}

export interface HeatWrite {
  accountId: string;
  score: number;
  tier: string;
  since: Date;
  mass: number;
  recent: string;
  pendingTier: string | null;
  pendingSince: Date | null;
  computedAt: Date;
  recheckAt: Date | null;
  /** the dirty mark as read; the mark is cleared only if it is still exactly this (null: keep it) */
  clearDirtyAt: Date | null;
}

/** Rows per statement: 12 bound values each stays far below both databases' parameter limits. */
const CHUNK = 500;

function chunks<T>(xs: T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * One upsert statement per chunk. The dirty mark is cleared only where it still equals the one
 * the job read: a signal that re-marked the row meanwhile keeps it dirty for the next tick.
 */
export async function writeHeat(tx: Tx, tenantId: string, rows: HeatWrite[]) {
  for (const part of chunks(rows)) {
    const values = part.map(
      (r) =>
        Prisma.sql`(${tenantId}, ${r.accountId}, ${r.score}, ${r.tier}, ${r.since}, ${r.mass}, ${r.recent}, ${r.pendingTier}, ${r.pendingSince}, ${r.computedAt}, ${r.clearDirtyAt}, ${r.recheckAt})`,
    );
    await tx.$executeRaw`INSERT INTO "AccountHeat" ("tenantId", "accountId", "score", "tier", "since", "mass", "recent", "pendingTier", "pendingSince", "computedAt", "dirtyAt", "recheckAt")
      VALUES ${Prisma.join(values)}
      ON CONFLICT ("tenantId", "accountId") DO UPDATE SET
        "score" = excluded."score", "tier" = excluded."tier", "since" = excluded."since", "mass" = excluded."mass",
        "recent" = excluded."recent", "pendingTier" = excluded."pendingTier", "pendingSince" = excluded."pendingSince",
        "computedAt" = excluded."computedAt", "recheckAt" = excluded."recheckAt",
        "dirtyAt" = CASE WHEN "AccountHeat"."dirtyAt" = excluded."dirtyAt" THEN NULL ELSE "AccountHeat"."dirtyAt" END`;
  }
}

export interface RollupWrite {
  accountId: string;
  day: string;
  maxScore: number;
  lastScore: number;
  tier: string;
}

/** Daily rollups: the day's highest score is kept, the last score and tier replaced. */
export async function writeRollups(tx: Tx, tenantId: string, rows: RollupWrite[]) {
  for (const part of chunks(rows)) {
    const values = part.map((r) => Prisma.sql`(${tenantId}, ${r.accountId}, ${r.day}, ${r.maxScore}, ${r.lastScore}, ${r.tier})`);
    await tx.$executeRaw`INSERT INTO "HeatRollup" ("tenantId", "accountId", "day", "maxScore", "lastScore", "tier")
      VALUES ${Prisma.join(values)}
      ON CONFLICT ("tenantId", "accountId", "day") DO UPDATE SET
        "maxScore" = CASE WHEN excluded."maxScore" > "HeatRollup"."maxScore" THEN excluded."maxScore" ELSE "HeatRollup"."maxScore" END,
        "lastScore" = excluded."lastScore", "tier" = excluded."tier"`;
  }
}

// ---------------------------------------------------------------------------------------------
// Reads

/** The stored heat of some accounts (one query, tenant-scoped); absent ones have no row yet. */
export async function heatOf(db: DbOrTx, tenantId: string, accountIds: string[]) {
  if (accountIds.length === 0) return new Map<string, { score: number; tier: string; since: Date; computedAt: Date | null }>();
  const rows = await db.accountHeat.findMany({
    where: tenantWhere(tenantId, { accountId: { in: [...new Set(accountIds)] } }),
    select: { accountId: true, score: true, tier: true, since: true, computedAt: true },
  });
  return new Map(rows.map((r) => [r.accountId, { score: r.score, tier: r.tier, since: r.since, computedAt: r.computedAt }]));
}

/** Scores are stored rounded to 1e-6, so a cursor carries one exactly as an integer. */
export const SCORE_UNITS = 1_000_000;

function ownerClause(viewer: Viewer) {
  return viewer.role === "SELLER" && viewer.userId ? Prisma.sql` AND a."ownerId" = ${viewer.userId}` : Prisma.empty;
}

/**
 * The viewer's accounts, hottest first (score desc, then id), every account included — one
 * without a heat row is COLD with score 0. Keyset cursor on (score, id).
 */
export async function hottestAccounts(db: DbOrTx, viewer: Viewer, page: { limit: number; cursor?: string }) {
  const c = page.cursor ? decodeCursor(page.cursor, { s: "int32", i: "id" }) : undefined;
  const after = c
    ? Prisma.sql` AND (COALESCE(h."score", 0) < ${c.s / SCORE_UNITS} OR (COALESCE(h."score", 0) = ${c.s / SCORE_UNITS} AND a."id" > ${c.i}))`
    : Prisma.empty;
  const rows = await db.$queryRaw<
    {
      id: string;
      name: string;
      score: number;
      tier: string;
      pendingTier: string | null;
      since: Date | string | null;
      createdAt: Date | string;
    }[]
  >`
    SELECT a."id", a."name", COALESCE(h."score", 0) AS "score", COALESCE(h."tier", 'COLD') AS "tier", h."pendingTier",
      CASE WHEN h."computedAt" IS NULL THEN NULL ELSE h."since" END AS "since", a."createdAt"
    FROM "Account" a LEFT JOIN "AccountHeat" h ON h."tenantId" = a."tenantId" AND h."accountId" = a."id"
    WHERE a."tenantId" = ${viewer.tenantId}${ownerClause(viewer)}${after}
    ORDER BY COALESCE(h."score", 0) DESC, a."id" ASC
    LIMIT ${page.limit + 1}`;
  const items = rows.slice(0, page.limit).map((r) => ({
    accountId: r.id,
    name: r.name,
    score: Number(r.score),
    tier: r.tier,
    /** the tier the score points to while hysteresis holds the current one */
    pendingTier: r.pendingTier,
    since: new Date(r.since ?? r.createdAt),
  }));
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last ? encodeCursor({ s: Math.round(last.score * SCORE_UNITS), i: last.accountId }) : null,
  };
}

/** How many of the viewer's accounts are in each tier (accounts without a row count as COLD). */
export async function heatTierCounts(db: DbOrTx, viewer: Viewer) {
  const rows = await db.$queryRaw<{ tier: string; n: number | bigint }[]>`
    SELECT COALESCE(h."tier", 'COLD') AS "tier", COUNT(*) AS "n"
    FROM "Account" a LEFT JOIN "AccountHeat" h ON h."tenantId" = a."tenantId" AND h."accountId" = a."id"
    WHERE a."tenantId" = ${viewer.tenantId}${ownerClause(viewer)}
    GROUP BY COALESCE(h."tier", 'COLD')`;
  return rows.map((r) => ({ tier: r.tier, count: Number(r.n) }));
}

export function heatRollups(db: DbOrTx, tenantId: string, accountId: string, fromDay: string) {
  return db.heatRollup.findMany({
    where: tenantWhere(tenantId, { accountId, day: { gte: fromDay } }),
    orderBy: { day: "asc" },
    select: { day: true, maxScore: true, lastScore: true, tier: true },
  });
}
