// Runtime migration runner for both providers.
//
// Why not Prisma's engine here: `npm start` and every test file call this, so it must be fast and
// light. It talks to the database with the plain drivers (better-sqlite3 / pg), loaded lazily so
// a PostgreSQL deployment never loads the native SQLite module and vice versa. The migration
// files themselves are written by scripts/db.ts (`create`), which does use the engine.
//
// Compatibility contract with Prisma: the `_prisma_migrations` table has Prisma's exact columns
// and types, `checksum` is the sha256 hex of the migration.sql bytes, and timestamps are written
// in the same format the engine writes, so `prisma migrate` tooling (or the wasm engine) reads
// our rows and we read theirs. On PostgreSQL we take the same advisory lock key Prisma's engine
// uses, so our runner and Prisma's never migrate one database at the same time.

import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type BetterSqlite3 from "better-sqlite3";
import type pg from "pg";

export type Provider = "sqlite" | "postgresql";

export interface MigrateOptions {
  /** Receives one human-readable line per event (applied, skipped, waiting for a lock…). */
  log?: (line: string) => void;
  /** Directory holding `<name>/migration.sql` folders. Default: `<repo>/prisma/<provider dir>/migrations`. */
  migrationsDir?: string;
}

export interface MigrationFile {
  name: string;
  /** Absolute path of migration.sql, for error messages. */
  file: string;
  sql: string;
  checksum: string;
}

export interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

export interface MigrationStatus {
  provider: Provider;
  migrationsDir: string;
  applied: string[];
  pending: string[];
  /** Applied according to the database but absent from the directory (database is ahead of the code). */
  unknown: string[];
}

export const MIGRATIONS_TABLE = "_prisma_migrations";

/** Prisma's schema engine locks with this key (sql-schema-connector, postgres flavour). */
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

/** Folder name under prisma/ for each provider (the provider names Prisma uses in schema files). */
export const PROVIDER_DIRS: Record<Provider, string> = { sqlite: "sqlite", postgresql: "postgres" };

// ───────────────────────────── URLs ─────────────────────────────

