import type { DbOrTx, Tx } from "../db";
import type { Page } from "../schemas/common";
import { decodeCursor, encodeCursor } from "./cursor";
import { accountWhere, tenantWhere, type Viewer } from "./scope";

export interface NewAuditExport {
  tenantId: string;
  requestedBy: string;
  format: string;
  schemaVersion: number;
  fromAt: Date;
  toAt: Date;
  accountId: string | null;
}

/**
 * Serialise a tenant's export requests: a no-op update of its ledger head row takes the row lock
 * (PostgreSQL) or the database write lock (SQLite) until commit — the same lock every ledger
 * append takes first — so the rate-limit count read after it cannot be raced by a concurrent
 * request of the same tenant.
 */
export async function lockTenantLedger(tx: Tx, tenantId: string) {
  await tx.$executeRaw`UPDATE "LedgerHead" SET "seq" = "seq" WHERE "tenantId" = ${tenantId}`;
}

/** Creation times of the tenant's exports since `since`, oldest first. */
export async function exportTimesSince(db: DbOrTx, tenantId: string, since: Date): Promise<Date[]> {
  const rows = await db.auditExport.findMany({
    where: tenantWhere(tenantId, { createdAt: { gt: since } }),
    select: { createdAt: true },
    orderBy: { createdAt: "asc" },
  });
  return rows.map((r) => r.createdAt);
}

export function insertAuditExport(tx: Tx, e: NewAuditExport, now: Date) {
  return tx.auditExport.create({ data: { ...e, status: "PENDING", createdAt: now } });
}

export function findAuditExport(db: DbOrTx, tenantId: string, id: string) {
  return db.auditExport.findFirst({ where: tenantWhere(tenantId, { id }) });
}

export type AuditExportRow = NonNullable<Awaited<ReturnType<typeof findAuditExport>>>;

/** Newest first; the cursor is (createdAt, id) of the last item. */
export async function listAuditExports(db: DbOrTx, tenantId: string, page: { limit: number; cursor?: string }) {
  const after = page.cursor ? decodeCursor(page.cursor, { t: "epochMs", i: "id" }) : undefined;
  const rows = await db.auditExport.findMany({
    where: tenantWhere(
      tenantId,
      after
        ? {
            OR: [{ createdAt: { lt: new Date(after.t) } }, { createdAt: new Date(after.t), id: { lt: after.i } }],
          }
        : {},
    ),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last ? encodeCursor({ t: last.createdAt.getTime(), i: last.id }) : null,
  } satisfies Page<AuditExportRow>;
}

/**
 * Start (or restart after a crash) a run: back to rows_done 0 under a fresh `startedAt`, which is
 * the run's token — later writes of an older run match nothing. Null when already finished.
 */
export async function startAuditExportRun(db: DbOrTx, tenantId: string, id: string, rowsTotal: number, now: Date) {
  const n = await db.auditExport.updateMany({
    where: tenantWhere(tenantId, { id, status: { in: ["PENDING", "RUNNING"] } }),
    data: { status: "RUNNING", startedAt: now, rowsDone: 0, rowsTotal, rowCount: null, sha256: null, bytes: null, error: null },
  });
  return n.count === 1 ? now : null;
}

export async function advanceAuditExport(db: DbOrTx, tenantId: string, id: string, run: Date, rowsDone: number) {
  const n = await db.auditExport.updateMany({
    where: tenantWhere(tenantId, { id, status: "RUNNING", startedAt: run }),
    data: { rowsDone },
  });
  return n.count === 1;
}

export async function finishAuditExport(
  db: DbOrTx,
  tenantId: string,
  id: string,
  run: Date,
  data: { status: "COMPLETED"; rowCount: number; sha256: string; bytes: number } | { status: "FAILED"; error: string },
  now: Date,
) {
  const n = await db.auditExport.updateMany({
    where: tenantWhere(tenantId, { id, status: "RUNNING", startedAt: run }),
    // rows_total was an estimate while running (ledgerBulk.ts `estimate`); done, it is the count.
    data: { ...data, ...(data.status === "COMPLETED" ? { rowsDone: data.rowCount, rowsTotal: data.rowCount } : {}), finishedAt: now },
  });
  return n.count === 1;
}

/** The last attempt failed before a run could finish it (a crash loop): FAILED whatever the run. */
export async function failAuditExport(db: DbOrTx, tenantId: string, id: string, error: string, now: Date) {
  await db.auditExport.updateMany({
    where: tenantWhere(tenantId, { id, status: { in: ["PENDING", "RUNNING"] } }),
    data: { status: "FAILED", error, finishedAt: now },
  });
}

/** The account, if the viewer may see it (a seller only their own); 404 material otherwise. */
export function visibleAccountId(db: DbOrTx, viewer: Viewer, id: string) {
  return db.account.findFirst({ where: accountWhere(viewer, { id }), select: { id: true } });
}

/** The chain's last seq for the tenant (0 when empty). */
export async function ledgerHeadSeq(db: DbOrTx, tenantId: string) {
  return (await db.ledgerHead.findUnique({ where: { tenantId }, select: { seq: true } }))?.seq ?? 0;
}
