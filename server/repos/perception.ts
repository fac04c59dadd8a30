import { randomUUID } from "node:crypto";
import type { DbOrTx, Tx } from "../db";
import { Prisma } from "../generated/sqlite/client";
import type { ConfigTx } from "./autonomy";
import { tenantWhere } from "./scope";

/**
 * Perception persistence (SPEC §4.4): settings, daily pull usage, shared rate windows, pull-job
 * reservations and per-account pull state. Every limit is enforced by a conditional write in the
 * database — never read-then-write — so concurrent callers on any number of instances cannot
 * overspend a budget or a rate window.
 */

// ───────────── settings (configuration: written only through withConfigWrite) ─────────────

export function findPerceptionSettings(db: DbOrTx, tenantId: string) {
  return db.perceptionSettings.findUnique({ where: { tenantId } });
}

export function savePerceptionSettings(
  tx: ConfigTx,
  tenantId: string,
  data: { unitsPerDay?: number; perConnector?: string; cadence?: string },
  actorId: string | null,
  now: Date,
) {
  return tx.perceptionSettings.upsert({
    where: { tenantId },
    create: { tenantId, ...data, updatedBy: actorId, updatedAt: now },
    update: { ...data, updatedBy: actorId, updatedAt: now },
  });
}

// ───────────── daily usage ─────────────

/** The tenant total is the row with connector "". */
export const TOTAL = "";

async function ensureUsageRow(tx: Tx, tenantId: string, dateKey: string, connector: string) {
  await tx.$executeRaw`INSERT INTO "PullUsage" ("tenantId", "dateKey", "connector", "units")
    VALUES (${tenantId}, ${dateKey}, ${connector}, 0) ON CONFLICT ("tenantId", "dateKey", "connector") DO NOTHING`;
}

/**
 * Lock today's total row and the connector's row for this transaction (creating them at 0) and
 * read their units. PostgreSQL: the no-op UPDATE takes the row lock and, under read committed,
 * returns the latest committed value once a concurrent holder commits; SQLite: the first write
 * takes the database write lock. Either way nobody else spends from them until this commits.
 */
export async function lockPullUsage(tx: Tx, tenantId: string, dateKey: string, connector: string) {
  const read = async (c: string) => {
    await ensureUsageRow(tx, tenantId, dateKey, c);
    const rows = await tx.$queryRaw<{ units: number | bigint }[]>`UPDATE "PullUsage" SET "units" = "units"
      WHERE "tenantId" = ${tenantId} AND "dateKey" = ${dateKey} AND "connector" = ${c} RETURNING "units"`;
    return Number(rows[0]?.units ?? 0);
  };
  const total = await read(TOTAL);
  return { total, connector: connector === TOTAL ? total : await read(connector) };
}

/**
 * Spend `units` from the rows lockPullUsage locked, by conditional increments (`units + k <= cap`)
 * of the tenant total and the connector's row. Both or neither: false = the caller rolls back.
 * `connectorCap` undefined = the connector has no cap of its own (its row still counts, for the chart).
 */
export async function spendPullUnits(
  tx: Tx,
  tenantId: string,
  dateKey: string,
  connector: string,
  units: number,
  totalCap: number,
  connectorCap: number | undefined,
): Promise<boolean> {
  if (units === 0) return true;
  const total = await tx.$executeRaw`UPDATE "PullUsage" SET "units" = "units" + ${units}
    WHERE "tenantId" = ${tenantId} AND "dateKey" = ${dateKey} AND "connector" = ${TOTAL} AND "units" + ${units} <= ${totalCap}`;
  if (total !== 1) return false;
  const capped = connectorCap === undefined ? Prisma.empty : Prisma.sql` AND "units" + ${units} <= ${connectorCap}`;
  const own = await tx.$executeRaw`UPDATE "PullUsage" SET "units" = "units" + ${units}
    WHERE "tenantId" = ${tenantId} AND "dateKey" = ${dateKey} AND "connector" = ${connector}${capped}`;
  return own === 1;
}

/** Today's rows: the total ("") and one per connector. */
export function pullUsageFor(db: DbOrTx, tenantId: string, dateKey: string) {
  return db.pullUsage.findMany({ where: tenantWhere(tenantId, { dateKey }), orderBy: { connector: "asc" } });
}

// ───────────── rate windows (shared by every instance) ─────────────

