import type { DbOrTx } from "../db";
import { accountWhere, tenantWhere, type Viewer } from "./scope";

/** Reads behind the "What should I do next" feed (services/nextActions.ts). */

/** Ids of the accounts the viewer may see, narrowed to one account and/or one owner. */
export async function scopedAccountIds(db: DbOrTx, viewer: Viewer, f: { accountId?: string; ownerId?: string }) {
  const rows = await db.account.findMany({
    where: accountWhere(viewer, { ...(f.accountId ? { id: f.accountId } : {}), ...(f.ownerId ? { ownerId: f.ownerId } : {}) }),
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

/**
 * The newest `take` open proposals (PENDING_APPROVAL), only the columns ranking needs: the feed
 * scores every candidate before it pages, so the rows stay small. `accountIds` undefined = the
 * whole tenant.
 */
export function openProposalKeys(db: DbOrTx, tenantId: string, accountIds: string[] | undefined, take: number) {
  return db.actionIntent.findMany({
    where: tenantWhere(tenantId, { status: "PENDING_APPROVAL", ...(accountIds ? { accountId: { in: accountIds } } : {}) }),
    select: { id: true, actionType: true, confidence: true, rankScore: true, features: true, createdAt: true },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take,
  });
}

/** Full intent rows by id (one page of the feed), tenant-scoped. */
export function intentsByIds(db: DbOrTx, tenantId: string, ids: string[]) {
  return db.actionIntent.findMany({ where: tenantWhere(tenantId, { id: { in: ids } }) });
}

/** Name and owner (id and name) of a page's accounts. */
export function accountOwners(db: DbOrTx, tenantId: string, ids: string[]) {
  return db.account.findMany({
    where: tenantWhere(tenantId, { id: { in: [...new Set(ids)] } }),
    select: { id: true, name: true, ownerId: true, owner: { select: { name: true } } },
  });
}
