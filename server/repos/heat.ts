import type { DbOrTx, Tx } from "../db";
import { Prisma } from "../generated/sqlite/client.ts";
import { decodeCursor, encodeCursor } from "./cursor";
import { tenantWhere, type Viewer } from "./scope";
import { isPostgres } from "./tx";

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

/**
 * markHeatDirty for a group of accounts in one statement (signal intake's group commit). Raw,
 * because Prisma has no multi-row upsert and one upsert per account is what the group saves.
 * Same lock-order rule as markHeatDirty: before the ledger, and rows in account order — the order
 * the heat job locks its page in (lockHeatPage), so the two cannot deadlock on PostgreSQL.
 */
export async function markHeatDirtyMany(tx: Tx, tenantId: string, accountIds: string[], now: Date) {
  const ids = [...new Set(accountIds)].sort();
  if (ids.length === 0) return;
  const values = ids.map((accountId) => Prisma.sql`(${tenantId}, ${accountId}, ${now}, ${now})`);
  await tx.$executeRaw`INSERT INTO "AccountHeat" ("tenantId", "accountId", "since", "dirtyAt") VALUES ${Prisma.join(values)}
    ON CONFLICT ("tenantId", "accountId") DO UPDATE SET "dirtyAt" = excluded."dirtyAt"`;
}

export interface HeatKey {
  tenantId: string;
  accountId: string;
}

/**
 * The next page of rows the job must look at — dirty, or due for a recheck — in primary-key order
 * after `after`. Keyset paging: a row re-marked while the tick runs is left for the next tick
 * rather than looping this one forever. The row-value comparison lets both databases seek the
 * primary key instead of rescanning it for every page.
 */
export async function heatWorkPage(db: DbOrTx, now: Date, after: HeatKey | null, take: number): Promise<HeatKey[]> {
  const keyset = after ? Prisma.sql` AND ("tenantId", "accountId") > (${after.tenantId}, ${after.accountId})` : Prisma.empty;
  return db.$queryRaw<HeatKey[]>`SELECT "tenantId", "accountId" FROM "AccountHeat"
    WHERE ("dirtyAt" IS NOT NULL OR "recheckAt" <= ${now})${keyset}
    ORDER BY "tenantId", "accountId" LIMIT ${take}`;
}

/** Raw results carry dates as Date, or as text (SQLite's stored form; PostgreSQL JSON has no zone: UTC). */
function asDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  const t = String(v);
  return new Date(/[Zz]|[+-]\d\d:\d\d$/.test(t) ? t : `${t}Z`);
}

export interface HeatPageRow {
  accountId: string;
  score: number;
  tier: string;
  since: Date;
  mass: number;
  recent: string;
  pendingTier: string | null;
  pendingSince: Date | null;
  computedAt: Date | null;
  dirtyAt: Date | null;
  recheckAt: Date | null;
  /** null when the account no longer exists (the row is an orphan) */
  account: { posture: string; createdAt: Date } | null;
}

/** A query's rows folded into one JSON text cell: one value to convert instead of thousands. */
function jsonRows(pg: boolean, columns: string) {
  return Prisma.raw(pg ? `COALESCE(json_agg(json_build_array(${columns})), '[]'::json)::text` : `json_group_array(json_array(${columns}))`);
}

async function queryJsonRows(db: DbOrTx, sql: Prisma.Sql): Promise<unknown[][]> {
  const [row] = await db.$queryRaw<{ j: string }[]>(sql);
  return JSON.parse(row?.j ?? "[]") as unknown[][];
}

/** `IN (…)` over ids sent as one JSON parameter: the statement text (and its plan) stays the same for any list. */
function inIds(pg: boolean, ids: string[]) {
  const json = JSON.stringify(ids);
  return pg ? Prisma.sql`(SELECT json_array_elements_text(${json}::json))` : Prisma.sql`(SELECT value FROM json_each(${json}))`;
}

const PAGE_COLUMNS = `h."accountId", h."score", h."tier", h."since", h."mass", h."recent", h."pendingTier", h."pendingSince", h."computedAt", h."dirtyAt", h."recheckAt", a."id", a."posture", a."createdAt"`;