/** Lock a window's counter for this transaction (created at 0) and read it; see lockPullUsage. */
export async function lockRateWindow(tx: Tx, key: string, window: number): Promise<number> {
  await tx.$executeRaw`INSERT INTO "RateWindow" ("key", "window", "count") VALUES (${key}, ${window}, 0)
    ON CONFLICT ("key", "window") DO NOTHING`;
  const rows = await tx.$queryRaw<{ count: number | bigint }[]>`UPDATE "RateWindow" SET "count" = "count"
    WHERE "key" = ${key} AND "window" = ${window} RETURNING "count"`;
  return Number(rows[0]?.count ?? 0);
}

/** Take `n` requests from a locked window by a conditional increment (`count + n <= limit`). */
export async function takeRateSlots(tx: Tx, key: string, window: number, n: number, limit: number): Promise<boolean> {
  if (n === 0) return true;
  const res = await tx.$executeRaw`UPDATE "RateWindow" SET "count" = "count" + ${n}
    WHERE "key" = ${key} AND "window" = ${window} AND "count" + ${n} <= ${limit}`;
  return res === 1;
}

/** Old windows are never read again. */
export function deleteRateWindowsBefore(db: DbOrTx, window: number) {
  return db.rateWindow.deleteMany({ where: { window: { lt: window } } });
}

// ───────────── pull jobs (the reservation) ─────────────

export interface PullJobReservation {
  pullJobId: string;
  accountId: string;
  connector: string;
  depth: string;
  tier: string;
  units: number;
}

/**
 * Reserve many pull-job ids in one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`: the ids
 * returned are this transaction's; the others already exist (or are repeated in the list) and are
 * duplicates. Rows go in pull-job id order, so concurrent reservers that overlap wait on each
 * other in one order and cannot deadlock. Returns the new rows' ids by pull-job id.
 */
export async function reservePullJobs(tx: Tx, tenantId: string, rows: PullJobReservation[], now: Date): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const sorted = [...rows].sort((a, b) => (a.pullJobId < b.pullJobId ? -1 : a.pullJobId > b.pullJobId ? 1 : 0));
  // 12 bound values per row.
  for (let i = 0; i < sorted.length; i += 200) {
    const values = sorted
      .slice(i, i + 200)
      .map(
        (r) =>
          Prisma.sql`(${randomUUID()}, ${tenantId}, ${r.pullJobId}, ${r.accountId}, ${r.connector}, ${r.depth}, ${r.tier}, ${r.units}, 'RUN', 'ADMITTED', 'RUNNING', ${now})`,
      );
    const got = await tx.$queryRaw<{ id: string; pullJobId: string }[]>`INSERT INTO "PullJob"
      ("id", "tenantId", "pullJobId", "accountId", "connector", "depth", "tier", "units", "result", "reason", "status", "createdAt")
      VALUES ${Prisma.join(values)}
      ON CONFLICT ("tenantId", "pullJobId") DO NOTHING RETURNING "id", "pullJobId"`;
    for (const g of got) out.set(g.pullJobId, g.id);
  }
  return out;
}

/** Undo reservations of this transaction that did not run (the id may be asked again). */
export async function releasePullJobs(tx: Tx, tenantId: string, ids: string[]) {
  for (let i = 0; i < ids.length; i += CHUNK)
    await tx.pullJob.deleteMany({ where: tenantWhere(tenantId, { id: { in: ids.slice(i, i + CHUNK) } }) });
}

/** Finish many pull jobs: one statement per distinct outcome (most runs end DONE with the same count). */
export async function finishPullJobs(
  db: DbOrTx,
  tenantId: string,
  done: { id: string; status: "DONE" | "FAILED"; signals: number; error: string | null }[],
  now: Date,
) {
  const groups = new Map<string, { outcome: { status: "DONE" | "FAILED"; signals: number; error: string | null }; ids: string[] }>();
  for (const d of done) {
    const k = JSON.stringify([d.status, d.signals, d.error]);
    const g = groups.get(k) ?? { outcome: { status: d.status, signals: d.signals, error: d.error }, ids: [] };
    g.ids.push(d.id);
    groups.set(k, g);
  }
  for (const g of groups.values())
    for (let i = 0; i < g.ids.length; i += CHUNK)
      await db.pullJob.updateMany({
        where: tenantWhere(tenantId, { id: { in: g.ids.slice(i, i + CHUNK) } }),
        data: { ...g.outcome, finishedAt: now },
      });
}

