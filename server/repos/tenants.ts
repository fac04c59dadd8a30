import type { DbOrTx, Tx } from "../db";
import type { Role } from "../schemas/common";
import { tenantWhere } from "./scope";

export async function createTenant(tx: Tx, data: { slug: string; name: string }) {
  const tenant = await tx.tenant.create({ data });
  // The chain head exists from birth so appendLedger never has to race to create it.
  await tx.ledgerHead.create({ data: { tenantId: tenant.id } });
  return tenant;
}

export function findTenantBySlug(db: DbOrTx, slug: string) {
  return db.tenant.findUnique({ where: { slug } });
}

export function findTenantById(db: DbOrTx, id: string) {
  return db.tenant.findUnique({ where: { id } });
}

export function listTenants(db: DbOrTx) {
  return db.tenant.findMany({ orderBy: { slug: "asc" } });
}

export function findMembership(db: DbOrTx, tenantId: string, userId: string) {
  return db.membership.findUnique({ where: { tenantId_userId: { tenantId, userId } }, include: { tenant: true } });
}

export function listMembershipsOfUser(db: DbOrTx, userId: string) {
  return db.membership.findMany({ where: { userId }, include: { tenant: true }, orderBy: { createdAt: "asc" } });
}

export function addMembership(tx: Tx, tenantId: string, userId: string, role: Role) {
  return tx.membership.create({ data: { tenantId, userId, role } });
}

export function listMembers(db: DbOrTx, tenantId: string) {
  return db.membership.findMany({
    where: tenantWhere(tenantId),
    include: { user: { select: { id: true, name: true, email: true } } },
    orderBy: { createdAt: "asc" },
  });
}

/**
 * id → display name for users referenced by tenant rows (reviewers, approvers). Users belong to no
 * tenant, so this is not tenant-scoped: callers pass ids read from tenant-scoped rows only.
 */
export async function userNames(db: DbOrTx, ids: (string | null)[]) {
  const wanted = [...new Set(ids.filter((x): x is string => !!x))];
  if (wanted.length === 0) return new Map<string, string>();
  const rows = await db.user.findMany({ where: { id: { in: wanted } }, select: { id: true, name: true } });
  return new Map(rows.map((u) => [u.id, u.name]));
}
