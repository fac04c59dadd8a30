import type { Role } from "../schemas/common";

/**
 * Who is asking, as resolved at the edge from a session or an API key. The tenant id only ever
 * comes from here, never from request input.
 */
export interface Viewer {
  tenantId: string;
  actor: { type: "USER"; id: string } | { type: "API_KEY"; id: string } | { type: "SYSTEM"; id: string };
  /** null for API keys and system jobs, which see the whole tenant within their scopes */
  role: Role | null;
  userId: string | null;
}

/** The one helper that builds a tenant-scoped `where`. Every query on tenant data goes through it. */
export function tenantWhere<W extends object>(tenantId: string, where?: W): W & { tenantId: string } {
  return { ...(where ?? ({} as W)), tenantId };
}

/**
 * Accounts a viewer may see: the whole tenant, except that a seller sees only accounts they own.
 * Reads of account-bound data (contacts, opportunities, ledger by account) check this first.
 */
export function accountWhere<W extends object>(viewer: Viewer, where?: W): W & { tenantId: string; ownerId?: string } {
  const base = tenantWhere(viewer.tenantId, where);
  return viewer.role === "SELLER" && viewer.userId ? { ...base, ownerId: viewer.userId } : base;
}

/** `accountWhere`'s rule for an account already read: whether this viewer may see it. */
export function accountVisibleTo(viewer: Viewer, account: { ownerId: string | null }) {
  return !(viewer.role === "SELLER" && viewer.userId) || account.ownerId === viewer.userId;
}
