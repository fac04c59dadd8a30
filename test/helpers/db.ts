import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createDb, type Db } from "@/server/db";
import { applyMigrations } from "@/server/db/migrate";
import { flushAllCallSamples } from "@/server/services/callSamples";
import { settleSlotReleases } from "@/server/services/resilience";

/**
 * A fresh, migrated database per test file — real SQLite or real PostgreSQL, never a fake.
 * TEST_DB=postgres selects PostgreSQL at TEST_PG_URL (default the local server); scripts/test.sh
 * runs the whole suite once per provider.
 */
export const TEST_PROVIDER = process.env.TEST_DB === "postgres" ? "postgres" : "sqlite";

export interface TestDb {
  db: Db;
  url: string;
  cleanup(): Promise<void>;
}

function pgAdminUrl() {
  return process.env.TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
}

export async function freshDb(): Promise<TestDb> {
  const name = `t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  if (TEST_PROVIDER === "postgres") {
    const admin = new pg.Client({ connectionString: pgAdminUrl() });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const u = new URL(pgAdminUrl());
    u.pathname = `/${name}`;
    const url = u.toString();
    await applyMigrations(url);
    const db = createDb(url);
    return {
      db,
      url,
      async cleanup() {
        // Samples buffered by this file's calls go out before the database does (services/callSamples.ts).
        await settleSlotReleases();
        await flushAllCallSamples();
        await db.$disconnect();
        const c = new pg.Client({ connectionString: pgAdminUrl() });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await c.end();
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-test-"));
  const url = `file:${path.join(dir, `${name}.db`)}`;
  await applyMigrations(url);
  const db = createDb(url);
  return {
    db,
    url,
    async cleanup() {
      await settleSlotReleases();
      await flushAllCallSamples();
      await db.$disconnect();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
