import type { Db } from "../db";
import { type ChainVerdict, ChainVerifier } from "../engine/ledger";
import { readStoredJson } from "../engine/storedJson";
import { accountNames } from "../repos/accounts";
import { type LedgerFilter, ledgerChain, ledgerHead, listLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";

export type LedgerEntryDto = {
  id: string;
  seq: number;
  type: string;
  accountId: string | null;
  accountName: string | null;
  correlationId: string;
  actor: { type: string; id: string | null };
  payload: unknown;
  createdAt: Date;
  prevHash: string;
  hash: string;
};

export async function listLedgerEntries(db: Db, viewer: Viewer, filter: LedgerFilter, page: { limit: number; cursor?: string }) {
  const res = await listLedger(db, viewer.tenantId, filter, page);
  const names = await accountNames(
    db,
    viewer.tenantId,
    res.items.map((e) => e.accountId),
  );
  return {
    items: res.items.map(
      (e): LedgerEntryDto => ({
        id: e.id,
        seq: e.seq,
        type: e.type,
        accountId: e.accountId,
        accountName: e.accountId ? (names.get(e.accountId) ?? null) : null,
        correlationId: e.correlationId,
        actor: { type: e.actorType, id: e.actorId },
        payload: readStoredJson(e.payload),
        createdAt: e.createdAt,
        prevHash: e.prevHash,
        hash: e.hash,
      }),
    ),
    nextCursor: res.nextCursor,
  };
}

/** Re-hash a tenant's whole chain from genesis and compare with the stored head. */
export async function verifyLedger(db: Db, tenantId: string): Promise<ChainVerdict> {
  const verifier = new ChainVerifier();
  for await (const entry of ledgerChain(db, tenantId)) {
    if (!verifier.push(entry)) break;
  }
  return verifier.finish(await ledgerHead(db, tenantId));
}
