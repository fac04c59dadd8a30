import { randomUUID } from "node:crypto";
import type { Db } from "../server/db";
import { appendLedger } from "../server/repos/ledger";
import { createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { verifyLedger } from "../server/services/ledger";

export interface BenchRow {
  suite: string;
  db: string;
  case: string;
  opsPerSec: number;
  ratio: number | null;
  note: string;
  /** the bar for this row, when it has one: what it asks, and whether this run met it */
  target?: { text: string; met: boolean } | null;
}

/** A row's bar: `atLeast` for rates and ratios that should be high, `atMost` for time ratios and sizes. */
export const atLeast = (value: number, bar: number, unit = "×"): BenchRow["target"] => ({ text: `≥ ${bar}${unit}`, met: value >= bar });
export const atMost = (value: number, bar: number, unit = "×"): BenchRow["target"] => ({ text: `≤ ${bar}${unit}`, met: value <= bar });

async function rate(n: number, fn: (i: number) => Promise<unknown>) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return n / ((performance.now() - t0) / 1000);
}

/**
 * Ledger append (head bump + hash + insert, one transaction each) against the baseline of a raw
 * single-row insert of the same row shape in its own transaction, on the same database, same run.
 */
export async function ledgerBench(db: Db, label: string, n: number): Promise<BenchRow[]> {
  const tenant = await inTransaction(db, (tx) => createTenant(tx, { slug: `bench-${randomUUID().slice(0, 8)}`, name: "bench" }));
  const raw = await rate(n, (i) =>
    inTransaction(db, (tx) =>
      tx.ledgerEntry.create({
        data: {
          tenantId: tenant.id,
          seq: 1_000_000 + i,
          correlationId: randomUUID(),
          type: "SIGNAL_RECEIVED",
          actorType: "SYSTEM",
          actorId: "bench",
          payload: '{"n":1}',
          createdAt: new Date(),
          prevHash: "",
          hash: "",
        },
      }),
    ),
  );
  await db.ledgerEntry.deleteMany({ where: { tenantId: tenant.id } });
  const append = await rate(n, (i) =>
    inTransaction(db, (tx) =>
      appendLedger(
        tx,
        {
          tenantId: tenant.id,
          type: "SIGNAL_RECEIVED",
          actor: { type: "SYSTEM", id: "bench" },
          payload: { signal_type: "USAGE_TREND_CHANGE", n: i },
        },
        new Date(),
      ),
    ),
  );
  const t0 = performance.now();
  const verdict = await verifyLedger(db, tenant.id);
  const verifyRate = verdict.entries / ((performance.now() - t0) / 1000);
  if (!verdict.ok) throw new Error("bench chain failed to verify");
  return [
    { suite: "ledger", db: label, case: "raw single-row tx insert (baseline)", opsPerSec: raw, ratio: 1, note: "" },
    { suite: "ledger", db: label, case: "appendLedger (head lock + hash + insert)", opsPerSec: append, ratio: append / raw, note: "" },
    {
      suite: "ledger",
      db: label,
      case: "verify chain (entries/s)",
      opsPerSec: verifyRate,
      ratio: null,
      note: `${verdict.entries} entries`,
    },
  ];
}
