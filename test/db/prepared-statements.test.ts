// PostgreSQL statements named by createDb (server/db.ts `statementNames`): each parameterised text
// is prepared once per connection under one name, bounded, and off with PG_PREPARED_STATEMENTS=false.
// Needs the PostgreSQL server at PG_URL (default: local, trust auth), like migrate.test.ts.

import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db, statementNames } from "../../server/db";
import { applyMigrations } from "../../server/db/migrate";
import { inTransaction } from "../../server/repos/tx";

const PG_URL = process.env.PG_URL ?? process.env.TEST_PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const query = (sql: string, n = 1) => ({ sql, args: Array(n).fill(1), argTypes: [] });

describe("statementNames", () => {
  it("gives one text one name everywhere, different texts different names, and leaves unparameterised, over-long and over-limit texts unnamed", () => {
    const a = statementNames();
    const b = statementNames();
    const first = a(query(`SELECT $1`));
    expect(first).toMatch(/^ap_[A-Za-z0-9_-]{27}$/);
    expect(a(query(`SELECT $1`))).toBe(first);
    expect(b(query(`SELECT $1`))).toBe(first); // another client, the same name: pg ties a name to one text
    expect(a(query(`SELECT $1 + 1`))).not.toBe(first);
    expect(a(query("BEGIN", 0))).toBe("");
    expect(a(query(`SELECT $1 -- ${"x".repeat(5000)}`))).toBe("");

    const small = statementNames(2);
    expect(small(query("SELECT $1 AS one"))).not.toBe("");
    expect(small(query("SELECT $1 AS two"))).not.toBe("");
    expect(small(query("SELECT $1 AS three"))).toBe("");
    expect(small(query("SELECT $1 AS one"))).not.toBe(""); // texts named before the limit keep their name
  });
});

describe("PostgreSQL clients from createDb", () => {
  const name = `prep_test_${randomBytes(4).toString("hex")}`;
  let url = "";
  const clients: Db[] = [];
  const admin = () => new pg.Client({ connectionString: PG_URL });

  beforeAll(async () => {
    const c = admin();
    await c.connect();
    await c.query(`CREATE DATABASE "${name}"`);
    await c.end();
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    url = u.toString();
    await applyMigrations(url);
  });
  afterAll(async () => {
    for (const db of clients) await db.$disconnect();
    const c = admin();
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.end();
  });

  /** Runs one parameterised read twice on one connection, then lists that connection's prepared statements. */
  async function preparedOnOneConnection(db: Db) {
    return inTransaction(db, async (tx) => {
      for (let i = 0; i < 2; i++) await tx.$queryRaw`SELECT ${i}::int AS "probe_prepared"`;
      return tx.$queryRaw<{ name: string; statement: string }[]>`SELECT "name", "statement" FROM pg_prepared_statements`;
    });
  }

  it("prepares a parameterised statement once per connection under its text's name", async () => {
    const db = createDb(url);
    clients.push(db);
    const prepared = await preparedOnOneConnection(db);
    const probe = prepared.filter((p) => p.statement.includes("probe_prepared"));
    expect(probe).toHaveLength(1);
    expect(probe[0]?.name).toMatch(/^ap_/);
  });

  it("prepares nothing by name with PG_PREPARED_STATEMENTS=false", async () => {
    const before = process.env.PG_PREPARED_STATEMENTS;
    process.env.PG_PREPARED_STATEMENTS = "false";
    try {
      const db = createDb(url);
      clients.push(db);
      const prepared = await preparedOnOneConnection(db);
      expect(prepared.filter((p) => p.statement.includes("probe_prepared"))).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.PG_PREPARED_STATEMENTS;
      else process.env.PG_PREPARED_STATEMENTS = before;
    }
  });
});
