import type { DbOrTx, Tx } from "../db";
import { tenantWhere } from "./scope";

/** Rows the CRM sync reads and writes, keyed by the CRM's record id (`externalId`, unique per tenant). */

export function accountByExternalId(db: DbOrTx, tenantId: string, externalId: string) {
  return db.account.findFirst({ where: tenantWhere(tenantId, { externalId }) });
}

export function accountById(db: DbOrTx, tenantId: string, id: string) {
  return db.account.findFirst({ where: tenantWhere(tenantId, { id }) });
}

export function accountIdsByExternalIds(db: DbOrTx, tenantId: string, externalIds: string[]) {
  return db.account.findMany({ where: tenantWhere(tenantId, { externalId: { in: externalIds } }), select: { id: true, externalId: true } });
}

export function createCrmAccount(
  tx: Tx,
  data: {
    tenantId: string;
    externalId: string;
    name: string;
    domain: string | null;
    industry: string | null;
    lifecycle?: string;
    posture?: string;
    ownerId: string | null;
    crmModifiedAt: Date | null;
  },
  now: Date,
) {
  return tx.account.create({ data: { ...data, createdAt: now, updatedAt: now } });
}

export function updateCrmAccountRow(tx: Tx, tenantId: string, id: string, data: Record<string, unknown>, now: Date) {
  return tx.account.updateMany({ where: tenantWhere(tenantId, { id }), data: { ...data, updatedAt: now } });
}

export function contactByExternalId(db: DbOrTx, tenantId: string, externalId: string) {
  return db.contact.findFirst({ where: tenantWhere(tenantId, { externalId }) });
}

export function createCrmContact(
  tx: Tx,
  data: { tenantId: string; accountId: string; externalId: string; name: string; email: string | null; title: string | null },
  now: Date,
) {
  return tx.contact.create({ data: { ...data, createdAt: now, updatedAt: now } });
}

export function updateCrmContact(tx: Tx, tenantId: string, id: string, data: Record<string, unknown>, now: Date) {
  return tx.contact.updateMany({ where: tenantWhere(tenantId, { id }), data: { ...data, updatedAt: now } });
}

export function opportunityByExternalId(db: DbOrTx, tenantId: string, externalId: string) {
  return db.opportunity.findFirst({ where: tenantWhere(tenantId, { externalId }) });
}

export function opportunityById(db: DbOrTx, tenantId: string, id: string) {
  return db.opportunity.findFirst({ where: tenantWhere(tenantId, { id }) });
}

export function createCrmOpportunity(
  tx: Tx,
  data: {
    tenantId: string;
    accountId: string;
    externalId: string;
    name: string;
    stage: string;
    amountCents: number;
    closeDate: Date | null;
  },
  now: Date,
) {
  return tx.opportunity.create({ data: { ...data, createdAt: now, updatedAt: now } });
}

export function updateCrmOpportunity(tx: Tx, tenantId: string, id: string, data: Record<string, unknown>, now: Date) {
  return tx.opportunity.updateMany({ where: tenantWhere(tenantId, { id }), data: { ...data, updatedAt: now } });
}

/** Lower-cased member email → user id, to give a synced account its HubSpot owner when they are a member. */
export async function memberIdsByEmail(db: DbOrTx, tenantId: string) {
  const rows = await db.membership.findMany({ where: tenantWhere(tenantId), select: { user: { select: { id: true, email: true } } } });
  return new Map(rows.map((r) => [r.user.email.toLowerCase(), r.user.id]));
}

/** A tool call already recorded for this idempotency key, if any (local dedupe of CRM writes). */
export function toolCallForKey(db: DbOrTx, tenantId: string, idempotencyKey: string) {
  return db.toolCall.findFirst({ where: tenantWhere(tenantId, { idempotencyKey }) });
}
