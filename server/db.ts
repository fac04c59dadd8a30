import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import type {
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQuery,
  SqlQueryable,
  SqlResultSet,
  Transaction,
} from "@prisma/driver-adapter-utils";
import Database from "better-sqlite3";
import { PrismaClient as PgClient } from "./generated/postgres/client.ts";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client.ts";

/**
 * The two generated clients are tied to one provider each and their types do not unify. Queries
 * are written in the subset both databases support, so the whole app uses the SQLite client's
 * type and the PostgreSQL client is cast to it at this one switch.
 */
export type Db = InstanceType<typeof SqliteClient>;
/** An interactive-transaction client; repos accept `Db | Tx`. */
export type Tx = Omit<Db, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;
export type DbOrTx = Db | Tx;

export type Provider = "sqlite" | "postgresql";

/**
 * Deliberately not imported from server/db/migrate.ts (which has the same rule): that module reads
 * the migrations folder, and pulling it into the Next.js bundle would trace the whole project.
 */
export function providerOf(url: string): Provider {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return "postgresql";
  if (url.startsWith("file:")) return "sqlite";
  throw new Error("DATABASE_URL must start with file: (SQLite) or postgres:// / postgresql:// (PostgreSQL)");
}

/** `file:` URLs resolve against the working directory, as Prisma's own tools do. */
function sqlitePath(url: string): string {
  const raw = url.slice("file:".length).split("?")[0] ?? "";
  return path.resolve(/*turbopackIgnore: true*/ raw);
}

/**
 * One SQL statement as the driver adapter ran it: its text, its bound values, and (for queries)
 * the rows it returned. `rows` is absent for statements that only report a count.
 */
export interface ObservedStatement {
  sql: string;
  args: readonly unknown[];
  columns?: readonly string[];
  rows?: readonly (readonly unknown[])[];
}
export type StatementObserver = (statement: ObservedStatement) => void;

export interface CreateDbOptions {
  /**
   * Sees every statement after it ran (the tenant-isolation harness records them). Off by
   * default; when unset the adapter is handed to Prisma untouched, so it costs nothing.
   */
  observe?: StatementObserver;
}

function observedQueryable<T extends SqlQueryable>(q: T, observe: StatementObserver) {
  return {
    provider: q.provider,
    adapterName: q.adapterName,
    async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
      const result = await q.queryRaw(query);
      observe({ sql: query.sql, args: query.args, columns: result.columnNames, rows: result.rows });
      return result;
    },
    async executeRaw(query: SqlQuery): Promise<number> {
      const count = await q.executeRaw(query);
      observe({ sql: query.sql, args: query.args });
      return count;
    },
  };
}

/** Wraps rather than subclasses: the adapters keep private state, so methods stay bound to them. */
function observedAdapter(factory: SqlDriverAdapterFactory, observe: StatementObserver): SqlDriverAdapterFactory {
  const transaction = (tx: Transaction): Transaction => ({
    ...observedQueryable(tx, observe),
    options: tx.options,
    commit: () => tx.commit(),
    rollback: () => tx.rollback(),
    createSavepoint: tx.createSavepoint?.bind(tx),
    rollbackToSavepoint: tx.rollbackToSavepoint?.bind(tx),
    releaseSavepoint: tx.releaseSavepoint?.bind(tx),
  });
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect(): Promise<SqlDriverAdapter> {
      const adapter = await factory.connect();
      return {
        ...observedQueryable(adapter, observe),
        executeScript: (script) => adapter.executeScript(script),
        startTransaction: async (isolationLevel) => transaction(await adapter.startTransaction(isolationLevel)),
        getConnectionInfo: adapter.getConnectionInfo?.bind(adapter),
        dispose: () => adapter.dispose(),
      };
    },
  };
}

/** Prepared SQLite statements kept per connection; past this, the oldest is dropped. */
const SQLITE_STATEMENT_CACHE = 500;

/**
 * Two things at the one seam the SQLite adapter (@prisma/adapter-better-sqlite3 7.10.0, pinned)
 * offers: its better-sqlite3 connection's `prepare`, which it calls for every statement as
 * `prepare(sql).bind(args)` then `.run()` or `.raw().all()`, and as `prepare("BEGIN").run()`.
 *
 * 1. Transactions start with BEGIN IMMEDIATE (the write lock at once) instead of a plain BEGIN.
 *    With a deferred BEGIN, a transaction that reads and then writes while another process
 *    committed in between cannot upgrade its stale snapshot — SQLite answers SQLITE_BUSY at once,
 *    without the busy timeout (measured: 64 of 360 read-then-write transactions from three
 *    processes failed — `npm start`'s server and scheduler, a CLI, a worker share a file like
 *    this). IMMEDIATE makes the second writer wait its turn under the busy timeout instead. Every
 *    interactive transaction here writes, so nothing that could have run beside a writer is
 *    serialised. test/integration/db-multiprocess.test.ts fails without this.
 * 2. Statements are prepared once per text and reused. The adapter prepares every statement
 *    afresh — SQLite parses and plans it each time; in CPU profiles of the gate and of the HTTP
 *    routes `prepare` was 4–6 % of all time. better-sqlite3's `bind` fixes a statement's
 *    parameters for good, so the cached statement is handed out behind a small object that binds
 *    per call instead. Safe because the adapter runs a statement synchronously, start to finish,
 *    before it prepares another (nothing interleaves on the connection), and SQLite re-prepares a
 *    cached statement by itself after a schema change. Bounded: texts that vary with their data (a
 *    group's multi-row INSERT) would otherwise pile up.
 */
