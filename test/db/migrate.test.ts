// The migration runner (server/db/migrate.ts) on both providers, and the `check` command of
// scripts/db.ts. Needs the PostgreSQL server at PG_URL (default: local, trust auth); every PG test
// gets its own `mig_test_<random>` database, dropped afterwards.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, migrationStatus, providerOf, sqliteFilePath } from "../../server/db/migrate";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PG_URL = process.env.PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const SQLITE_MIGRATIONS = path.join(REPO, "prisma", "sqlite", "migrations");
const PG_MIGRATIONS = path.join(REPO, "prisma", "postgres", "migrations");

const committed = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

const tmpRoot = mkdtempSync(path.join(tmpdir(), "migrate-test-"));
const pgDatabases: string[] = [];

function tmpDir(label: string): string {
  return mkdtempSync(path.join(tmpRoot, `${label}-`));
}

/** A copy of a migrations directory, so a test can add or edit migrations without touching the repo. */
function copyMigrations(from: string): string {
  const dir = path.join(tmpDir("migrations"), "migrations");
  cpSync(from, dir, { recursive: true });
  return dir;
}

function addMigration(dir: string, name: string, sql: string): void {
  mkdirSync(path.join(dir, name));
  writeFileSync(path.join(dir, name, "migration.sql"), sql);
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function freshPgDatabase(): Promise<string> {
  const name = `mig_test_${randomBytes(5).toString("hex")}`;
  await admin(`CREATE DATABASE "${name}"`);
  pgDatabases.push(name);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function pgQuery<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function sqliteQuery<T>(url: string, sql: string): T[] {
  const db = new Database(sqliteFilePath(url), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

interface RunResult {
  code: number | null;
  out: string;
}

/** Runs a command in the repo root; resolves with its exit code and combined stdout + stderr. */
function run(command: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env } });
    let out = "";
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  console.log(`${label}: ${(performance.now() - started).toFixed(0)} ms`);
  return result;
}

afterAll(async () => {
  for (const name of pgDatabases) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  rmSync(tmpRoot, { recursive: true, force: true });
});

describe("URLs", () => {
  it("maps URLs to providers and rejects anything else", () => {
    expect(providerOf("postgresql://u@h/db")).toBe("postgresql");
    expect(providerOf("postgres://u@h/db")).toBe("postgresql");
    expect(providerOf("file:./data/app.db")).toBe("sqlite");
    expect(() => providerOf("mysql://u:secret@h/db")).toThrow(/Unsupported DATABASE_URL "mysql:\/\/\*\*\*@h\/db"/);
  });

  it("resolves file: URLs against the working directory", () => {
    expect(sqliteFilePath("file:./data/app.db")).toBe(path.resolve(process.cwd(), "data/app.db"));
    expect(sqliteFilePath("file:/abs/app.db?connection_limit=1")).toBe("/abs/app.db");
    expect(sqliteFilePath("file:///abs/app.db")).toBe("/abs/app.db");
  });
});

describe("applyMigrations on SQLite", () => {
  it("creates the file (and its directory), applies everything once, then nothing", async () => {
    const url = `file:${path.join(tmpDir("sqlite"), "nested", "dir", "app.db")}`;
    const first = await timed("sqlite fresh applyMigrations", () => applyMigrations(url));
    expect(first.applied).toEqual(committed(SQLITE_MIGRATIONS));
    expect(sqliteQuery(url, 'SELECT count(*) AS n FROM "LedgerEntry"')).toEqual([{ n: 0 }]);
    const rows = sqliteQuery<{ migration_name: string; checksum: string; finished_at: string }>(
      url,
      "SELECT migration_name, checksum, finished_at FROM _prisma_migrations",
    );
    expect(rows.map((r) => r.migration_name)).toEqual(first.applied);
    expect(rows[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.finished_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);

    const second = await timed("sqlite up-to-date applyMigrations", () => applyMigrations(url));
    expect(second.applied).toEqual([]);
    expect(await migrationStatus(url)).toMatchObject({ applied: first.applied, pending: [], unknown: [] });
  });

  it("refuses a migration edited after it was applied", async () => {
    const dir = copyMigrations(SQLITE_MIGRATIONS);
    const url = `file:${path.join(tmpDir("sqlite"), "app.db")}`;
    await applyMigrations(url, { migrationsDir: dir });
    const [first] = committed(dir);
    appendFileSync(path.join(dir, String(first), "migration.sql"), "\n-- edited\n");
    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      new RegExp(`Migration ${first} was modified after it was applied`),
    );
  });

  it("rolls a failing migration back completely and records nothing", async () => {
    const dir = copyMigrations(SQLITE_MIGRATIONS);
    addMigration(dir, "20991231000000_broken", 'CREATE TABLE "Half" (id TEXT);\nINSERT INTO "Nope" VALUES (1);\n');
    const url = `file:${path.join(tmpDir("sqlite"), "app.db")}`;
    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(/20991231000000_broken failed.*no such table: Nope/);
    expect(sqliteQuery(url, "SELECT name FROM sqlite_master WHERE name = 'Half'")).toEqual([]);
    expect((await migrationStatus(url, { migrationsDir: dir })).pending).toEqual(["20991231000000_broken"]);
  });

  it("keeps child rows when a migration redefines a parent table (PRAGMA foreign_keys is a no-op in a transaction)", async () => {
    const dir = copyMigrations(SQLITE_MIGRATIONS);
    const url = `file:${path.join(tmpDir("sqlite"), "app.db")}`;
    await applyMigrations(url, { migrationsDir: dir });
    const db = new Database(sqliteFilePath(url));
    db.exec(`INSERT INTO "Tenant" (id, slug, name) VALUES ('t1', 'acme', 'Acme');
      INSERT INTO "User" (id, name, email, updatedAt) VALUES ('u1', 'Ann', 'ann@example.com', 0);
      INSERT INTO "Membership" (id, tenantId, userId, role) VALUES ('m1', 't1', 'u1', 'ADMIN');`);
    db.close();
    // What the engine writes for a change SQLite cannot ALTER: copy, DROP the parent, rename.
    addMigration(
      dir,
      "20991231000000_redefine_tenant",
      `PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Tenant" ("id" TEXT NOT NULL PRIMARY KEY, "slug" TEXT NOT NULL, "name" TEXT NOT NULL,
  "plan" TEXT NOT NULL DEFAULT 'free', "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
INSERT INTO "new_Tenant" ("id", "slug", "name", "createdAt") SELECT "id", "slug", "name", "createdAt" FROM "Tenant";
DROP TABLE "Tenant";
ALTER TABLE "new_Tenant" RENAME TO "Tenant";
CREATE UNIQUE INDEX "Tenant_slug_key" ON "Tenant"("slug");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
`,
    );
    expect((await applyMigrations(url, { migrationsDir: dir })).applied).toEqual(["20991231000000_redefine_tenant"]);
    expect(sqliteQuery(url, 'SELECT id FROM "Membership"')).toEqual([{ id: "m1" }]);
  });

  it("applies each migration exactly once when 5 processes start at the same time", async () => {
    // Separate processes: better-sqlite3 is synchronous, so in-process callers would never overlap.
    const dir = copyMigrations(SQLITE_MIGRATIONS);
    // ~0.2 s of work inside the transaction, so the processes really contend for the write lock.
    addMigration(
      dir,
      "20991231000000_slow",
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000) SELECT count(*) FROM n;\n" +
        'CREATE TABLE "SlowMarker" (id INTEGER);\n',
    );
    const url = `file:${path.join(tmpDir("sqlite"), "app.db")}`;
    const script = `const { applyMigrations } = await import(${JSON.stringify(path.join(REPO, "server", "db", "migrate.ts"))});
      const { applied } = await applyMigrations(process.env.MIG_URL, { migrationsDir: process.env.MIG_DIR });
      console.log(JSON.stringify(applied));`;
    const outputs = await timed("sqlite 5 concurrent processes", () =>
      Promise.all(
        Array.from({ length: 5 }, () =>
          run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { MIG_URL: url, MIG_DIR: dir }),
        ),
      ),
    );
    for (const output of outputs) expect(output.code, output.out).toBe(0);
    const applied = outputs.flatMap((output) => JSON.parse(output.out) as string[]);
    expect(applied.sort()).toEqual(committed(dir));
    const rows = sqliteQuery(url, "SELECT migration_name, count(*) AS n FROM _prisma_migrations GROUP BY 1 ORDER BY 1");
    expect(rows).toEqual(committed(dir).map((name) => ({ migration_name: name, n: 1 })));
  }, 15_000);
});

