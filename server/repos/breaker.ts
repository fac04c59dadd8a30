import type { Db, DbOrTx } from "../db";
import type { BreakerRow } from "../engine/breaker";
import { newRowId } from "./ids";
import { plainPgRows } from "./plainPg";
import { insertRows } from "./rows";
import { tenantWhere } from "./scope";

/**
 * The resilience wrapper's shared state (SPEC §4.7): breakers, concurrency slots and call samples.
 * Every move is a single conditional statement (updateMany with a where-guard on the row as read),
 * so any number of instances racing on one row leave exactly one winner per move and never a
 * half-applied one. A loser re-reads and decides again.
 */

const key = (tenantId: string, connector: string) => ({ tenantId_connector: { tenantId, connector } });

export function findBreaker(db: DbOrTx, tenantId: string, connector: string) {
  return db.connectorBreaker.findUnique({ where: key(tenantId, connector) });
}

/** The breaker columns admission reads (a missing row reads as CLOSED with no failures). */
export interface AdmissionBreaker extends BreakerRow {
  lastError: string | null;
}

/**
 * The wrapper's admission read in ONE statement: the tenant's breaker row for the connector and
 * the connector's stored settings (ConnectorConfig of `kind`), either possibly absent. It runs
 * before every connector call, so it is a raw query: two Prisma reads cost about 0.3 ms at the
 * median on SQLite and two round trips on PostgreSQL; this costs one cheap statement (issue 12's
 * wrapper overhead bar, ≤ 1 ms at p99; `npm run bench -- resilience`). Both tables are keyed on
 * (tenantId, connector|kind), so the plan is two primary-key lookups.
 */
/** admissionState's statement for the plain driver on PostgreSQL (repos/plainPg.ts): $1 tenant, $2 connector, $3 kind. */
const ADMISSION_PG = `SELECT b."phase", b."failures", b."windowStart", b."retryAt", b."probeOwner", b."probeUntil", b."lastError",
    (SELECT c."config" FROM "ConnectorConfig" c WHERE c."tenantId" = $1 AND c."kind" = $3) AS "config"
  FROM (SELECT 1 AS "one") AS x
  LEFT JOIN "ConnectorBreaker" b ON b."tenantId" = $1 AND b."connector" = $2`;

export async function admissionState(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  kind: string,
): Promise<{ breaker: AdmissionBreaker | null; config: string | null }> {
  type Row = {
    phase: string | null;
    failures: number | bigint | null;
    windowStart: Date | null;
    retryAt: Date | null;
    probeOwner: string | null;
    probeUntil: Date | null;
    lastError: string | null;
    config: string | null;
  };
  const rows =
    (await plainPgRows<Row>(db, "ap_admission", ADMISSION_PG, [tenantId, connector, kind])) ??
    (await db.$queryRaw<Row[]>`SELECT b."phase", b."failures", b."windowStart", b."retryAt", b."probeOwner", b."probeUntil", b."lastError",
      (SELECT c."config" FROM "ConnectorConfig" c WHERE c."tenantId" = ${tenantId} AND c."kind" = ${kind}) AS "config"
    FROM (SELECT 1 AS "one") AS x
    LEFT JOIN "ConnectorBreaker" b ON b."tenantId" = ${tenantId} AND b."connector" = ${connector}`);
  const r = rows[0];
  if (!r) return { breaker: null, config: null };
  const breaker =
    r.phase === null
      ? null
      : {
          phase: r.phase,
          failures: Number(r.failures ?? 0),
          windowStart: r.windowStart,
          retryAt: r.retryAt,
          probeOwner: r.probeOwner,
          probeUntil: r.probeUntil,
          lastError: r.lastError,
        };
  return { breaker, config: r.config };
}

export function listBreakers(db: DbOrTx, tenantId: string) {
  return db.connectorBreaker.findMany({ where: tenantWhere(tenantId) });
}

/**
 * Make sure the row exists. Prisma's upsert is select-then-insert, so two instances creating the
 * first row at once collide on the key; the loser's row exists either way. Not inside a
 * transaction: a failed insert would abort a PostgreSQL transaction.
 */
export async function ensureBreaker(db: DbOrTx, tenantId: string, connector: string, now: Date) {
  const row = await findBreaker(db, tenantId, connector);
  if (row) return row;
  try {
    return await db.connectorBreaker.create({ data: { tenantId, connector, updatedAt: now } });
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    return (await findBreaker(db, tenantId, connector)) as NonNullable<Awaited<ReturnType<typeof findBreaker>>>;
  }
}

