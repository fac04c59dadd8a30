import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * Several processes on one database — `npm start`'s server and scheduler, a CLI, a worker — run
 * read-then-write transactions at the same time. On SQLite a deferred BEGIN made ~10 % of them
 * fail at once with SQLITE_BUSY (a stale snapshot cannot take the write lock, and the busy timeout
 * does not apply); server/db.ts starts them IMMEDIATE. On PostgreSQL the same run is the control.
 */

let t: TestDb;
let a: TestTenant;
const COUNT = 120;

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

function child(label: string): Promise<{ ok: number; failed: number; errors: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const p = spawn("./node_modules/.bin/tsx", ["test/helpers/txn-child.ts"], {
      env: { ...process.env, DATABASE_URL: t.url, TENANT_ID: a.id, LABEL: label, COUNT: String(COUNT) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d) => {
      out += String(d);
    });
    p.on("error", reject);
    p.on("exit", (code) => {
      try {
        resolve(JSON.parse(out.trim().split("\n").pop() ?? ""));
      } catch {
        reject(new Error(`child ${label} exited ${code} without a result: ${out.slice(0, 300)}`));
      }
    });
  });
}

describe(`${TEST_PROVIDER}: read-then-write transactions from three processes at once`, () => {
  it("all commit — none fails with a busy / locked database — and every row is there", async () => {
    const before = await t.db.account.count({ where: { tenantId: a.id } });
    const results = await Promise.all(["p1", "p2", "p3"].map(child));
    for (const r of results) expect(r).toEqual({ ok: COUNT, failed: 0, errors: {} });
    expect(await t.db.account.count({ where: { tenantId: a.id } })).toBe(before + 3 * COUNT);
  }, 180_000);
});
