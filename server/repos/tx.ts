import type { Db, Tx } from "../db";

/**
 * One interactive transaction. The generous limits matter under contention: appenders to one
 * tenant's ledger queue on its head row, and a queued transaction must not time out while waiting.
 */
export function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.$transaction((tx) => fn(tx as Tx), { maxWait: 20_000, timeout: 30_000 });
}
