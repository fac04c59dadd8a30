import { randomUUID } from "node:crypto";
import type { DbOrTx, Tx } from "../db";
import { canonicalJson } from "../engine/canonical";
import { type Actor, entryHash, type LedgerEntryType, redactSecrets, type StoredEntry } from "../engine/ledger";
import type { Page } from "../schemas/common";
import { decodeCursor, encodeCursor } from "./cursor";
import { tenantWhere } from "./scope";

export interface LedgerAppend {
  tenantId: string;
  type: LedgerEntryType;
  actor: Actor;
  payload: Record<string, unknown>;
  accountId?: string | null;
  correlationId?: string;
}

/**
 * Append one entry to a tenant's chain. Must run inside the transaction that makes the change it
 * records, so the ledger and the state can never disagree.
 *
 * Bumping the head row *first* is the concurrency contract: on PostgreSQL the UPDATE takes the
 * row lock and holds it to commit; on SQLite the first write takes the database write lock. A
 * second appender for the same tenant waits there, then reads the head the first one committed —
 * so the chain never forks and seq stays dense.
 */
export async function appendLedger(tx: Tx, e: LedgerAppend, now: Date) {
  const bumped = await tx.ledgerHead.updateMany({ where: { tenantId: e.tenantId }, data: { seq: { increment: 1 } } });
  if (bumped.count !== 1) throw new Error(`ledger head missing for tenant ${e.tenantId}`);
  const head = await tx.ledgerHead.findUniqueOrThrow({ where: { tenantId: e.tenantId } });
  const prevHash = head.hash || "0".repeat(64);
  const fields = {
    tenantId: e.tenantId,
    seq: head.seq,
    accountId: e.accountId ?? null,
    correlationId: e.correlationId ?? randomUUID(),
    type: e.type,
    actorType: e.actor.type,
    actorId: e.actor.id,
    payload: canonicalJson(redactSecrets(e.payload)),
    createdAt: now,
  };
  const hash = entryHash(prevHash, fields);
  const entry = await tx.ledgerEntry.create({ data: { ...fields, prevHash, hash } });
  await tx.ledgerHead.update({ where: { tenantId: e.tenantId }, data: { hash } });
  return entry;
}

export interface LedgerFilter {
  accountId?: string;
  type?: string;
  correlationId?: string;
  from?: Date;
  to?: Date;
}

export async function listLedger(db: DbOrTx, tenantId: string, filter: LedgerFilter, page: { limit: number; cursor?: string }) {
  const after = page.cursor ? decodeCursor(page.cursor, { s: "number" }).s : undefined;
  const rows = await db.ledgerEntry.findMany({
    where: tenantWhere(tenantId, {
      ...(filter.accountId ? { accountId: filter.accountId } : {}),
      ...(filter.type ? { type: filter.type } : {}),
      ...(filter.correlationId ? { correlationId: filter.correlationId } : {}),
      ...(filter.from || filter.to
        ? { createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } }
        : {}),
      ...(after !== undefined ? { seq: { lt: after } } : {}),
    }),
    orderBy: { seq: "desc" },
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last ? encodeCursor({ s: last.seq }) : null,
  } satisfies Page<(typeof rows)[number]>;
}

/** Ascending pages of the chain for verification; flat memory however long the ledger is. */
export async function* ledgerChain(db: DbOrTx, tenantId: string, batch = 1000): AsyncGenerator<StoredEntry> {
  let after = 0;
  for (;;) {
    const rows = await db.ledgerEntry.findMany({
      where: tenantWhere(tenantId, { seq: { gt: after } }),
      orderBy: { seq: "asc" },
      take: batch,
    });
    for (const r of rows) yield r;
    const last = rows.at(-1);
    if (!last || rows.length < batch) return;
    after = last.seq;
  }
}

export function ledgerHead(db: DbOrTx, tenantId: string) {
  return db.ledgerHead.findUnique({ where: { tenantId } });
}