/**
 * Take the page's rows for this transaction and read them with their account's posture and
 * creation time. Taking them first matters: concurrent ticks then compute one after the other
 * from each other's results, and a signal intake marking one of them waits for the commit.
 * PostgreSQL: row locks (FOR UPDATE). SQLite: a no-op write takes the database write lock before
 * the read, so the read cannot be stale by the time this transaction writes.
 */
export async function lockHeatPage(tx: Tx, tenantId: string, accountIds: string[]): Promise<HeatPageRow[]> {
  if (accountIds.length === 0) return [];
  const pg = isPostgres(tx);
  if (pg) {
    await tx.$executeRaw`SELECT 1 FROM "AccountHeat" WHERE "tenantId" = ${tenantId} AND "accountId" IN ${inIds(pg, accountIds)}
      ORDER BY "accountId" FOR UPDATE`;
  } else {
    await tx.$executeRaw`UPDATE "AccountHeat" SET "tenantId" = "tenantId" WHERE "tenantId" = ${tenantId} AND "accountId" = ${accountIds[0]}`;
  }
  const rows = await queryJsonRows(
    tx,
    Prisma.sql`SELECT ${jsonRows(pg, PAGE_COLUMNS)} AS "j"
      FROM "AccountHeat" h LEFT JOIN "Account" a ON a."tenantId" = h."tenantId" AND a."id" = h."accountId"
      WHERE h."tenantId" = ${tenantId} AND h."accountId" IN ${inIds(pg, accountIds)}`,
  );
  return rows.map((r) => ({
    accountId: String(r[0]),
    score: Number(r[1]),
    tier: String(r[2]),
    since: asDate(r[3]) as Date,
    mass: Number(r[4]),
    recent: String(r[5]),
    pendingTier: (r[6] as string | null) ?? null,
    pendingSince: asDate(r[7]),
    computedAt: asDate(r[8]),
    dirtyAt: asDate(r[9]),
    recheckAt: asDate(r[10]),
    account: r[11] ? { posture: String(r[12]), createdAt: asDate(r[13]) as Date } : null,
  }));
}

/** Signals of these accounts received in (from, to]: what the job folds in. */
export async function heatSignals(db: DbOrTx, tenantId: string, accountIds: string[], from: Date, to: Date) {
  if (accountIds.length === 0) return [];
  const pg = isPostgres(db);
  const rows = await queryJsonRows(
    db,
    Prisma.sql`SELECT ${jsonRows(pg, `"accountId", "severity", "occurredAt", "receivedAt"`)} AS "j" FROM "Signal"
      WHERE "tenantId" = ${tenantId} AND "accountId" IN ${inIds(pg, accountIds)} AND "receivedAt" > ${from} AND "receivedAt" <= ${to}`,
  );
  return rows.map((r) => ({
    accountId: String(r[0]),
    severity: String(r[1]),
    occurredAt: asDate(r[2]) as Date,
    receivedAt: asDate(r[3]) as Date,
  }));
}