/**
 * End, across tenants, the pulls still RUNNING that were admitted before `before`: their process
 * died during the run. Conditional on RUNNING, so a run that does finish late keeps its outcome
 * and concurrent ticks end each pull once. Returns how many were ended.
 */
export async function failInterruptedPullJobs(db: DbOrTx, before: Date, error: string, now: Date) {
  const res = await db.pullJob.updateMany({
    where: { status: "RUNNING", createdAt: { lt: before } },
    data: { status: "FAILED", error, finishedAt: now },
  });
  return res.count;
}

export function listPullJobs(db: DbOrTx, tenantId: string, take: number) {
  return db.pullJob.findMany({ where: tenantWhere(tenantId), orderBy: [{ createdAt: "desc" }, { id: "desc" }], take });
}

// ───────────── per-account pull state ─────────────

/** Ids per `IN (…)` list: under SQLite's bound-parameter limit as Prisma counts it. */
const CHUNK = 400;

export interface PullStateRow {
  accountId: string;
  lastShallowAt: Date | null;
  lastDeepAt: Date | null;
  nextShallowAt: Date | null;
  nextDeepAt: Date | null;
}

const STATE_SELECT = { accountId: true, lastShallowAt: true, lastDeepAt: true, nextShallowAt: true, nextDeepAt: true } as const;

export async function pullStatesOf(db: DbOrTx, tenantId: string, accountIds: string[]): Promise<PullStateRow[]> {
  const out: PullStateRow[] = [];
  for (let i = 0; i < accountIds.length; i += CHUNK) {
    const chunk = accountIds.slice(i, i + CHUNK);
    out.push(...(await db.accountPullState.findMany({ where: tenantWhere(tenantId, { accountId: { in: chunk } }), select: STATE_SELECT })));
  }
  return out;
}

/** States whose next pull (at either depth) is due: read through the nextShallowAt / nextDeepAt indexes. */
export async function duePullStates(db: DbOrTx, tenantId: string, now: Date, take: number): Promise<PullStateRow[]> {
  const [deep, shallow] = await Promise.all([
    db.accountPullState.findMany({
      where: tenantWhere(tenantId, { nextDeepAt: { lte: now } }),
      orderBy: { nextDeepAt: "asc" },
      take,
      select: STATE_SELECT,
    }),
    db.accountPullState.findMany({
      where: tenantWhere(tenantId, { nextShallowAt: { lte: now } }),
      orderBy: { nextShallowAt: "asc" },
      take,
      select: STATE_SELECT,
    }),
  ]);
  const seen = new Map<string, PullStateRow>();
  for (const r of [...deep, ...shallow]) seen.set(r.accountId, r);
  return [...seen.values()];
}

/**
 * Write whole pull states (last and next times) for many accounts: the multi-row upsert of
 * writeNextTimes with the last-pull columns too. Rows in account order (concurrent writers lock
 * them in one order); one row per account (a statement may not update a row twice).
 */
export async function writePullStates(db: DbOrTx, tenantId: string, rows: PullStateRow[]) {
  const byAccount = new Map(rows.map((r) => [r.accountId, r]));
  const sorted = [...byAccount.values()].sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  for (let i = 0; i < sorted.length; i += 150) {
    const values = sorted
      .slice(i, i + 150)
      .map((r) => Prisma.sql`(${tenantId}, ${r.accountId}, ${r.lastShallowAt}, ${r.lastDeepAt}, ${r.nextShallowAt}, ${r.nextDeepAt})`);
    await db.$executeRaw`INSERT INTO "AccountPullState" ("tenantId", "accountId", "lastShallowAt", "lastDeepAt", "nextShallowAt", "nextDeepAt")
      VALUES ${Prisma.join(values)}
      ON CONFLICT ("tenantId", "accountId") DO UPDATE SET "lastShallowAt" = excluded."lastShallowAt", "lastDeepAt" = excluded."lastDeepAt",
        "nextShallowAt" = excluded."nextShallowAt", "nextDeepAt" = excluded."nextDeepAt"`;
  }
}

