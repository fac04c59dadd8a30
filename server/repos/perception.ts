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
 * Consume `units` from the tenant's daily total and the connector's row, each by a conditional
 * increment (`units + k <= cap`). Both or neither: the caller's transaction is rolled back when
 * this returns false. `connectorCap` undefined = the connector has no cap of its own (its row
 * still counts, for the chart).
 */
export async function consumePullUnits(
  tx: Tx,
  tenantId: string,
  dateKey: string,
  connector: string,
  units: number,
  totalCap: number,
  connectorCap: number | undefined,
): Promise<boolean> {
  await ensureUsageRow(tx, tenantId, dateKey, TOTAL);
  const total = await tx.pullUsage.updateMany({
    where: { tenantId, dateKey, connector: TOTAL, units: { lte: totalCap - units } },
    data: { units: { increment: units } },
  });
  if (total.count !== 1) return false;
  await ensureUsageRow(tx, tenantId, dateKey, connector);
  const own = await tx.pullUsage.updateMany({
    where: { tenantId, dateKey, connector, ...(connectorCap === undefined ? {} : { units: { lte: connectorCap - units } }) },
    data: { units: { increment: units } },
  });
  return own.count === 1;
}

/** Today's rows: the total ("") and one per connector. */
export function pullUsageFor(db: DbOrTx, tenantId: string, dateKey: string) {
  return db.pullUsage.findMany({ where: tenantWhere(tenantId, { dateKey }), orderBy: { connector: "asc" } });
}

// ───────────── rate windows (shared by every instance) ─────────────

/** Take one request from a fixed one-minute window if fewer than `limit` were taken. */
export async function takeRateSlot(tx: Tx, key: string, window: number, limit: number): Promise<boolean> {
  if (limit <= 0) return false;
  await tx.$executeRaw`INSERT INTO "RateWindow" ("key", "window", "count") VALUES (${key}, ${window}, 0)
    ON CONFLICT ("key", "window") DO NOTHING`;
  const res = await tx.rateWindow.updateMany({ where: { key, window, count: { lt: limit } }, data: { count: { increment: 1 } } });
  return res.count === 1;
}

/** Old windows are never read again. */
export function deleteRateWindowsBefore(db: DbOrTx, window: number) {
  return db.rateWindow.deleteMany({ where: { window: { lt: window } } });
}

// ───────────── pull jobs (the reservation) ─────────────

/** Insert the reservation; a repeated (tenant, pullJobId) throws the unique violation (P2002). */
export function reservePullJob(
  tx: Tx,
  row: { tenantId: string; pullJobId: string; accountId: string; connector: string; depth: string; tier: string; units: number },
  now: Date,
) {
  return tx.pullJob.create({
    data: { ...row, result: "RUN", reason: "ADMITTED", status: "RUNNING", createdAt: now },
    select: { id: true },
  });
}

export function finishPullJob(
  db: DbOrTx,
  tenantId: string,
  id: string,
  outcome: { status: "DONE" | "FAILED"; signals: number; error: string | null },
  now: Date,
) {
  return db.pullJob.updateMany({ where: tenantWhere(tenantId, { id }), data: { ...outcome, finishedAt: now } });
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

export function findPullState(db: DbOrTx, tenantId: string, accountId: string) {
  return db.accountPullState.findUnique({ where: { tenantId_accountId: { tenantId, accountId } }, select: STATE_SELECT });
}

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

export function savePullState(tx: DbOrTx, tenantId: string, s: PullStateRow) {
  const { accountId, ...times } = s;
  return tx.accountPullState.upsert({
    where: { tenantId_accountId: { tenantId, accountId } },
    create: { tenantId, accountId, ...times },
    update: times,
  });
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
