// The commands behind scripts/db.ts. Each returns the process exit code.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { applyMigrations, migrationStatus, PROVIDER_DIRS, type Provider, providerOf, sqliteFilePath } from "../../server/db/migrate";
import { datamodelFor, lockfileContent, migrationListFor, migrationsDirFor, NO_FILTER, type SchemaEngine, withEngine } from "./engine";
import { type ScratchDb, withScratch } from "./scratch";

export const PROVIDERS: readonly Provider[] = ["sqlite", "postgresql"];
export const DEFAULT_DATABASE_URL = "file:./data/autopilot.db";

export interface Context {
  repoRoot: string;
  prismaDir: string;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(2)} s`;
}

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  return url === undefined || url === "" ? DEFAULT_DATABASE_URL : url;
}

/** For humans: where a URL points, without its password. */
function describeUrl(url: string): string {
  if (providerOf(url) === "sqlite") return `sqlite ${sqliteFilePath(url)}`;
  const parsed = new URL(url);
  return `postgresql ${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
}

/** The engine resets a user-provided shadow database, as Prisma does; ours are fresh already. */
async function resetIfNeeded(engine: SchemaEngine, scratch: ScratchDb): Promise<void> {
  if (scratch.needsReset) await engine.reset({ filter: NO_FILTER });
}

// ───────────────────────────── generate ─────────────────────────────

export function generate(ctx: Context): number {
  const prisma = path.join(ctx.repoRoot, "node_modules", ".bin", "prisma");
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", PRISMA_HIDE_UPDATE_MESSAGE: "1" };
  for (const provider of PROVIDERS) {
    const schema = path.join(ctx.prismaDir, PROVIDER_DIRS[provider]);
    const result = spawnSync(prisma, ["generate", "--schema", schema], { cwd: ctx.repoRoot, env, stdio: "inherit" });
    if (result.error !== undefined) throw result.error;
    if (result.status !== 0) return result.status ?? 1;
  }
  return 0;
}

// ───────────────────────────── deploy / status ─────────────────────────────

export async function deploy(ctx: Context): Promise<number> {
  const url = databaseUrl();
  const provider = providerOf(url);
  const started = performance.now();
  console.log(`deploy to ${describeUrl(url)}`);
  const { applied } = await applyMigrations(url, {
    migrationsDir: migrationsDirFor(ctx.prismaDir, provider),
    log: (line) => console.log(`  ${line}`),
  });
  console.log(`${applied.length} migration(s) applied in ${seconds(started)}`);
  return 0;
}

export async function status(ctx: Context): Promise<number> {
  const url = databaseUrl();
  const provider = providerOf(url);
  const result = await migrationStatus(url, {
    migrationsDir: migrationsDirFor(ctx.prismaDir, provider),
    log: (line) => console.log(line),
  });
  console.log(`database:   ${describeUrl(url)}`);
  console.log(`migrations: ${result.migrationsDir}`);
  for (const name of result.applied) console.log(`  applied  ${name}`);
  for (const name of result.pending) console.log(`  pending  ${name}`);
  for (const name of result.unknown) console.log(`  unknown  ${name} (in the database, not in this checkout)`);
  console.log(`${result.applied.length} applied, ${result.pending.length} pending`);
  return 0;
}

// ───────────────────────────── create ─────────────────────────────

/**
 * The SQL that takes the committed migrations to the current models, or null when there is none:
 * the engine replays the history on a shadow database and diffs it against the datamodel.
 */
export async function pendingSchemaSql(ctx: Context, provider: Provider): Promise<string | null> {
  const datamodel = await datamodelFor(ctx.prismaDir, provider);
  const migrationsList = await migrationListFor(ctx.prismaDir, provider);
  const diff = (engine: SchemaEngine) =>
    engine.diff({
      from: { tag: "migrations", ...migrationsList },
      to: { tag: "schemaDatamodel", ...datamodel },
      script: true,
      exitCode: true,
      filters: NO_FILTER,
    });
  if (provider === "sqlite") {
    // In-memory: every connection is a new empty database, which is all a shadow database needs.
    const result = await withEngine(provider, datamodel, { mainUrl: ":memory:", shadowUrl: ":memory:" }, diff);
    return result.exitCode === 0 ? null : (result.stdout ?? "");
  }
  return withScratch(provider, async (scratch) => {
    const targets = { mainUrl: scratch.url, shadowUrl: scratch.url };
    const result = await withEngine(provider, datamodel, targets, async (engine) => {
      await resetIfNeeded(engine, scratch);
      return diff(engine);
    });
    return result.exitCode === 0 ? null : (result.stdout ?? "");
  });
}

