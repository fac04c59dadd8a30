import type { Db } from "../db";
import type { Viewer } from "../repos/scope";
import { listMembers } from "../repos/tenants";

/** The viewer's tenant's people and roles (admin/auditor view; the router checks the tier). */
export async function listTenantMembers(db: Db, viewer: Viewer) {
  const rows = await listMembers(db, viewer.tenantId);
  return rows.map((m) => ({ userId: m.user.id, name: m.user.name, email: m.user.email, role: m.role }));
}