describe("applyMigrations on PostgreSQL", () => {
  let url = "";
  beforeAll(async () => {
    url = await freshPgDatabase();
  });

  it("applies everything once, then nothing", async () => {
    const first = await timed("pg fresh applyMigrations", () => applyMigrations(url));
    expect(first.applied).toEqual(committed(PG_MIGRATIONS));
    expect(await pgQuery(url, 'SELECT count(*)::int AS n FROM "LedgerEntry"')).toEqual([{ n: 0 }]);
    const columns = await pgQuery<{ column_name: string; data_type: string }>(
      url,
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
      "id character varying",
      "checksum character varying",
      "finished_at timestamp with time zone",
      "migration_name character varying",
      "logs text",
      "rolled_back_at timestamp with time zone",
      "started_at timestamp with time zone",
      "applied_steps_count integer",
    ]);
    const second = await timed("pg up-to-date applyMigrations", () => applyMigrations(url));
    expect(second.applied).toEqual([]);
  });

  it("refuses a migration edited after it was applied", async () => {
    const dir = copyMigrations(PG_MIGRATIONS);
    const [first] = committed(dir);
    appendFileSync(path.join(dir, String(first), "migration.sql"), "\n-- edited\n");
    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      new RegExp(`Migration ${first} was modified after it was applied`),
    );
  });

  it("sends each file whole ($$ bodies and ';' in strings survive) and rolls failures back", async () => {
    const dir = copyMigrations(PG_MIGRATIONS);
    addMigration(
      dir,
      "20991231000000_function",
      `CREATE FUNCTION semi() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN 'a;b';
END;
$$;
COMMENT ON TABLE "Tenant" IS 'one; per customer';
`,
    );
    addMigration(dir, "20991231000001_broken", 'CREATE TABLE "Half" (id int);\nSELECT * FROM "Nope";\n');
    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(/20991231000001_broken failed.*"Nope" does not exist/);
    expect(await pgQuery(url, "SELECT semi() AS v, to_regclass('\"Half\"') AS half")).toEqual([{ v: "a;b", half: null }]);
    const status = await migrationStatus(url, { migrationsDir: dir });
    expect(status.pending).toEqual(["20991231000001_broken"]);
  });

  it("applies each migration exactly once when 5 processes start at the same time", async () => {
    const fresh = await freshPgDatabase();
    // A slow extra migration keeps the lock held long enough that the callers really overlap.
    const dir = copyMigrations(PG_MIGRATIONS);
    addMigration(dir, "20991231000000_slow", 'SELECT pg_sleep(0.3);\nCREATE TABLE "SlowMarker" (id int);\n');
    const waited: string[] = [];
    const results = await timed("pg 5 concurrent applyMigrations", () =>
      Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          applyMigrations(fresh, { migrationsDir: dir, log: (line) => line.includes("waiting") && waited.push(`#${i}`) }),
        ),
      ),
    );
    expect(results.flatMap((r) => r.applied).sort()).toEqual(committed(dir));
    expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
    expect(waited.length).toBeGreaterThan(0);
    const rows = await pgQuery<{ migration_name: string; n: number }>(
      fresh,
      "SELECT migration_name, count(*)::int AS n FROM _prisma_migrations GROUP BY 1 ORDER BY 1",
    );
    expect(rows).toEqual(committed(dir).map((name) => ({ migration_name: name, n: 1 })));
  });
});