export function providerOf(url: string): Provider {
  if (/^postgres(ql)?:\/\//i.test(url)) return "postgresql";
  if (/^file:/i.test(url)) return "sqlite";
  const shown = url.replace(/\/\/[^@/]*@/, "//***@");
  throw new Error(`Unsupported DATABASE_URL "${shown}": expected postgresql://… (or postgres://…) for PostgreSQL, or file:… for SQLite`);
}

/** `file:./data/app.db` → absolute path, relative paths resolved against process.cwd(). */
export function sqliteFilePath(url: string): string {
  if (!/^file:/i.test(url)) throw new Error(`Not a SQLite file: URL: "${url}"`);
  // Prisma-style URLs may carry options (`?connection_limit=1`); they are not part of the path.
  const withoutQuery = url.replace(/\?.*$/, "");
  if (withoutQuery.startsWith("file://")) return fileURLToPath(withoutQuery);
  const rest = decodeURIComponent(withoutQuery.slice("file:".length));
  if (rest === "") throw new Error(`SQLite URL "${url}" has no path`);
  if (rest === ":memory:") return rest;
  return path.resolve(process.cwd(), rest);
}

// ───────────────────────────── migration files ─────────────────────────────

export function sha256Hex(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

/**
 * Prisma accepts a file whose line endings were converted (e.g. git autocrlf on Windows) as
 * unchanged; mirror that so a checkout on another OS does not look like an edited migration.
 */
function checksumMatches(file: MigrationFile, stored: string): boolean {
  if (file.checksum === stored) return true;
  const lf = file.sql.replace(/\r\n/g, "\n");
  return sha256Hex(lf) === stored || sha256Hex(lf.replace(/\n/g, "\r\n")) === stored;
}

/** Repo-root candidates: this file's location (server/db → ../..) first, then the working directory. */
function repoRootCandidates(): string[] {
  const roots: string[] = [];
  // Under a bundler import.meta.url may not be a file: URL; then only process.cwd() is meaningful.
  if (import.meta.url.startsWith("file:")) {
    roots.push(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", ".."));
  }
  roots.push(process.cwd());
  return roots;
}

export function defaultMigrationsDir(provider: Provider): string {
  const tried = repoRootCandidates().map((root) => path.join(root, "prisma", PROVIDER_DIRS[provider], "migrations"));
  const found = tried.find((dir) => existsSync(dir));
  if (found === undefined) {
    throw new Error(`No migrations directory for ${provider}; looked in: ${tried.join(", ")}`);
  }
  return found;
}

/** All `<dir>/<name>/migration.sql`, sorted by name (byte order, which is timestamp order). */
export function readMigrationFiles(dir: string): MigrationFile[] {
  if (!existsSync(dir)) throw new Error(`Migrations directory not found: ${dir}`);
  const names = readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isDirectory())
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => {
    const file = path.join(dir, name, "migration.sql");
    // A folder without its script is a broken checkout, not "nothing to do": refuse, like Prisma.
    if (!existsSync(file)) throw new Error(`Migration folder ${name} has no migration.sql (${file})`);
    const raw = readFileSync(file);
    return { name, file, sql: raw.toString("utf8"), checksum: sha256Hex(raw) };
  });
}

/**
 * Compares the directory with the table. Throws on an edited or failed migration (applying more
 * on top of either would build on a schema nobody can reproduce); returns what is left to do.
 */
export function planMigrations(
  files: MigrationFile[],
  rows: AppliedRow[],
): { pending: MigrationFile[]; applied: string[]; unknown: string[] } {
  // Rolled-back rows are history only; Prisma ignores them too.
  const live = rows.filter((row) => row.rolled_back_at === null);
  const failed = live.filter((row) => row.finished_at === null).map((row) => row.migration_name);
  if (failed.length > 0) {
    throw new Error(
      `Migration(s) ${failed.join(", ")} started but never finished (row in ${MIGRATIONS_TABLE} without finished_at). ` +
        "Inspect the database, fix it by hand, then delete or mark that row rolled back (set rolled_back_at).",
    );
  }
  const byName = new Map(live.map((row) => [row.migration_name, row]));
  for (const file of files) {
    const row = byName.get(file.name);
    if (row !== undefined && !checksumMatches(file, row.checksum)) {
      throw new Error(
        `Migration ${file.name} was modified after it was applied: ${MIGRATIONS_TABLE} has checksum ${row.checksum}, ` +
          `${file.file} has ${file.checksum}. Restore the applied version and put the change in a new migration ` +
          "(npx tsx scripts/db.ts create --name <what_changed>).",
      );
    }
  }
  const fileNames = new Set(files.map((file) => file.name));
  return {
    pending: files.filter((file) => !byName.has(file.name)),
    applied: files.filter((file) => byName.has(file.name)).map((file) => file.name),
    unknown: [...byName.keys()].filter((name) => !fileNames.has(name)).sort(),
  };
}

function warnUnknown(unknown: string[], log: (line: string) => void): void {
  // Not an error: rolling the code back one release must not stop the app from starting.
  if (unknown.length > 0) {
    log(`warning: database has migrations this checkout does not know: ${unknown.join(", ")}`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function migrationError(migration: MigrationFile, cause: unknown): Error {
  return new Error(`Migration ${migration.name} failed and was rolled back: ${messageOf(cause)} (${migration.file})`, {
    cause,
  });
}

// ───────────────────────────── SQLite ─────────────────────────────

// Prisma's own DDL for the table (sqlite flavour), verbatim.
const SQLITE_TABLE_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
);`;

/** The timestamp text @prisma/adapter-better-sqlite3 writes (iso8601 with an explicit +00:00). */
function sqliteTimestamp(date: Date): string {
  return date.toISOString().replace("Z", "+00:00");
}

async function openSqlite(url: string, create: boolean): Promise<BetterSqlite3.Database | null> {
  const file = sqliteFilePath(url);
  if (!create && file !== ":memory:" && !existsSync(file)) return null;
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const { default: Database } = await import("better-sqlite3");
  // Another process may hold the write lock for a whole migration; wait for it rather than fail
  // with SQLITE_BUSY after better-sqlite3's default 5 s.
  return new Database(file, { timeout: 30_000 });
}

function sqliteRows(db: BetterSqlite3.Database): AppliedRow[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(MIGRATIONS_TABLE);
  if (exists === undefined) return [];
  return db.prepare(`SELECT migration_name, checksum, finished_at, rolled_back_at FROM "${MIGRATIONS_TABLE}"`).all() as AppliedRow[];
}

/**
 * Foreign keys are off on the runner's connection (see applySqlite), so check them before
 * COMMIT like SQLite's documented table-redefinition procedure does; throwing rolls back.
 */
function assertNoForeignKeyViolations(db: BetterSqlite3.Database): void {
  const violations = db.pragma("foreign_key_check") as { table: string; parent: string; rowid: number }[];
  if (violations.length === 0) return;
  const sample = violations.slice(0, 5).map((v) => `${v.table} rowid ${v.rowid} → ${v.parent}`);
  throw new Error(`${violations.length} foreign key violation(s) after the migration: ${sample.join("; ")}`);
}

function applySqliteMigration(db: BetterSqlite3.Database, migration: MigrationFile): boolean {
  const run = db.transaction((): boolean => {
    // Re-read under the write lock: another process may have applied it since we planned.
    const done = db.prepare(`SELECT 1 FROM "${MIGRATIONS_TABLE}" WHERE migration_name = ? AND rolled_back_at IS NULL`).get(migration.name);
    if (done !== undefined) return false;
    const startedAt = sqliteTimestamp(new Date());
    db.exec(migration.sql);
    assertNoForeignKeyViolations(db);
    db.prepare(
      `INSERT INTO "${MIGRATIONS_TABLE}" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
       VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)`,
    ).run(randomUUID(), migration.checksum, sqliteTimestamp(new Date()), migration.name, startedAt);
    return true;
  });
  try {
    // IMMEDIATE takes the write lock at BEGIN, so two processes serialise here instead of both
    // reading "not applied" and then one failing with SQLITE_BUSY halfway through.
    return run.immediate();
  } catch (error) {
    throw migrationError(migration, error);
  }
}

async function applySqlite(url: string, files: MigrationFile[], log: (line: string) => void): Promise<string[]> {
  const db = await openSqlite(url, true);
  if (db === null) throw new Error("unreachable: openSqlite(create=true) returned null");
  try {
    // Prisma's SQLite scripts redefine a table as create-copy-DROP-rename and bracket that with
    // `PRAGMA foreign_keys=OFF`, but that pragma is a no-op inside a transaction, and with keys on
    // (better-sqlite3's default) DROP TABLE of a parent runs an implicit DELETE that fires
    // ON DELETE CASCADE: the child rows would silently vanish. So keys go off on this private
    // connection before any transaction, and each migration is checked before it commits.
    db.pragma("foreign_keys = OFF");
    db.exec(SQLITE_TABLE_DDL);
    const plan = planMigrations(files, sqliteRows(db));
    warnUnknown(plan.unknown, log);
    const applied: string[] = [];
    for (const migration of plan.pending) {
      if (applySqliteMigration(db, migration)) {
        applied.push(migration.name);
        log(`applied ${migration.name}`);
      }
    }
    return applied;
  } finally {
    db.close();
  }
}

// ───────────────────────────── PostgreSQL ─────────────────────────────

// Prisma's own DDL for the table (postgres flavour), with IF NOT EXISTS.
const PG_TABLE_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);`;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Prisma URLs select a schema with `?schema=`; pg ignores that parameter, so honour it ourselves. */
function pgSchemaOf(url: string): string | null {
  const query = url.split("?")[1];
  if (query === undefined) return null;
  return new URLSearchParams(query).get("schema");
}

async function connectPg(url: string, log: (line: string) => void, createSchema: boolean): Promise<pg.Client> {
  const { default: pgModule } = await import("pg");
  const client = new pgModule.Client({ connectionString: url });
  // Without a listener, a connection dropped between two queries would crash the process with an
  // unhandled 'error' event; the pending or next query fails anyway and reports it properly.
  client.on("error", (error) => log(`postgres connection error: ${error.message}`));
  await client.connect();
  const schema = pgSchemaOf(url);
  if (schema !== null) {
    if (createSchema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET search_path TO ${quoteIdent(schema)}`);
  }
  return client;
}

async function pgRows(client: pg.Client): Promise<AppliedRow[]> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass($1) AS t", [quoteIdent(MIGRATIONS_TABLE)]);
  if (exists.rows[0]?.t === null) return [];
  const result = await client.query<AppliedRow>(`SELECT migration_name, checksum, finished_at, rolled_back_at FROM "${MIGRATIONS_TABLE}"`);
  return result.rows;
}

/**
 * Session-level advisory lock for the whole run (table creation included: two concurrent
 * `CREATE TABLE IF NOT EXISTS` can still collide on the catalog). Released in `finally`, and by
 * the server anyway if the connection dies.
 */
async function lockPg(client: pg.Client, log: (line: string) => void): Promise<void> {
  const attempt = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [PRISMA_ADVISORY_LOCK_KEY]);
  if (attempt.rows[0]?.ok === true) return;
  log("another process is migrating this database; waiting for its lock");
  await client.query("SELECT pg_advisory_lock($1)", [PRISMA_ADVISORY_LOCK_KEY]);
}

async function applyPgMigration(client: pg.Client, migration: MigrationFile): Promise<void> {
  const startedAt = new Date();
  await client.query("BEGIN");
  try {
    // No parameters → pg uses the simple-query protocol, which accepts the whole multi-statement
    // file as is. Never split on ';' (it would break $$ bodies and string literals).
    await client.query(migration.sql);
    await client.query(
      `INSERT INTO "${MIGRATIONS_TABLE}" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
       VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`,
      [randomUUID(), migration.checksum, migration.name, startedAt],
    );
    await client.query("COMMIT");
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch (rollbackError) {
      // The connection is probably gone, and the server rolls back on its own then; report both.
      throw new Error(`${migrationError(migration, error).message}; ROLLBACK also failed: ${messageOf(rollbackError)}`, {
        cause: error,
      });
    }
    throw migrationError(migration, error);
  }
}

async function applyPg(url: string, files: MigrationFile[], log: (line: string) => void): Promise<string[]> {
  const client = await connectPg(url, log, true);
  try {
    await lockPg(client, log);
    await client.query(PG_TABLE_DDL);
    // We hold the lock from here to the end, so the plan cannot go stale.
    const plan = planMigrations(files, await pgRows(client));
    warnUnknown(plan.unknown, log);
    for (const migration of plan.pending) {
      await applyPgMigration(client, migration);
      log(`applied ${migration.name}`);
    }
    return plan.pending.map((migration) => migration.name);
  } finally {
    // Ending the session releases the advisory lock as well.
    await client.end();
  }
}

// ───────────────────────────── public entry points ─────────────────────────────

/**
 * Applies every migration of `prisma/<provider>/migrations` not yet recorded in
 * `_prisma_migrations`, in name order, each file in its own transaction together with its row.
 * Safe to call from several processes at once; a second call applies nothing.
 */
export async function applyMigrations(url: string, opts: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const provider = providerOf(url);
  const log = opts.log ?? (() => undefined);
  const files = readMigrationFiles(opts.migrationsDir ?? defaultMigrationsDir(provider));
  const applied = provider === "sqlite" ? await applySqlite(url, files, log) : await applyPg(url, files, log);
  if (applied.length === 0) log(`database is up to date (${files.length} migration(s))`);
  return { applied };
}

/** Read-only: what is applied and what is pending. Never creates the database or the table. */
export async function migrationStatus(url: string, opts: MigrateOptions = {}): Promise<MigrationStatus> {
  const provider = providerOf(url);
  const migrationsDir = opts.migrationsDir ?? defaultMigrationsDir(provider);
  const files = readMigrationFiles(migrationsDir);
  const log = opts.log ?? (() => undefined);
  const rows = provider === "sqlite" ? await sqliteStatusRows(url) : await pgStatusRows(url, log);
  const plan = planMigrations(files, rows);
  return {
    provider,
    migrationsDir,
    applied: plan.applied,
    pending: plan.pending.map((migration) => migration.name),
    unknown: plan.unknown,
  };
}

async function sqliteStatusRows(url: string): Promise<AppliedRow[]> {
  const db = await openSqlite(url, false);
  if (db === null) return [];
  try {
    return sqliteRows(db);
  } finally {
    db.close();
  }
}

async function pgStatusRows(url: string, log: (line: string) => void): Promise<AppliedRow[]> {
  const client = await connectPg(url, log, false);
  try {
    return await pgRows(client);
  } finally {
    await client.end();
  }
}