/** Accounts of the tenant that have no pull state yet (an anti-join, bounded). */
export async function accountsWithoutPullState(db: DbOrTx, tenantId: string, limit: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT a."id" AS "id" FROM "Account" a
    WHERE a."tenantId" = ${tenantId}
      AND NOT EXISTS (SELECT 1 FROM "AccountPullState" s WHERE s."tenantId" = a."tenantId" AND s."accountId" = a."id")
    LIMIT ${limit}`;
  return rows.map((r) => r.id);
}

/**
 * Write many accounts' next due times at once (creating the state rows that do not exist yet):
 * multi-row `INSERT … ON CONFLICT DO UPDATE`, which both databases speak. Seeding 100k accounts
 * costs about what inserting 100k rows costs (Prisma's createMany is ~10× slower on SQLite here).
 * Last-pull times are never touched: only a pull writes those.
 */
export async function writeNextTimes(
  db: DbOrTx,
  tenantId: string,
  rows: { accountId: string; nextShallowAt: Date | null; nextDeepAt: Date | null }[],
) {
  // 4 bound values per row, kept under SQLite's 999 per statement.
  for (let i = 0; i < rows.length; i += 240) {
    const values = rows.slice(i, i + 240).map((r) => Prisma.sql`(${tenantId}, ${r.accountId}, ${r.nextShallowAt}, ${r.nextDeepAt})`);
    await db.$executeRaw`INSERT INTO "AccountPullState" ("tenantId", "accountId", "nextShallowAt", "nextDeepAt")
      VALUES ${Prisma.join(values)}
      ON CONFLICT ("tenantId", "accountId") DO UPDATE SET "nextShallowAt" = excluded."nextShallowAt", "nextDeepAt" = excluded."nextDeepAt"`;
  }
}

/** After a cadence change every account is looked at again on the next tick (its due times are recomputed there). */
export function recheckAllPullStates(tx: DbOrTx, tenantId: string, now: Date) {
  return tx.accountPullState.updateMany({ where: tenantWhere(tenantId), data: { nextShallowAt: now } });
}

// ───────────── inputs read from elsewhere (heat, signals) ─────────────

/** Heat tiers of the given accounts; an account without a row is COLD (the caller's default). */
export async function heatTiersOf(db: DbOrTx, tenantId: string, accountIds: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < accountIds.length; i += CHUNK) {
    const chunk = accountIds.slice(i, i + CHUNK);
    const rows = await db.accountHeat.findMany({
      where: tenantWhere(tenantId, { accountId: { in: chunk } }),
      select: { accountId: true, tier: true },
    });
    for (const r of rows) out.set(r.accountId, r.tier);
  }
  return out;
}

/** HOT and WARM accounts: few, and always looked at (their cadence is short, and tier changes show here). */
export function warmerAccounts(db: DbOrTx, tenantId: string) {
  return db.accountHeat.findMany({
    where: tenantWhere(tenantId, { tier: { in: ["HOT", "WARM"] } }),
    select: { accountId: true, tier: true },
  });
}

/** Newest signal received per account (for HOT's shallow-on-signal). */
export async function lastSignalTimes(db: DbOrTx, tenantId: string, accountIds: string[], since: Date): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  for (let i = 0; i < accountIds.length; i += CHUNK) {
    const chunk = accountIds.slice(i, i + CHUNK);
    const rows = await db.signal.groupBy({
      by: ["accountId"],
      where: tenantWhere(tenantId, { accountId: { in: chunk }, receivedAt: { gt: since } }),
      _max: { receivedAt: true },
    });
    for (const r of rows) if (r._max.receivedAt) out.set(r.accountId, r._max.receivedAt);
  }
  return out;
}

export function tenantSlugOf(db: DbOrTx, tenantId: string) {
  return db.tenant.findUnique({ where: { id: tenantId }, select: { slug: true } }).then((t) => t?.slug ?? null);
}

// ───────────── decisions, read back from the ledger ─────────────

/**
 * PULL_SCHEDULED entries since `from` whose payload has every given `"field":"value"` pair
 * (payloads are canonical JSON, so the text is exact): throttles hit, a noted exhaustion.
 */
export async function countPullDecisions(db: DbOrTx, tenantId: string, from: Date, fields: Record<string, string>) {
  return db.ledgerEntry.count({
    where: tenantWhere(tenantId, {
      type: "PULL_SCHEDULED",
      createdAt: { gte: from },
      AND: Object.entries(fields).map(([k, v]) => ({ payload: { contains: `${JSON.stringify(k)}:${JSON.stringify(v)}` } })),
    }),
  });
}
