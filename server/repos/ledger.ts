import { randomUUID } from "node:crypto";
import type { DbOrTx, Tx } from "../db";
import { canonicalJson } from "../engine/canonical";
import { type Actor, entryHash, GENESIS_HASH, type LedgerDraftPayload, redactSecrets, type StoredEntry } from "../engine/ledger";
import type { Page } from "../schemas/common";
import { decodeCursor, encodeCursor } from "./cursor";
import { insertRows } from "./rows";
import { tenantWhere } from "./scope";

const LEDGER_COLUMNS = [
  "id",
  "tenantId",
  "seq",
  "accountId",
  "correlationId",
  "type",
  "actorType",
  "actorId",
  "payload",
  "createdAt",
  "prevHash",
  "hash",
] as const;

/** One entry to append; `type` and `payload` are checked together (server/engine/ledgerPayloads.ts). */
export type LedgerAppend = LedgerDraftPayload & {
  tenantId: string;
  actor: Actor;
  accountId?: string | null;
  correlationId?: string;
};

/**
 * Append entries to a tenant's chain. Must run inside the transaction that makes the change they
 * record, so the ledger and the state can never disagree.
 *
 * Bumping the head row *first* is the concurrency contract: on PostgreSQL the UPDATE takes the
 * row lock and holds it to commit; on SQLite the first write takes the database write lock. A
 * second appender for the same tenant waits there, then sees the head the first one committed —
 * so the chain never forks and seq stays dense. One bump reserves seq numbers for the whole batch.
 */
export async function appendLedgerBatch(tx: Tx, tenantId: string, entries: Omit<LedgerAppend, "tenantId">[], now: Date) {
  if (entries.length === 0) return [];
  const rows = await tx.$queryRaw<{ seq: number | bigint; hash: string }[]>`
    UPDATE "LedgerHead" SET "seq" = "seq" + ${entries.length} WHERE "tenantId" = ${tenantId} RETURNING "seq", "hash"`;
  const head = rows[0];
  if (!head) throw new Error(`ledger head missing for tenant ${tenantId}`);
  let seq = Number(head.seq) - entries.length;
  let prevHash = head.hash || GENESIS_HASH;
  const data = entries.map((e) => {
    seq += 1;
    const fields = {
      tenantId,
      seq,
      accountId: e.accountId ?? null,
      correlationId: e.correlationId ?? randomUUID(),
      type: e.type,
      actorType: e.actor.type,
      actorId: e.actor.id,
      payload: canonicalJson(redactSecrets(e.payload)),
      createdAt: now,
    };
    const hash = entryHash(prevHash, fields);
    const row = { ...fields, prevHash, hash };
    prevHash = hash;
    return row;
  });
  // One multi-row INSERT (repos/rows.ts): batch writers append thousands of entries at once (the
  // heat job ledgers every tier change), and createMany through the driver adapters is slow.
  await insertRows(
    tx,
    "LedgerEntry",
    LEDGER_COLUMNS,
    data.map((r) => [
      randomUUID(),
      r.tenantId,
      r.seq,
      r.accountId,
      r.correlationId,
      r.type,
      r.actorType,
      r.actorId,
      r.payload,
      r.createdAt,
      r.prevHash,
      r.hash,
    ]),
  );
  await tx.ledgerHead.update({ where: { tenantId }, data: { hash: prevHash } });
  return data;
}

export async function appendLedger(tx: Tx, e: LedgerAppend, now: Date) {
  const [entry] = await appendLedgerBatch(tx, e.tenantId, [e], now);
  if (!entry) throw new Error("unreachable: empty ledger batch");
  return entry;
}

export interface LedgerFilter {
  accountId?: string;
  type?: string;
  correlationId?: string;
  from?: Date;
  to?: Date;
  maxSeq?: number;
}

export async function listLedger(db: DbOrTx, tenantId: string, filter: LedgerFilter, page: { limit: number; cursor?: string }) {
  const after = page.cursor ? decodeCursor(page.cursor, { s: "int32" }).s : undefined;
  const rows = await db.ledgerEntry.findMany({
    where: tenantWhere(tenantId, {
      ...(filter.accountId ? { accountId: filter.accountId } : {}),
      ...(filter.type ? { type: filter.type } : {}),
      ...(filter.correlationId ? { correlationId: filter.correlationId } : {}),
      ...(filter.from || filter.to
        ? { createdAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } }
        : {}),
      ...(after !== undefined || filter.maxSeq !== undefined
        ? { seq: { ...(after !== undefined ? { lt: after } : {}), ...(filter.maxSeq !== undefined ? { lte: filter.maxSeq } : {}) } }
        : {}),
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