/** UTC yyyymmddhhmmss, the prefix Prisma gives migration folders. */
export function migrationTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

export async function create(ctx: Context, name: string | undefined): Promise<number> {
  if (name === undefined || !/^[a-z0-9]+(_[a-z0-9]+)*$/.test(name)) {
    console.error("create needs --name <snake_case_name>, e.g. --name add_invoice_table");
    return 2;
  }
  // Compute both before writing either, so a failure on one provider leaves no half-done pair.
  const scripts = new Map<Provider, string | null>();
  for (const provider of PROVIDERS) scripts.set(provider, await pendingSchemaSql(ctx, provider));
  const folder = `${migrationTimestamp(new Date())}_${name}`;
  for (const provider of PROVIDERS) {
    const sql = scripts.get(provider) ?? null;
    if (sql === null) {
      console.log(`${provider}: no changes`);
      continue;
    }
    console.log(`${provider}: wrote ${writeMigration(ctx, provider, folder, sql)}`);
  }
  return 0;
}

function writeMigration(ctx: Context, provider: Provider, folder: string, sql: string): string {
  const baseDir = migrationsDirFor(ctx.prismaDir, provider);
  const dir = path.join(baseDir, folder);
  if (existsSync(dir)) throw new Error(`${dir} already exists`);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "migration.sql");
  writeFileSync(file, sql);
  writeFileSync(path.join(baseDir, "migration_lock.toml"), lockfileContent(provider));
  return path.relative(process.cwd(), file);
}

// ───────────────────────────── check ─────────────────────────────

function lockfileProblem(ctx: Context, provider: Provider): string | null {
  const file = path.join(migrationsDirFor(ctx.prismaDir, provider), "migration_lock.toml");
  if (!existsSync(file)) return `${file} is missing`;
  const match = /^\s*provider\s*=\s*"([^"]*)"/m.exec(readFileSync(file, "utf8"));
  return match?.[1] === provider ? null : `${file} should say provider = "${provider}"`;
}

/**
 * Applies the committed migrations with the runtime runner (the code path `npm start` uses) to a
 * scratch database, then asks the engine for the SQL from that database to the models. Empty
 * means the migrations produce exactly the models. This also proves every file applies cleanly
 * the way production applies it (whole file, one transaction), which a shadow replay would not.
 */
export async function missingSql(ctx: Context, provider: Provider): Promise<string | null> {
  const datamodel = await datamodelFor(ctx.prismaDir, provider);
  const migrationsDir = migrationsDirFor(ctx.prismaDir, provider);
  return withScratch(provider, async (scratch) => {
    const shadowUrl = provider === "sqlite" ? ":memory:" : scratch.url;
    const result = await withEngine(provider, datamodel, { mainUrl: scratch.url, shadowUrl }, async (engine) => {
      await resetIfNeeded(engine, scratch);
      await applyMigrations(scratch.url, { migrationsDir });
      const configDir = path.dirname(datamodel.files[0]?.path ?? ctx.prismaDir);
      return engine.diff({
        from: { tag: "schemaDatasource", files: datamodel.files, configDir },
        to: { tag: "schemaDatamodel", ...datamodel },
        script: true,
        exitCode: true,
        filters: NO_FILTER,
      });
    });
    return result.exitCode === 0 ? null : (result.stdout ?? "");
  });
}

export async function check(ctx: Context): Promise<number> {
  let failed = false;
  for (const provider of PROVIDERS) {
    const started = performance.now();
    const lockProblem = lockfileProblem(ctx, provider);
    const sql = await missingSql(ctx, provider);
    if (lockProblem === null && sql === null) {
      console.log(`check ${provider}: ok, committed migrations produce the models (${seconds(started)})`);
      continue;
    }
    failed = true;
    if (lockProblem !== null) console.log(`check ${provider}: FAILED, ${lockProblem}`);
    if (sql !== null) {
      console.log(`check ${provider}: FAILED, the committed migrations lack this SQL:\n\n${sql.trimEnd()}\n`);
    }
  }
  if (failed) console.log("Create the missing migration with: npx tsx scripts/db.ts create --name <what_changed>");
  return failed ? 1 : 0;
}
