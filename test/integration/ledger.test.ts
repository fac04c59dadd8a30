import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendLedger } from "@/server/repos/ledger";
import { inTransaction } from "@/server/repos/tx";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

const run = promisify(execFile);

let t: TestDb;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

async function append(tenantId: string, n: number, payload: Record<string, unknown> = {}) {
  return inTransaction(t.db, (tx) =>
    appendLedger(
      tx,
      {
        tenantId,
        type: "SIGNAL_RECEIVED",
        actor: { type: "SYSTEM", id: "test" },
        payload: { signal_type: "USAGE_TREND_CHANGE", n, ...payload },
      },
      new Date(),
    ),
  );
}

/** Run the operator CLI against this file's database, as an operator would. */
async function cliVerify(slug?: string) {
  try {
    const { stdout, stderr } = await run(
      "./node_modules/.bin/tsx",
      ["scripts/cli.ts", "ledger", "verify", ...(slug ? ["--tenant", slug] : [])],
      {
        env: { ...process.env, DATABASE_URL: t.url },
      },
    );
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe(`ledger on ${TEST_PROVIDER}`, () => {
  it("keeps one dense, verifiable chain per tenant under 40 concurrent appenders", async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => append(i % 2 ? a.id : b.id, i)));
    for (const tenant of [a, b]) {
      const rows = await t.db.ledgerEntry.findMany({ where: { tenantId: tenant.id }, orderBy: { seq: "asc" } });
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      expect(await verifyLedger(t.db, tenant.id)).toMatchObject({ ok: true, entries: rows.length });
    }
  });

  it("never stores secrets in a payload", async () => {
    const e = await append(a.id, 1, { api_key: "apk_abc_secret", nested: { password: "hunter2" } });
    expect(e.payload).not.toContain("apk_abc_secret");
    expect(e.payload).not.toContain("hunter2");
  });

  it("an untouched ledger verifies from the CLI with exit 0", async () => {
    const res = await cliVerify(a.slug);
    expect(res.out).toContain(`tenant ${a.slug}: OK`);
    expect(res.code).toBe(0);
  });

  it("detects an edited payload and names the entry (CLI exits non-zero)", async () => {
    const victim = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, seq: 3 } });
    await t.db.ledgerEntry.update({ where: { id: victim.id }, data: { payload: victim.payload.replace("}", ',"x":1}') } });
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: false, problem: "HASH_MISMATCH", at: { seq: 3, id: victim.id } });
    const res = await cliVerify(a.slug);
    expect(res.code).not.toBe(0);
    expect(res.out).toContain(`entry #3 (id ${victim.id})`);
    // Tenant b is untouched and still verifies: damage is located, not smeared.
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: true });
    await t.db.ledgerEntry.update({ where: { id: victim.id }, data: { payload: victim.payload } });
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("detects a deleted row", async () => {
    const victim = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: b.id, seq: 5 } });
    await t.db.ledgerEntry.delete({ where: { id: victim.id } });
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: false, problem: "SEQUENCE_GAP", at: { seq: 6 } });
    const res = await cliVerify(b.slug);
    expect(res.code).not.toBe(0);
    expect(res.out).toContain("SEQUENCE_GAP at entry #6");
    await t.db.ledgerEntry.create({ data: victim });
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: true });
  });

  it("detects a deleted last row", async () => {
    const head = await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: b.id } });
    const victim = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: b.id, seq: head.seq } });
    await t.db.ledgerEntry.delete({ where: { id: victim.id } });
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: false, problem: "TRUNCATED_TAIL", at: { seq: head.seq } });
    await t.db.ledgerEntry.create({ data: victim });
  });

  it("detects re-ordered rows", async () => {
    const r4 = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, seq: 4 } });
    const r5 = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, seq: 5 } });
    // Swap positions through a temporary seq so the unique (tenant, seq) index allows it.
    await t.db.ledgerEntry.update({ where: { id: r4.id }, data: { seq: -1 } });
    await t.db.ledgerEntry.update({ where: { id: r5.id }, data: { seq: 4 } });
    await t.db.ledgerEntry.update({ where: { id: r4.id }, data: { seq: 5 } });
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: false, at: { seq: 4, id: r5.id } });
    const res = await cliVerify();
    expect(res.code).not.toBe(0);
    expect(res.out).toContain(`tenant ${a.slug}: BROKEN`);
  });
});