/** Guard: the CLOSED row exactly as read (its failure count and window), so a count is never lost. */
const closedAsRead = (tenantId: string, connector: string, row: BreakerRow) => ({
  tenantId,
  connector,
  phase: "CLOSED",
  failures: row.failures,
  windowStart: row.windowStart,
});

/** Count a failure in a CLOSED breaker; false when the row moved since it was read. */
export async function countFailure(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  asRead: BreakerRow,
  next: { failures: number; windowStart: Date; lastError: string },
  now: Date,
) {
  const r = await db.connectorBreaker.updateMany({
    where: closedAsRead(tenantId, connector, asRead),
    data: { failures: next.failures, windowStart: next.windowStart, lastError: next.lastError, updatedAt: now },
  });
  return r.count === 1;
}

/** Trip a CLOSED breaker OPEN; false when the row moved since it was read (someone else tripped it). */
export async function tripOpen(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  asRead: BreakerRow,
  next: { failures: number; windowStart: Date; retryAt: Date; lastError: string },
  now: Date,
) {
  const r = await db.connectorBreaker.updateMany({
    where: closedAsRead(tenantId, connector, asRead),
    data: {
      phase: "OPEN",
      failures: next.failures,
      windowStart: next.windowStart,
      openedAt: now,
      retryAt: next.retryAt,
      probeOwner: null,
      probeUntil: null,
      lastError: next.lastError,
      updatedAt: now,
    },
  });
  return r.count === 1;
}

/**
 * Claim the single probe of an OPEN breaker whose cooldown ended: only when no unexpired claim
 * exists. One statement, so of any number of concurrent claimers on any number of instances exactly
 * one sees count 1. Returns whether a previous claim had expired (that probe's claimer died).
 */
export async function claimProbe(db: DbOrTx, tenantId: string, connector: string, owner: string, until: Date, now: Date) {
  const r = await db.connectorBreaker.updateMany({
    where: {
      tenantId,
      connector,
      phase: "OPEN",
      retryAt: { lte: now },
      OR: [{ probeOwner: null }, { probeUntil: { lte: now } }],
    },
    data: { probeOwner: owner, probeUntil: until, updatedAt: now },
  });
  return r.count === 1;
}

/** A closed breaker with nothing counted and no probe: what a successful probe and an admin's close leave. */
const CLEAN_CLOSED = {
  phase: "CLOSED",
  failures: 0,
  windowStart: null,
  openedAt: null,
  retryAt: null,
  probeOwner: null,
  probeUntil: null,
} as const;

/** The probe succeeded: close, clean. Only the probe's owner can, and only while the breaker is still OPEN. */
export async function closeAfterProbe(db: DbOrTx, tenantId: string, connector: string, owner: string, now: Date) {
  const r = await db.connectorBreaker.updateMany({
    where: { tenantId, connector, phase: "OPEN", probeOwner: owner },
    data: { ...CLEAN_CLOSED, lastError: null, updatedAt: now },
  });
  return r.count === 1;
}

/** The probe failed: another cooldown. Only the probe's owner can. */
export async function reopenAfterProbe(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  owner: string,
  retryAt: Date,
  lastError: string,
  now: Date,
) {
  const r = await db.connectorBreaker.updateMany({
    where: { tenantId, connector, phase: "OPEN", probeOwner: owner },
    data: { openedAt: now, retryAt, probeOwner: null, probeUntil: null, lastError, updatedAt: now },
  });
  return r.count === 1;
}

/** An admin forces the breaker open or closes it; conditional on the phase as read (one writer wins). */
export async function setAdminPhase(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  fromPhase: string,
  forcedOpen: boolean,
  reason: string,
  now: Date,
) {
  const r = await db.connectorBreaker.updateMany({
    where: { tenantId, connector, phase: fromPhase },
    data: forcedOpen
      ? { phase: "FORCED_OPEN", forcedReason: reason, openedAt: now, retryAt: null, probeOwner: null, probeUntil: null, updatedAt: now }
      : { ...CLEAN_CLOSED, forcedReason: null, updatedAt: now },
  });
  return r.count === 1;
}

// ───────────── concurrency slots (backpressure) ─────────────

