import type { DbOrTx } from "../db";
import { badRequest } from "../errors";
import type { Page } from "../schemas/common";
import { decodeCursor, encodeCursor } from "./cursor";
import { accountWhere, tenantWhere, type Viewer } from "./scope";

const ownerSelect = { select: { id: true, name: true, email: true } } as const;

export interface AccountFilter {
  q?: string;
  lifecycle?: string;
  posture?: string;
  ownerId?: string;
}

/** Newest first by (createdAt, id): deterministic even when many rows share a timestamp. */
export async function listAccounts(db: DbOrTx, viewer: Viewer, filter: AccountFilter, page: { limit: number; cursor?: string }) {
  const c = page.cursor ? decodeCursor(page.cursor, { t: "iso", i: "id" }) : undefined;
  const cursorDate = c ? new Date(c.t) : undefined;
  if (cursorDate && Number.isNaN(cursorDate.getTime())) throw badRequest("cursor", "cursor is not valid");
  const rows = await db.account.findMany({
    where: accountWhere(viewer, {
      ...(filter.q ? { name: { contains: filter.q } } : {}),
      ...(filter.lifecycle ? { lifecycle: filter.lifecycle } : {}),
      ...(filter.posture ? { posture: filter.posture } : {}),
      ...(filter.ownerId ? { ownerId: filter.ownerId } : {}),
      ...(c && cursorDate ? { OR: [{ createdAt: { lt: cursorDate } }, { createdAt: cursorDate, id: { lt: c.i } }] } : {}),
    }),
    include: { owner: ownerSelect },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last ? encodeCursor({ t: last.createdAt.toISOString(), i: last.id }) : null,
  } satisfies Page<(typeof rows)[number]>;
}

export function findAccount(db: DbOrTx, viewer: Viewer, id: string) {
  return db.account.findFirst({
    where: accountWhere(viewer, { id }),
    include: {
      owner: ownerSelect,
      contacts: { orderBy: [{ createdAt: "desc" }, { id: "desc" }] },
      opportunities: { orderBy: [{ createdAt: "desc" }, { id: "desc" }] },
    },
  });
}

export interface AccountPatch {
  name?: string;
  domain?: string | null;
  industry?: string | null;
  lifecycle?: string;
  posture?: string;
  momentum?: string;
  arrCents?: number;
  ownerId?: string | null;
  externalId?: string | null;
}

export function updateAccount(db: DbOrTx, viewer: Viewer, id: string, patch: AccountPatch, now: Date) {
  return db.account.updateMany({ where: accountWhere(viewer, { id }), data: { ...patch, updatedAt: now } });
}

/** id → name for a page of rows that reference accounts (one query, tenant-scoped). */
export async function accountNames(db: DbOrTx, tenantId: string, ids: (string | null)[]) {
  const wanted = [...new Set(ids.filter((x): x is string => !!x))];
  if (wanted.length === 0) return new Map<string, string>();
  const rows = await db.account.findMany({ where: tenantWhere(tenantId, { id: { in: wanted } }), select: { id: true, name: true } });
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** Ids of the accounts a viewer may see (a seller: the ones they own). */
export async function visibleAccountIds(db: DbOrTx, viewer: Viewer) {
  const rows = await db.account.findMany({ where: accountWhere(viewer), select: { id: true } });
  return rows.map((r) => r.id);
}

/** Whether the viewer may see this account; another tenant's or another seller's reads as false. */
/** The account's id when it belongs to the tenant (whoever owns it), else null. */
export async function tenantAccountId(db: DbOrTx, tenantId: string, id: string) {
  return (await db.account.findFirst({ where: tenantWhere(tenantId, { id }), select: { id: true } }))?.id ?? null;
}

/** Which of these ids are accounts of the tenant (one query for a whole intake group). */
export async function tenantAccountIds(db: DbOrTx, tenantId: string, ids: string[]) {
  if (ids.length === 0) return new Set<string>();
  const rows = await db.account.findMany({ where: tenantWhere(tenantId, { id: { in: [...new Set(ids)] } }), select: { id: true } });
  return new Set(rows.map((r) => r.id));
}

export async function isAccountVisible(db: DbOrTx, viewer: Viewer, id: string) {
  return (await db.account.findFirst({ where: accountWhere(viewer, { id }), select: { id: true } })) !== null;
}

/** Name and owner name for a page of rows that reference accounts (one query, tenant-scoped). */
export function accountSummaries(db: DbOrTx, tenantId: string, ids: string[]) {
  return db.account.findMany({
    where: tenantWhere(tenantId, { id: { in: [...new Set(ids)] } }),
    select: { id: true, name: true, owner: { select: { name: true } } },
  });
}
