import type { Clock } from "../clock";
import type { Db } from "../db";
import { listTenants } from "../repos/tenants";
import { verifyLedger } from "../services/ledger";

/** Re-verifies every tenant's hash chain so tampering is noticed even when nobody asks. */
export async function runLedgerVerifyTick({ db }: { db: Db; clock: Clock }) {
  const results = [];
  for (const t of await listTenants(db)) {
    const verdict = await verifyLedger(db, t.id);
    results.push({ tenant: t.slug, ...verdict });
    if (!verdict.ok) console.error(`ledger-verify: tenant ${t.slug} chain broken at #${verdict.at.seq}: ${verdict.detail}`);
  }
  return { ok: results.every((r) => r.ok), tenants: results };
}