function sqliteConnectionSeam(factory: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect(): Promise<SqlDriverAdapter> {
      const adapter = await factory.connect();
      const client = (adapter as unknown as { client?: Database.Database }).client;
      if (!client || typeof client.prepare !== "function")
        throw new Error("The SQLite driver adapter changed shape: its connection is not where BEGIN IMMEDIATE expects it");
      const prepare = client.prepare.bind(client);
      const cache = new Map<string, Database.Statement>();
      const statement = (sql: string) => {
        const text = sql === "BEGIN" ? "BEGIN IMMEDIATE" : sql;
        let stmt = cache.get(text);
        if (!stmt) {
          stmt = prepare(text);
          if (cache.size >= SQLITE_STATEMENT_CACHE) cache.delete(cache.keys().next().value as string);
          cache.set(text, stmt);
        }
        return stmt;
      };
      client.prepare = ((sql: string) => {
        const stmt = statement(sql);
        return {
          run: (...args: unknown[]) => stmt.run(...args),
          bind: (args: unknown[]) => ({
            reader: stmt.reader,
            run: () => stmt.run(args),
            columns: () => stmt.columns(),
            raw: () => ({ all: () => stmt.raw(true).all(args) }),
          }),
        };
      }) as unknown as typeof client.prepare;
      return adapter;
    },
  };
}

/** Distinct statement texts that get a name, per client; later texts run unnamed (see below). */
const MAX_NAMED_STATEMENTS = 2000;
/** Longer texts (multi-row inserts of a whole group, long IN lists) vary by row count: not worth a slot. */
const MAX_NAMED_SQL_CHARS = 4000;

/**
 * PostgreSQL parses and plans an unnamed statement on every execution; a named one is parsed once
 * per connection, and after a few executions PostgreSQL may keep a generic plan for it, so a hot
 * statement costs a bind and an execute. Measured on the resilience wrapper's admission read:
 * planning was most of its round trip. Prisma's pg adapter takes the name from
 * `statementNameGenerator`; pg keeps the parsed statements per connection.
 *
 * The name is a hash of the text, so one text has one name on every connection (pg refuses a
 * name reused for a different text). Transaction control runs unnamed (it has no parameters and
 * goes over the simple protocol). The set is bounded per client — statements whose shape varies
 * with their data (a group's multi-row insert, an IN list) would otherwise leave one prepared
 * statement per shape on every connection — so past MAX_NAMED_STATEMENTS texts, or for a text over
 * MAX_NAMED_SQL_CHARS, the statement is sent unnamed, as without this.
 *
 * `PG_PREPARED_STATEMENTS=false` turns it off, for a pooler that moves a session's statements
 * between server connections (PgBouncer in transaction mode before 1.21, without
 * max_prepared_statements).
 */
export function statementNames(limit = MAX_NAMED_STATEMENTS): (query: SqlQuery) => string {
  const names = new Map<string, string>();
  return (query) => {
    const sql = query.sql;
    const known = names.get(sql);
    if (known !== undefined) return known;
    if (query.args.length === 0 || sql.length > MAX_NAMED_SQL_CHARS || names.size >= limit) return "";
    const name = `ap_${createHash("sha1").update(sql).digest("base64url")}`;
    names.set(sql, name);
    return name;
  };
}

/** Where each client connects and who observes it: for the few repos that also use the plain driver. */
const connections = new WeakMap<Db, { url: string; observe?: StatementObserver }>();

/** The URL (and statement observer) a client from createDb was made with; null for a client made elsewhere. */
export function connectionOf(db: Db): { url: string; observe?: StatementObserver } | null {
  return connections.get(db) ?? null;
}

export function createDb(url: string, options: CreateDbOptions = {}): Db {
  const db = makeClient(url, options);
  connections.set(db, { url, observe: options.observe });
  return db;
}

function makeClient(url: string, options: CreateDbOptions): Db {
  const withObserver = (factory: SqlDriverAdapterFactory) => (options.observe ? observedAdapter(factory, options.observe) : factory);
  if (providerOf(url) === "postgresql") {
    const prepared = process.env.PG_PREPARED_STATEMENTS !== "false";
    // A modest pool: several app instances share one server (the multi-instance mode).
    const adapter = withObserver(
      new PrismaPg({ connectionString: url, max: 10 }, prepared ? { statementNameGenerator: statementNames() } : undefined),
    );
    return new PgClient({ adapter }) as unknown as Db;
  }
  const file = sqlitePath(url);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // WAL lets the scheduler and the web server read while the other writes; it is a property of
  // the file, so setting it once here holds for every later connection.
  const raw = new Database(file);
  raw.pragma("journal_mode = WAL");
  raw.close();
  // `timeout` is SQLite's busy timeout: a writer waits for another process's write lock instead
  // of failing at once with SQLITE_BUSY.
  const adapter = withObserver(sqliteConnectionSeam(new PrismaBetterSqlite3({ url: file, timeout: 15_000 })));
  return new SqliteClient({ adapter });
}

const globalForDb = globalThis as unknown as { __autopilotDb?: Db };

/** The process-wide client for the app and scripts (tests create their own with createDb). */
export function getDb(): Db {
  if (!globalForDb.__autopilotDb) {
    globalForDb.__autopilotDb = createDb(process.env.DATABASE_URL ?? "file:./data/autopilot.db");
  }
  return globalForDb.__autopilotDb;
}
