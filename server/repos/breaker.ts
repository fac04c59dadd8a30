import type { DbOrTx } from "../db";
import type { BreakerRow } from "../engine/breaker";
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
 * Take a free slot (never held, released, or its holder's lease ran out) by a conditional update,
 * trying the slots from `start` round. Returns the slot number, or null when all `cap` are held.
 */
export async function claimSlot(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  cap: number,
  holder: string,
  leaseUntil: Date,
  now: Date,
  start: number,
): Promise<number | null> {
  for (let i = 0; i < cap; i++) {
    const slot = (start + i) % cap;
    const r = await db.connectorSlot.updateMany({
      where: { tenantId, connector, slot, OR: [{ holder: null }, { leaseUntil: { lte: now } }] },
      data: { holder, leaseUntil },
    });
    if (r.count === 1) return slot;
  }
  return null;
}

/** Give a slot back; only its holder can (a slot re-taken after our lease ran out is not ours). */
export async function releaseSlot(db: DbOrTx, tenantId: string, connector: string, slot: number, holder: string) {
  await db.connectorSlot.updateMany({ where: { tenantId, connector, slot, holder }, data: { holder: null, leaseUntil: null } });
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

export function insertCallSample(db: DbOrTx, s: CallSample, at: Date) {
  return db.connectorCallSample.create({ data: { ...s, at }, select: { id: true } });
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
