import type { DbOrTx } from "../db";
import { accountWhere, tenantWhere, type Viewer } from "./scope";

/** Reads behind "why did autopilot do this?": everything by tenant, accounts by the viewer's scope. */

export function visibleAccountName(db: DbOrTx, viewer: Viewer, accountId: string) {
  return db.account.findFirst({ where: accountWhere(viewer, { id: accountId }), select: { id: true, name: true } });
}

export function correlationLedger(db: DbOrTx, tenantId: string, correlationId: string) {
  return db.ledgerEntry.findMany({
    where: tenantWhere(tenantId, { correlationId }),
    orderBy: { seq: "asc" },
    select: { seq: true, type: true, createdAt: true, hash: true, payload: true },
  });
}

/** The run that proposed an intent: by the id in its proposer, else the first run of its story. */
export function runFor(db: DbOrTx, tenantId: string, runId: string | null, correlationId: string) {
  return db.decisionRun.findFirst({
    where: tenantWhere(tenantId, runId ? { id: runId } : { correlationId }),
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
}

/** Names of the users behind reviews, only if they are members of this tenant. */
export async function memberNames(db: DbOrTx, tenantId: string, userIds: string[]) {
  if (userIds.length === 0) return new Map<string, string>();
  const people = await db.user.findMany({
    where: { id: { in: userIds }, memberships: { some: { tenantId } } },
    select: { id: true, name: true },
  });
  return new Map(people.map((p) => [p.id, p.name]));
}
