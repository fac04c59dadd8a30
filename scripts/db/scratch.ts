// Throwaway databases for `create` (shadow replay) and `check` (apply + compare).

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { Provider } from "../../server/db/migrate";

export interface ScratchDb {
  url: string;
  /** True when the database may hold leftovers (a user-provided SHADOW_DATABASE_URL): reset it first. */
  needsReset: boolean;
  dispose(): Promise<void>;
}

export const DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A fresh `mig_shadow_<random>` database on the PG_URL server, dropped on dispose (WITH (FORCE):
 * a pool the engine left open must not keep it alive). Or, when SHADOW_DATABASE_URL is set (CI
 * without CREATE DATABASE rights), that database, which — like Prisma's shadow database — is wiped.
 */
async function scratchPg(): Promise<ScratchDb> {
  const given = process.env.SHADOW_DATABASE_URL;
  if (given !== undefined && given !== "") return { url: given, needsReset: true, dispose: async () => undefined };
  const serverUrl = process.env.PG_URL ?? DEFAULT_PG_URL;
  const name = `mig_shadow_${randomBytes(6).toString("hex")}`;
  await adminQuery(serverUrl, `CREATE DATABASE "${name}"`);
  return {
    url: withDatabase(serverUrl, name),
    needsReset: false,
    dispose: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** An empty SQLite file in a temp directory, removed on dispose. */
async function scratchSqlite(): Promise<ScratchDb> {
  const dir = await mkdtemp(path.join(tmpdir(), "mig-sqlite-"));
  return {
    url: `file:${path.join(dir, "scratch.db")}`,
    needsReset: false,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export function createScratch(provider: Provider): Promise<ScratchDb> {
  return provider === "postgresql" ? scratchPg() : scratchSqlite();
}

/** Runs `fn` with a scratch database and always disposes of it. */
export async function withScratch<T>(provider: Provider, fn: (db: ScratchDb) => Promise<T>): Promise<T> {
  const db = await createScratch(provider);
  try {
    return await fn(db);
  } finally {
    await db.dispose();
  }
}
