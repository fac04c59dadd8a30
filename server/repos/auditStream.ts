import type { DbOrTx, Tx } from "../db";
import { streamClaimed } from "../engine/auditStream";
import { tenantWhere } from "./scope";

/**
 * The tenant's SIEM stream row (SPEC §5.1 `audit/stream`). Concurrency contract: a worker sends
 * only after `claimAuditStream` moved `nextAttemptAt` to its own lease instant in one conditional
 * update, and every later write of that worker is conditional on that same instant (the fence).
 * Two workers therefore never send the same tenant's batches at once, and a worker whose claim
 * lapsed cannot move the cursor another worker owns.
 */

export function findAuditStream(db: DbOrTx, tenantId: string) {
  return db.auditStream.findUnique({ where: { tenantId } });
}

export async function upsertAuditStream(tx: Tx, tenantId: string, data: { url: string; enabled: boolean; secret?: string }, now: Date) {
  const before = await tx.auditStream.findUnique({ where: { tenantId } });
  // A changed configuration is tried at once: attempts and the backoff of the old one no longer
  // apply. A worker's claim stays, though: clearing it would let a second worker start while the
  // first still has a batch in flight (it then stops at its next fenced write).
  const reset = { attempts: 0, lastError: null, ...(before && streamClaimed(before, now) ? {} : { nextAttemptAt: null }) };
  const after = before
    ? await tx.auditStream.update({
        where: { tenantId },
        data: { url: data.url, enabled: data.enabled, ...(data.secret ? { secret: data.secret } : {}), ...reset, updatedAt: now },
      })
    : await tx.auditStream.create({
        data: { tenantId, url: data.url, enabled: data.enabled, secret: data.secret ?? "", ...reset, createdAt: now, updatedAt: now },
      });
  return { before, after };
}

/** Enabled streams whose next attempt (backoff or a lapsed claim) is due, one tenant or all. */
export function listDueAuditStreams(db: DbOrTx, now: Date, tenantId?: string) {
  return db.auditStream.findMany({
    where: {
      ...(tenantId ? { tenantId } : {}),
      enabled: true,
      OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lte: now } }],
    },
    select: { tenantId: true },
    orderBy: { tenantId: "asc" },
  });
}

/**
 * Take the stream until `leaseUntil`, only if it is still due: PostgreSQL re-checks the WHERE
 * after waiting for a competing update's row lock, SQLite serialises writers, so exactly one of
 * any number of concurrent claims matches. Returns the claimed row, or null.
 *
 * A claim clears `lastError`, which keeps the row's three states apart without another column:
 * no `nextAttemptAt` = idle; `nextAttemptAt` with `lastError` = waiting out a backoff; with no
 * `lastError` = claimed by a worker. `force` (an admin's "send now") may also take a stream in
 * backoff — never one that a worker holds.
 */
export async function claimAuditStream(db: DbOrTx, tenantId: string, now: Date, leaseUntil: Date, force = false) {
  const due = [{ nextAttemptAt: null }, { nextAttemptAt: { lte: now } }, ...(force ? [{ lastError: { not: null } }] : [])];
  const { count } = await db.auditStream.updateMany({
    where: { tenantId, enabled: true, OR: due },
    data: { nextAttemptAt: leaseUntil, lastError: null },
  });
  if (count !== 1) return null;
  return db.auditStream.findFirst({ where: { tenantId, nextAttemptAt: leaseUntil } });
}

/**
 * A batch was acknowledged: move the cursor (forward only) and keep the claim. Fenced on the claim
 * and on the configuration the batch was sent with: after a change (URL, secret, disabled) the
 * worker stops, and the batch is sent again under the new configuration (at least once).
 */
export async function advanceAuditStream(
  db: DbOrTx,
  tenantId: string,
  fence: { lease: Date; url: string; secret: string },
  fromSeq: number,
  toSeq: number,
  now: Date,
) {
  const { count } = await db.auditStream.updateMany({
    where: { tenantId, nextAttemptAt: fence.lease, url: fence.url, secret: fence.secret, enabled: true, cursorSeq: fromSeq },
    data: { cursorSeq: toSeq, attempts: 0, lastError: null, lastDeliveredAt: now },
  });
  return count === 1;
}

/** End of this worker's turn: the next tick may claim the stream at `nextAttemptAt`. Fenced. */
export async function releaseAuditStream(
  db: DbOrTx,
  tenantId: string,
  lease: Date,
  data: { nextAttemptAt: Date | null; failure?: { lastError: string; attempts: number } },
) {
  const { count } = await db.auditStream.updateMany({
    where: { tenantId, nextAttemptAt: lease },
    data: { nextAttemptAt: data.nextAttemptAt, ...(data.failure ?? {}) },
  });
  return count === 1;
}

/** The tenant's entries after `afterSeq`, ascending. */
export function ledgerEntriesAfter(db: DbOrTx, tenantId: string, afterSeq: number, take: number) {
  return db.ledgerEntry.findMany({
    where: tenantWhere(tenantId, { seq: { gt: afterSeq } }),
    orderBy: { seq: "asc" },
    take,
    select: {
      seq: true,
      id: true,
      createdAt: true,
      type: true,
      accountId: true,
      correlationId: true,
      actorType: true,
      actorId: true,
      payload: true,
      prevHash: true,
      hash: true,
    },
  });
}

export async function tenantSlugOf(db: DbOrTx, tenantId: string) {
  return (await db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { slug: true } })).slug;
}
