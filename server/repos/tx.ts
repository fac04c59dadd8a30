import type { Db, DbOrTx, Tx } from "../db";

/** The one provider check of the repos: where SQLite and PostgreSQL need different SQL. */
export const isPostgres = (db: DbOrTx) => (db as unknown as { _activeProvider?: string })._activeProvider === "postgresql";

/**
 * One interactive transaction. The generous limits matter under contention: appenders to one
 * tenant's ledger queue on its head row, and a queued transaction must not time out while waiting.
 */
export function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.$transaction((tx) => fn(tx as Tx), { maxWait: 20_000, timeout: 30_000 });
}
