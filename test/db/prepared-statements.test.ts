// PostgreSQL statements named by createDb (server/db.ts `statementNames`): each parameterised text
// is prepared once per connection under one name, bounded, and off with PG_PREPARED_STATEMENTS=false.
// Needs the PostgreSQL server at PG_URL (default: local, trust auth), like migrate.test.ts.

import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db, statementNames } from "../../server/db";
import { applyMigrations } from "../../server/db/migrate";
import { plainPgRows } from "../../server/repos/plainPg";
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

  /** The plain-driver pool of the resilience wrapper (repos/plainPg.ts): sequential queries reuse its one idle connection. */
  async function preparedOnPlainPool(db: Db) {
    for (let i = 0; i < 2; i++) await plainPgRows(db, "ap_test_probe", `SELECT $1::int AS "probe_plain"`, [i]);
    return (await plainPgRows<{ name: string; statement: string }>(
      db,
      "ap_test_list",
      `SELECT "name", "statement" FROM pg_prepared_statements WHERE $1::int = 1`,
      [1],
    )) as { name: string; statement: string }[];
  }

  it("the resilience wrapper's plain-driver statements are prepared by name too", async () => {
    const db = createDb(url);
    clients.push(db);
    const probe = (await preparedOnPlainPool(db)).filter((p) => p.statement.includes("probe_plain"));
    expect(probe.map((p) => p.name)).toEqual(["ap_test_probe"]);
  });

  it("prepares nothing by name with PG_PREPARED_STATEMENTS=false, on either pool", async () => {
    const before = process.env.PG_PREPARED_STATEMENTS;
    process.env.PG_PREPARED_STATEMENTS = "false";
    try {
      // Another URL of the same database: the plain pool is per URL, and the test above left
      // its statements prepared on the pool of `url`.
      const db = createDb(`${url}?application_name=unnamed`);
      clients.push(db);
      const prepared = await preparedOnOneConnection(db);
      expect(prepared.filter((p) => p.statement.includes("probe_prepared"))).toEqual([]);
      const plain = await preparedOnPlainPool(db);
      expect(plain.filter((p) => p.statement.includes("probe_plain"))).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.PG_PREPARED_STATEMENTS;
      else process.env.PG_PREPARED_STATEMENTS = before;
    }
  });
});
