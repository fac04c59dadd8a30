import type { DbOrTx, Tx } from "../db";
import { tenantWhere } from "./scope";

/** The digests a tenant's chain head was signed at (the signature is public; it proves, it grants nothing). */

export function latestLedgerDigest(db: DbOrTx, tenantId: string) {
  return db.ledgerDigest.findFirst({ where: tenantWhere(tenantId), orderBy: { seq: "desc" } });
}

export function insertLedgerDigest(
  tx: Tx,
  data: { tenantId: string; seq: number; headHash: string; keyId: string; signature: string; createdAt: Date },
) {
  return tx.ledgerDigest.create({ data });
}

/** The hash stored at one seq of a tenant's chain, or null when no such entry exists. */
export async function ledgerHashAt(db: DbOrTx, tenantId: string, seq: number) {
  const row = await db.ledgerEntry.findFirst({ where: tenantWhere(tenantId, { seq }), select: { hash: true } });
  return row?.hash ?? null;
}
