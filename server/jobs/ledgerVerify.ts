import type { Clock } from "../clock";
import type { SecretKey } from "../connectors/secretBox";
import type { Db } from "../db";
import { digestKeysFrom } from "../engine/ledgerDigest";
import { listTenants } from "../repos/tenants";
import { verifyLedger } from "../services/ledger";
import { publishLedgerDigest } from "../services/ledgerDigest";

/**
 * Re-verifies every tenant's hash chain so tampering is noticed even when nobody asks, and signs a
 * digest of each intact head that advanced since the last one (server/engine/ledgerDigest.ts).
 * A broken chain is never signed. Without a root secret there is no signing key: verify only.
 */
export async function runLedgerVerifyTick({
  db,
  clock,
  connectors,
}: {
  db: Db;
  clock: Clock;
  connectors: { secretKey?: SecretKey | null };
}) {
  const keys = connectors.secretKey ? digestKeysFrom(connectors.secretKey) : null;
  const results = [];
  for (const t of await listTenants(db)) {
    const verdict = await verifyLedger(db, t.id);
    const digest = verdict.ok && keys ? await publishLedgerDigest(db, clock, t, keys) : null;
    results.push({ tenant: t.slug, ...verdict, digest_seq: digest?.seq ?? null });
    if (!verdict.ok) console.error(`ledger-verify: tenant ${t.slug} chain broken at #${verdict.at.seq}: ${verdict.detail}`);
  }
  return { ok: results.every((r) => r.ok), signing: keys !== null, tenants: results };
}