/**
 * Slots 0..cap-1 of a (tenant | "*", connector) exist; extra rows past a lowered cap are ignored.
 * True when rows were missing (created now, by us or a concurrent caller).
 */
export async function ensureSlots(db: DbOrTx, tenantId: string, connector: string, cap: number) {
  const have = await db.connectorSlot.count({ where: { tenantId, connector, slot: { lt: cap } } });
  if (have >= cap) return false;
  for (let slot = 0; slot < cap; slot++) {
    try {
      await db.connectorSlot.create({ data: { tenantId, connector, slot } });
    } catch (err) {
      if ((err as { code?: string }).code !== "P2002") throw err;
    }
  }
  return true;
}

/**
 * Slot claims and releases commit without waiting for the WAL flush on PostgreSQL
 * (`synchronous_commit` off for that one statement's own transaction, set in the statement so it
 * costs no round trip). Why: a flushed commit is a disk sync, measured at most of the capped
 * wrapper's time (p50 0.41 ms against 0.09 ms unflushed on this machine, its p99 several ms), and
 * it buys nothing the cap needs. Other sessions see the row at commit either way, so the cap is
 * exact while the server runs; what a server crash can lose is a claim or release of its last
 * moments (at most three wal_writer_delay, 600 ms by default). A lost release leaves the slot to
 * its lease (stricter). A lost claim lets up to that many calls already in flight go uncounted
 * until they end — the cap is load shedding for the connector, and after a database crash those
 * calls' own bookkeeping is failing anyway. Budgets, executions and the ledger keep flushed
 * commits. Only for statements that are their own transaction (`Db`, never a `Tx`): inside one,
 * the setting would apply to the whole transaction's commit. Both run through repos/plainPg.ts,
 * which every PostgreSQL client from createDb takes; the Prisma statements below them are the
 * SQLite path (WAL, synchronous NORMAL: no sync per commit already).
 */

/** claimSlot's statement for the plain driver on PostgreSQL (unflushed, as above): $1 holder, $2 lease, $3 tenant, $4 connector, $5 now, $6 cap, $7 start. */
const CLAIM_SLOT_PG = `WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true))
  UPDATE "ConnectorSlot" SET "holder" = $1, "leaseUntil" = $2 FROM unflushed
  WHERE "tenantId" = $3 AND "connector" = $4 AND ("holder" IS NULL OR "leaseUntil" <= $5)
    AND "slot" = (SELECT s."slot" FROM "ConnectorSlot" s
      WHERE s."tenantId" = $3 AND s."connector" = $4 AND s."slot" < $6
        AND (s."holder" IS NULL OR s."leaseUntil" <= $5)
      ORDER BY (s."slot" + $6 - $7) % $6 LIMIT 1)
  RETURNING "slot"`;

/**
 * Take a free slot (never held, released, or its holder's lease ran out) by a conditional update:
 * one statement picks a free slot below the cap (scanning from `start` round, so concurrent
 * callers spread over the slots) and takes it only if it is still free. Returns the slot number,
 * or null when all `cap` are held. Raw, like admissionState: it runs before every capped call.
 *
 * Two callers can pick the same free slot; the loser's guarded update matches nothing (PostgreSQL
 * re-checks the guard on the row the winner just wrote; SQLite runs writes one at a time), so it
 * looks again — at most `cap` times, each round lost meaning someone else took a slot.
 */
export async function claimSlot(
  db: Db,
  tenantId: string,
  connector: string,
  cap: number,
  holder: string,
  leaseUntil: Date,
  now: Date,
  start: number,
): Promise<number | null> {
  for (let round = 0; round < cap; round++) {
    const rows =
      (await plainPgRows<{ slot: number }>(db, "ap_claim_slot", CLAIM_SLOT_PG, [
        holder,
        leaseUntil,
        tenantId,
        connector,
        now,
        cap,
        start % cap,
      ])) ??
      (await db.$queryRaw<{ slot: number | bigint }[]>`UPDATE "ConnectorSlot"
      SET "holder" = ${holder}, "leaseUntil" = ${leaseUntil}
      WHERE "tenantId" = ${tenantId} AND "connector" = ${connector}
        AND ("holder" IS NULL OR "leaseUntil" <= ${now})
        AND "slot" = (SELECT s."slot" FROM "ConnectorSlot" s
          WHERE s."tenantId" = ${tenantId} AND s."connector" = ${connector} AND s."slot" < ${cap}
            AND (s."holder" IS NULL OR s."leaseUntil" <= ${now})
          ORDER BY (s."slot" + ${cap} - ${start % cap}) % ${cap} LIMIT 1)
      RETURNING "slot"`);
    const got = rows[0];
    if (got) return Number(got.slot);
    // Nothing matched: either no slot is free (done) or our pick was taken first (look again).
    const free = await db.connectorSlot.count({
      where: { tenantId, connector, slot: { lt: cap }, OR: [{ holder: null }, { leaseUntil: { lte: now } }] },
    });
    if (free === 0) return null;
  }
  return null;
}

