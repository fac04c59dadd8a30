import type { DbOrTx, Tx } from "../db";

/**
 * One-time approval links (server/engine/links.ts holds the signing). Only the link's id is
 * stored; `usedAt` is claimed by a conditional update inside the transaction that decides the
 * intent, so a link works once under any concurrency.
 */

export const APPROVAL_LINK_PURPOSES = ["DIGEST", "WEBHOOK"] as const;
export type ApprovalLinkPurpose = (typeof APPROVAL_LINK_PURPOSES)[number];

export function insertApprovalLink(
  db: DbOrTx,
  row: { id: string; tenantId: string; intentId: string; purpose: ApprovalLinkPurpose; recipientUserId: string | null },
  now: Date,
) {
  return db.approvalLink.create({ data: { ...row, createdAt: now } });
}

/** By id alone: the signed token is the credential and names its tenant through this row. */
export function findApprovalLink(db: DbOrTx, id: string) {
  return db.approvalLink.findUnique({ where: { id } });
}

/** Mark the link used; false when another request used it first. */
export async function claimApprovalLink(tx: Tx, id: string, decision: "APPROVE" | "REJECT", now: Date): Promise<boolean> {
  const { count } = await tx.approvalLink.updateMany({ where: { id, usedAt: null }, data: { usedAt: now, usedDecision: decision } });
  return count === 1;
}
