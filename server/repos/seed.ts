import type { DbOrTx, Tx } from "../db";

/** Writes only the demo seed makes: users with a password credential, and CRM-side records. */

export async function createDemoUser(tx: Tx, u: { email: string; name: string }, passwordHash: string) {
  const user = await tx.user.create({ data: { email: u.email, name: u.name, emailVerified: true } });
  await tx.authAccount.create({ data: { userId: user.id, accountId: user.id, providerId: "credential", password: passwordHash } });
  return user;
}

export function createDemoAccount(
  tx: Tx,
  a: {
    tenantId: string;
    externalId: string;
    name: string;
    domain: string;
    industry: string;
    ownerId: string;
    lifecycle: string;
    posture: string;
    momentum: string;
    arrCents: number;
    createdAt: Date;
  },
) {
  return tx.account.create({ data: { ...a, updatedAt: a.createdAt } });
}

export function createDemoContact(
  tx: Tx,
  c: { tenantId: string; accountId: string; name: string; email: string; title: string; createdAt: Date },
) {
  return tx.contact.create({ data: c });
}

export function createDemoOpportunity(
  tx: Tx,
  o: { tenantId: string; accountId: string; name: string; stage: string; amountCents: number; closeDate: Date; createdAt: Date },
) {
  return tx.opportunity.create({ data: { ...o, updatedAt: o.createdAt } });
}

/** The demo tenant's accounts, in a stable order (the demo source picks from them). */
export function demoAccountIds(db: DbOrTx, tenantId: string) {
  return db.account.findMany({ where: { tenantId }, select: { id: true, ownerId: true }, orderBy: { id: "asc" } });
}

/** Intents waiting for a human in a tenant, oldest first: candidates for the simulated reviews. */
export function pendingIntents(db: DbOrTx, tenantId: string) {
  return db.actionIntent.findMany({
    where: { tenantId, status: "PENDING_APPROVAL" },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    select: { id: true, actionType: true },
  });
}
