import pg from "pg";
import { connectionOf, type Db, type DbOrTx } from "../db";
import { isPostgres } from "./tx";

/**
 * The plain pg driver for the few statements the resilience wrapper runs on EVERY connector call
 * on PostgreSQL (its admission read, a capped call's slot claim and release): issue 12's bar is ≤ 1 ms of
 * wrapper overhead at p99. Measured through Prisma's raw queries, a one-row read cost a median
 * ~0.15 ms more than the same prepared statement on the driver, and several times that at the
 * tail (the client runtime's allocation per query); the wrapper sits on every call of every
 * connector. Each statement here is a named prepared statement on a small pool of its own. The
 * rest of the wrapper (breaker moves, samples) stays on Prisma: those run on failures or off the
 * caller's path.
 *
 * The same observer createDb was given sees these statements (the tenant-isolation harness records
 * every statement). A client not made by createDb, or a transaction, gets null: the caller falls
 * back to its Prisma query.
 */

const pools = new Map<string, pg.Pool>();

/** timestamp(3) without time zone holds UTC (Prisma's convention): read it as UTC, not local time. */
const utc = (s: string) => new Date(`${s.replace(" ", "T")}Z`);

function poolFor(url: string): pg.Pool {
  let pool = pools.get(url);
  if (!pool) {
    pool = new pg.Pool({
      connectionString: url,
      max: 4,
      // Idle connections close soon and never hold the process open (CLIs, tests, serverless).
      idleTimeoutMillis: 5_000,
      allowExitOnIdle: true,
      types: {
        getTypeParser: (oid: number, format?: string) => (oid === 1114 ? utc : pg.types.getTypeParser(oid, format as "text")),
      },
    });
    // An idle connection that dropped (server restart, database dropped): the pool replaces it on
    // next use; without a listener the error would end the process.
    pool.on("error", () => undefined);
    pools.set(url, pool);
  }
  return pool;
}

/**
 * Run a named prepared statement on PostgreSQL through the plain driver; null when `db` is not a
 * PostgreSQL client from createDb (the caller uses its Prisma query). Dates go as ISO text: a
 * timestamp without time zone keeps the UTC wall time and ignores the "Z".
 */
export async function plainPgRows<R>(db: DbOrTx, name: string, text: string, values: unknown[]): Promise<R[] | null> {
  if (!isPostgres(db)) return null;
  const conn = connectionOf(db as Db);
  if (!conn) return null;
  const args = values.map((v) => (v instanceof Date ? v.toISOString() : v));
  // Unnamed (parsed every time) when prepared statements are off, as for Prisma's pool (server/db.ts).
  const named = process.env.PG_PREPARED_STATEMENTS !== "false";
  const res = await poolFor(conn.url).query({ name: named ? name : undefined, text, values: args });
  conn.observe?.({
    sql: text,
    args,
    columns: res.fields.map((f) => f.name),
    rows: res.rows.map((r: Record<string, unknown>) => res.fields.map((f) => r[f.name])),
  });
  return res.rows as R[];
}
