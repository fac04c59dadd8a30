import type { DbOrTx, Tx } from "../db";

/**
 * The tenant's alert hook (SPEC §4.6). One row per tenant; rotating replaces `id`, so the old
 * signed URL finds no row from that moment on. Only the id is stored — the token is its signature.
 */

export function findAlertHookForTenant(db: DbOrTx, tenantId: string) {
  return db.alertHook.findUnique({ where: { tenantId } });
}

/** By id alone: the verified token is the credential and names its tenant through this row. */
export function findAlertHookById(db: DbOrTx, id: string) {
  return db.alertHook.findUnique({ where: { id } });
}

export async function replaceAlertHook(
  tx: Tx,
  row: { tenantId: string; id: string; scope: string; key: string; createdBy: string | null },
  now: Date,
) {
  const before = await tx.alertHook.findUnique({ where: { tenantId: row.tenantId } });
  const data = { id: row.id, scope: row.scope, key: row.key, createdBy: row.createdBy, createdAt: now, lastUsedAt: null };
  const after = await tx.alertHook.upsert({ where: { tenantId: row.tenantId }, create: { tenantId: row.tenantId, ...data }, update: data });
  return { before, after };
}

/** Conditional on the id, so a hook rotated meanwhile is not marked used by the old URL. */
export async function markAlertHookUsed(db: DbOrTx, id: string, now: Date): Promise<boolean> {
  const { count } = await db.alertHook.updateMany({ where: { id }, data: { lastUsedAt: now } });
  return count === 1;
}
