import type { Db } from "../db";
import type { Viewer } from "../repos/scope";
import { findMembership, listMembershipsOfUser } from "../repos/tenants";
import { Role } from "../schemas/common";

export interface SessionLike {
  user: { id: string; name: string; email: string };
  session: { activeTenantId?: string | null };
}

export interface SignedInViewer extends Viewer {
  userId: string;
  role: Role;
  user: { id: string; name: string; email: string };
  tenant: { id: string; slug: string; name: string };
}

/**
 * Turn a session into a tenant-scoped viewer. The membership is re-read on every request: a
 * removed member loses access at once even though their session cookie is still valid.
 */
export async function viewerFromSession(db: Db, s: SessionLike): Promise<SignedInViewer | null> {
  const active = s.session.activeTenantId;
  const membership = active ? await findMembership(db, active, s.user.id) : (await listMembershipsOfUser(db, s.user.id))[0];
  if (!membership) return null;
  const role = Role.safeParse(membership.role);
  if (!role.success) return null;
  return {
    tenantId: membership.tenantId,
    actor: { type: "USER", id: s.user.id },
    role: role.data,
    userId: s.user.id,
    user: { id: s.user.id, name: s.user.name, email: s.user.email },
    tenant: { id: membership.tenant.id, slug: membership.tenant.slug, name: membership.tenant.name },
  };
}