/** releaseSlot's statement for the plain driver on PostgreSQL (unflushed): $1 tenant, $2 connector, $3 slot, $4 holder. */
const RELEASE_SLOT_PG = `WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true))
  UPDATE "ConnectorSlot" SET "holder" = NULL, "leaseUntil" = NULL FROM unflushed
  WHERE "tenantId" = $1 AND "connector" = $2 AND "slot" = $3 AND "holder" = $4`;

/**
 * Give a slot back; only its holder can (a slot re-taken after our lease ran out is not ours).
 * Raw: it ends every capped call (see admissionState).
 */
export async function releaseSlot(db: Db, tenantId: string, connector: string, slot: number, holder: string) {
  if (await plainPgRows(db, "ap_release_slot", RELEASE_SLOT_PG, [tenantId, connector, slot, holder])) return;
  await db.$executeRaw`UPDATE "ConnectorSlot" SET "holder" = NULL, "leaseUntil" = NULL
    WHERE "tenantId" = ${tenantId} AND "connector" = ${connector} AND "slot" = ${slot} AND "holder" = ${holder}`;
}

/** Calls in flight now (held, unexpired slots under the cap), per connector of a tenant (or "*"). */
export async function slotsInFlight(db: DbOrTx, tenantId: string, now: Date) {
  const rows = await db.connectorSlot.groupBy({
    by: ["connector"],
    where: { tenantId, holder: { not: null }, leaseUntil: { gt: now } },
    _count: { _all: true },
  });
  return new Map(rows.map((r) => [r.connector, r._count._all]));
}

// ───────────── call samples (SLO source) ─────────────

export interface CallSample {
  tenantId: string;
  connector: string;
  operation: string;
  ok: boolean;
  outcome: string;
  durationMs: number;
}

/** One multi-row insert of a tenant's buffered samples (services/callSamples.ts batches them off the call path). */
export async function insertCallSamples(db: DbOrTx, rows: (CallSample & { at: Date })[]) {
  // One JSON-parameter INSERT (repos/rows.ts), not createMany: the flush runs on the thread that is
  // making connector calls, and createMany's per-row parameter copying showed up in their tail.
  await insertRows(
    db,
    "ConnectorCallSample",
    ["id", "tenantId", "connector", "operation", "ok", "outcome", "durationMs", "at"],
    rows.map((r) => [newRowId(), r.tenantId, r.connector, r.operation, r.ok, r.outcome, r.durationMs, r.at]),
  );
}

/** A tenant's samples of one connector since `since`, newest first, at most `limit` (percentiles need the values). */
export function callSamples(db: DbOrTx, tenantId: string, connector: string, since: Date, limit: number) {
  return db.connectorCallSample.findMany({
    where: tenantWhere(tenantId, { connector, at: { gte: since } }),
    select: { outcome: true, durationMs: true },
    orderBy: { at: "desc" },
    take: limit,
  });
}

/** Count of samples by connector and outcome since `since` (the /api/metrics counters). */
export async function callOutcomeCounts(db: DbOrTx, tenantId: string, since: Date) {
  const rows = await db.connectorCallSample.groupBy({
    by: ["connector", "outcome"],
    where: tenantWhere(tenantId, { at: { gte: since } }),
    _count: { _all: true },
  });
  return rows.map((r) => ({ connector: r.connector, outcome: r.outcome, count: r._count._all }));
}

/**
 * Samples age out (the SLO window is 15 minutes, the metrics' 24 hours). One statement per
 * connector so the (connector, at) index finds the old rows instead of a scan of the table.
 */
export async function pruneCallSamples(db: DbOrTx, connectors: readonly string[], before: Date) {
  let deleted = 0;
  for (const connector of connectors) {
    deleted += (await db.connectorCallSample.deleteMany({ where: { connector, at: { lt: before } } })).count;
  }
  return deleted;
}