export function heatAccounts(db: DbOrTx, tenantId: string, accountIds: string[]) {
  return db.account.findMany({
    where: tenantWhere(tenantId, { id: { in: accountIds } }),
    select: { id: true, posture: true, createdAt: true },
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

/** Rows per statement (sent as one JSON parameter). */
const CHUNK = 1000;

function chunks<T>(xs: T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * The batch writes send each chunk as ONE JSON parameter that the database expands into rows
 * (SQLite json_each, PostgreSQL json_to_recordset): binding thousands of separate values through
 * the driver adapter costs more than the statement itself. The SQL differs only in that expansion.
 */
/** A date as the database stores it: SQLite keeps Prisma's text form, PostgreSQL parses ISO. */
function dateText(pg: boolean, d: Date | null) {
  if (!d) return null;
  const iso = d.toISOString();
  return pg ? iso : `${iso.slice(0, -1)}+00:00`;
}

const HEAT_COLUMNS = `"tenantId", "accountId", "score", "tier", "since", "mass", "recent", "pendingTier", "pendingSince", "computedAt", "dirtyAt", "recheckAt"`;
const HEAT_UPDATE = Prisma.raw(`ON CONFLICT ("tenantId", "accountId") DO UPDATE SET
  "score" = excluded."score", "tier" = excluded."tier", "since" = excluded."since", "mass" = excluded."mass",
  "recent" = excluded."recent", "pendingTier" = excluded."pendingTier", "pendingSince" = excluded."pendingSince",
  "computedAt" = excluded."computedAt", "recheckAt" = excluded."recheckAt",
  "dirtyAt" = CASE WHEN "AccountHeat"."dirtyAt" = excluded."dirtyAt" THEN NULL ELSE "AccountHeat"."dirtyAt" END`);

/**
 * One upsert statement per chunk. The dirty mark is cleared only where it still equals the one
 * the job read: a signal that re-marked the row meanwhile keeps it dirty for the next tick.
 */
export async function writeHeat(tx: Tx, tenantId: string, rows: HeatWrite[]) {
  const pg = isPostgres(tx);
  for (const part of chunks(rows)) {
    const json = JSON.stringify(
      part.map((r) => [
        r.accountId,
        r.score,
        r.tier,
        dateText(pg, r.since),
        r.mass,
        r.recent,
        r.pendingTier,
        dateText(pg, r.pendingSince),
        dateText(pg, r.computedAt),
        dateText(pg, r.clearDirtyAt),
        dateText(pg, r.recheckAt),
      ]),
    );
    if (pg) {
      await tx.$executeRaw`INSERT INTO "AccountHeat" (${Prisma.raw(HEAT_COLUMNS)})
        SELECT ${tenantId}, x->>0, (x->>1)::float8, x->>2, (x->>3)::timestamp(3), (x->>4)::float8, x->>5, x->>6,
          (x->>7)::timestamp(3), (x->>8)::timestamp(3), (x->>9)::timestamp(3), (x->>10)::timestamp(3)
        FROM json_array_elements(${json}::json) AS x
        ${HEAT_UPDATE}`;
    } else {
      await tx.$executeRaw`INSERT INTO "AccountHeat" (${Prisma.raw(HEAT_COLUMNS)})
        SELECT ${tenantId}, x.value ->> 0, x.value ->> 1, x.value ->> 2, x.value ->> 3, x.value ->> 4, x.value ->> 5, x.value ->> 6,
          x.value ->> 7, x.value ->> 8, x.value ->> 9, x.value ->> 10
        FROM json_each(${json}) AS x WHERE true
        ${HEAT_UPDATE}`;
    }
  }
}

export interface RollupWrite {
  accountId: string;
  day: string;
  maxScore: number;
  lastScore: number;
  tier: string;
}

const ROLLUP_UPDATE = Prisma.raw(`ON CONFLICT ("tenantId", "accountId", "day") DO UPDATE SET
  "maxScore" = CASE WHEN excluded."maxScore" > "HeatRollup"."maxScore" THEN excluded."maxScore" ELSE "HeatRollup"."maxScore" END,
  "lastScore" = excluded."lastScore", "tier" = excluded."tier"`);

/** Daily rollups: the day's highest score is kept, the last score and tier replaced. */
export async function writeRollups(tx: Tx, tenantId: string, rows: RollupWrite[]) {
  const pg = isPostgres(tx);
  for (const part of chunks(rows)) {
    const json = JSON.stringify(part.map((r) => [r.accountId, r.day, r.maxScore, r.lastScore, r.tier]));
    if (pg) {
      await tx.$executeRaw`INSERT INTO "HeatRollup" ("tenantId", "accountId", "day", "maxScore", "lastScore", "tier")
        SELECT ${tenantId}, x->>0, x->>1, (x->>2)::float8, (x->>3)::float8, x->>4 FROM json_array_elements(${json}::json) AS x
        ${ROLLUP_UPDATE}`;
    } else {
      await tx.$executeRaw`INSERT INTO "HeatRollup" ("tenantId", "accountId", "day", "maxScore", "lastScore", "tier")
        SELECT ${tenantId}, x.value ->> 0, x.value ->> 1, x.value ->> 2, x.value ->> 3, x.value ->> 4 FROM json_each(${json}) AS x WHERE true
        ${ROLLUP_UPDATE}`;
    }
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