describe("scripts/db.ts check", () => {
  function runCheck(prismaDir: string): Promise<RunResult> {
    const tsx = path.join(REPO, "node_modules", ".bin", "tsx");
    return run(tsx, [path.join(REPO, "scripts", "db.ts"), "check", "--prisma-dir", prismaDir], { PG_URL });
  }

  function copyPrismaDir(): string {
    const dir = path.join(tmpDir("prisma"), "prisma");
    // Keep the per-provider models.prisma symlinks pointing at the copy's own models file.
    cpSync(path.join(REPO, "prisma"), dir, { recursive: true, verbatimSymlinks: true });
    return dir;
  }

  it("passes on the committed migrations and fails on a model change without a migration", async () => {
    const clean = copyPrismaDir();
    const changed = copyPrismaDir();
    appendFileSync(path.join(changed, "models.prisma"), "\nmodel CheckProbe {\n  id    String @id\n  label String\n}\n");
    const [ok, bad] = await timed("check x2 (parallel)", () => Promise.all([runCheck(clean), runCheck(changed)]));
    expect(ok.out).toMatch(/check sqlite: ok/);
    expect(ok.out).toMatch(/check postgresql: ok/);
    expect(ok.code).toBe(0);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/check sqlite: FAILED[\s\S]*CREATE TABLE "CheckProbe"/);
    expect(bad.out).toMatch(/check postgresql: FAILED[\s\S]*CREATE TABLE "CheckProbe"/);
  }, 20_000);
});
