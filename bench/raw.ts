import Database from "better-sqlite3";
import pg from "pg";

/**
 * The plain drivers (better-sqlite3, pg) behind one small interface: what the benchmarks use for
 * fast fixtures and for their baselines — the physical limit, with no ORM in between.
 */
export interface Raw {
  /** run statements in one transaction */
  tx(fn: (exec: (sql: string, params: unknown[]) => Promise<void>) => Promise<unknown>): Promise<void>;
  /** one statement's rows, all read into JS */
  all(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
  /** a date as this database stores it (SQLite: Prisma's text form) */
  date(d: Date): unknown;
  /** placeholder for the i-th (0-based) parameter */
  p(i: number): string;
  close(): Promise<void>;
}

export function sqliteRaw(url: string): Raw {
  const conn = new Database(url.slice("file:".length).split("?")[0] ?? "");
  conn.pragma("busy_timeout = 15000");
  return {
    async tx(fn) {
      conn.exec("BEGIN IMMEDIATE");
      try {
        await fn(async (sql, params) => {
          conn.prepare(sql).run(...params);
        });
        conn.exec("COMMIT");
      } catch (err) {
        conn.exec("ROLLBACK");
        throw err;
      }
    },
    all: async (sql, params) => conn.prepare(sql).all(...params) as Record<string, unknown>[],
    date: (d) => d.toISOString().replace("Z", "+00:00"),
    p: () => "?",
    close: async () => {
      conn.close();
    },
  };
}

export async function pgRaw(url: string): Promise<Raw> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async tx(fn) {
      await client.query("BEGIN");
      try {
        await fn(async (sql, params) => {
          await client.query(sql, params);
        });
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
    },
    all: async (sql, params) => (await client.query(sql, params)).rows,
    date: (d) => d.toISOString(),
    p: (i) => `$${i + 1}`,
    close: () => client.end(),
  };
}

export const rawFor = (label: string, url: string): Promise<Raw> | Raw => (label === "postgres" ? pgRaw(url) : sqliteRaw(url));

/** Multi-row INSERTs of `rows` through the plain driver: 500 rows a statement, 20 statements a transaction. */
export async function insertRows(raw: Raw, table: string, columns: string[], rows: unknown[][]) {
  const per = 500;
  const perTx = per * 20;
  for (let i = 0; i < rows.length; i += perTx) {
    await raw.tx(async (exec) => {
      for (let j = i; j < Math.min(rows.length, i + perTx); j += per) {
        const part = rows.slice(j, Math.min(j + per, rows.length, i + perTx));
        let k = 0;
        const values = part.map((r) => `(${r.map(() => raw.p(k++)).join(", ")})`).join(", ");
        await exec(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES ${values}`, part.flat());
      }
    });
  }
}

/**
 * The physical limit for single-row writes into `table`, measured with the plain driver: on SQLite
 * one single-row transaction at a time (better-sqlite3 on the app's own file and settings), on
 * PostgreSQL 8 connections of autocommit single-row inserts. `row(i, date)` gives the i-th row's
 * values in `columns` order, `date` already in the database's form. Rows per second.
 */
export async function driverInsertRate(
  label: string,
  url: string,
  table: string,
  columns: string[],
  n: number,
  row: (i: number, date: unknown) => unknown[],
): Promise<number> {
  const cols = columns.map((c) => `"${c}"`).join(", ");
  if (label !== "postgres") {
    const raw = sqliteRaw(url);
    try {
      const sql = `INSERT INTO "${table}" (${cols}) VALUES (${columns.map(() => "?").join(", ")})`;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await raw.tx((exec) => exec(sql, row(i, raw.date(new Date()))));
      return n / ((performance.now() - t0) / 1000);
    } finally {
      await raw.close();
    }
  }
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  try {
    const sql = `INSERT INTO "${table}" (${cols}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`;
    // One warm-up insert per connection, so the pool is open before the clock starts.
    await Promise.all(Array.from({ length: 8 }, (_, w) => pool.query(sql, row(-1 - w, new Date()))));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < n; i = next++) await pool.query(sql, row(i, new Date()));
      }),
    );
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await pool.end();
  }
}
