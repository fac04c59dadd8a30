import type { DbOrTx, Tx } from "../db";
import type { ConfigTx } from "./autonomy";
import { tenantWhere } from "./scope";

/**
 * Approvals that behave (SPEC §4.6): the tenant's approval settings, the expiry job's reads and
 * its conditional escalation. The REJECT fallback's transition is `transitionIntent` (repos/intents).
 */

export function approvalSettingsRow(db: DbOrTx, tenantId: string) {
  return db.approvalSettings.findUnique({ where: { tenantId } });
}

/** Only through withConfigWrite: the change is versioned and ledgered with the other configuration. */
export function upsertApprovalSettings(
  tx: ConfigTx,
  tenantId: string,
  data: { ttlHours: number; fallback: string; notifyWebhook: boolean; updatedBy: string | null; updatedAt: Date },
) {
  return tx.approvalSettings.upsert({ where: { tenantId }, create: { tenantId, ...data }, update: data });
}

/** Waiting, never escalated intents requested at or before `createdBefore` (expired by then: isApprovalExpired), oldest first. */
export function expiredCandidates(db: DbOrTx, tenantId: string, createdBefore: Date, limit: number) {
  return db.actionIntent.findMany({
    where: tenantWhere(tenantId, { status: "PENDING_APPROVAL", escalatedAt: null, createdAt: { lte: createdBefore } }),
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    take: limit,
    select: { id: true, accountId: true, correlationId: true, createdAt: true, status: true, escalatedAt: true },
  });
}

/**
 * Hand a waiting intent to an admin, once: only the caller whose conditional update finds it
 * still waiting and not yet escalated wins, so concurrent ticks ledger it once.
 */
export async function escalateIntent(tx: Tx, tenantId: string, id: string, to: string, now: Date): Promise<boolean> {
  const { count } = await tx.actionIntent.updateMany({
    where: tenantWhere(tenantId, { id, status: "PENDING_APPROVAL", escalatedAt: null }),
    data: { escalatedAt: now, escalatedTo: to, updatedAt: now },
  });
  return count === 1;
}

/** The tenant's first admin (earliest membership, then user id): the deterministic escalation target. */
export async function firstAdminUserId(db: DbOrTx, tenantId: string): Promise<string | null> {
  const m = await db.membership.findFirst({
    where: tenantWhere(tenantId, { role: "ADMIN" }),
    orderBy: [{ createdAt: "asc" }, { userId: "asc" }],
    select: { userId: true },
  });
  return m?.userId ?? null;
}
