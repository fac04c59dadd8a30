import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as latestDigestRoute } from "@/app/api/v1/ledger/digests/latest/route";
import { fixedClock, systemClock } from "@/server/clock";
import { digestKeysFrom, type SignedDigest } from "@/server/engine/ledgerDigest";
import { parseLedgerPayload } from "@/server/engine/ledgerPayloads";
import { connectorSecretKeyFromEnv } from "@/server/http/deps";
import { runLedgerVerifyTick } from "@/server/jobs/ledgerVerify";
import { appendLedgerBatch } from "@/server/repos/ledger";
import { inTransaction } from "@/server/repos/tx";
import { createApiKey } from "@/server/services/apiKeys";
import { verifyLedger } from "@/server/services/ledger";
import { parseDigest, verifyAgainstDigest } from "@/server/services/ledgerDigest";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

const run = promisify(execFile);
const clock = fixedClock("2026-11-20T12:00:00Z");
let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let dir: string;
const secretKey = connectorSecretKeyFromEnv();

beforeAll(async () => {
  t = await freshDb();
  // The route modules use the process-wide client; point it at this file's database.
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "digest-"));
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await t.cleanup();
});

async function append(tenantId: string, n: number) {
  await inTransaction(t.db, (tx) =>
    appendLedgerBatch(
      tx,
      tenantId,
      Array.from({ length: n }, (_, i) => ({
        type: "SIGNAL_RECEIVED" as const,
        actor: { type: "SYSTEM" as const, id: "test" },
        payload: { signal_type: "USAGE_TREND_CHANGE", n: i },
      })),
      clock.now(),
    ),
  );
}

const tick = () => runLedgerVerifyTick({ db: t.db, clock, connectors: { secretKey } });

const readKeys = new Map<string, string>();
/** A read key of the tenant, created once: a new key is itself a ledger entry. */
async function readKey(tenantId: string) {
  let key = readKeys.get(tenantId);
  if (!key) {
    key = (await createApiKey(t.db, { tenantId, name: "reader", scopes: ["read"], actor: { type: "SYSTEM", id: "test" } }, systemClock))
      .key;
    readKeys.set(tenantId, key);
  }
  return key;
}

async function restDigest(tenantId: string) {
  const key = await readKey(tenantId);
  const res = await latestDigestRoute(
    new Request("http://127.0.0.1/api/v1/ledger/digests/latest", { headers: { authorization: `Bearer ${key}` } }),
  );
  return { status: res.status, body: (await res.json()) as SignedDigest };
}

function save(name: string, d: unknown) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(d));
  return file;
}

async function cli(...args: string[]) {
  try {
    const { stdout, stderr } = await run("./node_modules/.bin/tsx", ["scripts/cli.ts", "ledger", "verify", ...args], {
      env: { ...process.env, DATABASE_URL: t.url },
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

const check = (tenantId: string, d: SignedDigest) => verifyAgainstDigest(t.db, tenantId, d, digestKeysFrom(secretKey as Buffer).publicKey);

/** What an attacker with database access does: delete the newest rows and rewind the head to match. */
async function truncateTo(tenantId: string, seq: number) {
  await t.db.ledgerEntry.deleteMany({ where: { tenantId, seq: { gt: seq } } });
  const last = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId, seq } });
  await t.db.ledgerHead.update({ where: { tenantId }, data: { seq, hash: last.hash } });
}

// CLI spawns (tsx start-up) take seconds each on a busy machine.
describe(`signed ledger digests on ${TEST_PROVIDER}`, { timeout: 120_000 }, () => {
  let digestA: SignedDigest;
  let digestB: SignedDigest;

  it("the ledger-verify job signs each advanced head once, ledgers it with the signature, and serves it over REST", async () => {
    expect(secretKey).not.toBeNull();
    for (const x of [a, b]) await readKey(x.id);
    await append(a.id, 30);
    await append(b.id, 5);
    const res = await tick();
    expect(res.signing).toBe(true);
    const headA = await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } });

    const ra = await restDigest(a.id);
    expect(ra.status).toBe(200);
    digestA = ra.body;
    expect(digestA).toMatchObject({ tenant: { id: a.id, slug: a.slug }, seq: headA.seq - 1, created_at: clock.now().toISOString() });
    expect(digestA.key_id).toBe(digestKeysFrom(secretKey as Buffer).keyId);
    // The digest's own entry comes right after the seq it signs and carries the signature (for the SIEM stream).
    const entry = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, seq: headA.seq } });
    expect(entry.prevHash).toBe(digestA.head_hash);
    const p = parseLedgerPayload(entry.type, entry.payload);
    expect(p.type).toBe("LEDGER_DIGEST_PUBLISHED");
    expect(p.payload).toMatchObject({
      seq: digestA.seq,
      head_hash: digestA.head_hash,
      key_id: digestA.key_id,
      signature: digestA.signature,
    });

    // Each tenant's key sees its own digest only.
    const rb = await restDigest(b.id);
    digestB = rb.body;
    expect(digestB.tenant.id).toBe(b.id);

    // Nothing new but the digest entry itself: no new digest.
    await tick();
    expect(await t.db.ledgerDigest.count({ where: { tenantId: a.id } })).toBe(1);
    expect((await restDigest(a.id)).body).toEqual(digestA);
  });

  it("a tenant without a digest gets 404", async () => {
    const c = await makeTenant(t.db);
    expect((await restDigest(c.id)).status).toBe(404);
  });

  it("verify --digest passes on a chain that grew past the digest", async () => {
    await append(a.id, 10);
    const res = await cli("--tenant", a.slug, "--digest", save("a.json", digestA));
    expect(res.out).toContain(`tenant ${a.slug}: OK`);
    expect(res.out).toContain(`extends digest #${digestA.seq}`);
    expect(res.code).toBe(0);
  });

  it("a forged signature and another tenant's digest both fail", async () => {
    const forged = { ...digestA, signature: Buffer.from("x".repeat(64)).toString("base64") };
    const f = await cli("--tenant", a.slug, "--digest", save("forged.json", forged));
    expect(f.out).toContain("BAD_SIGNATURE");
    expect(f.code).toBe(1);
    // The rest through the service the CLI calls (each CLI spawn costs seconds).
    // A valid signature over different fields (a moved seq) is a forgery too.
    expect(await check(a.id, { ...digestA, seq: 1 })).toMatchObject({ ok: false, problem: "BAD_SIGNATURE" });
    expect(await check(a.id, digestB)).toMatchObject({ ok: false, problem: "OTHER_TENANT" });
    // A digest signed by another server's key fails even with every field intact.
    expect(
      await verifyAgainstDigest(t.db, a.id, digestA, digestKeysFrom(Buffer.from("another-server-secret-0123456789")).publicKey),
    ).toMatchObject({
      ok: false,
      problem: "BAD_SIGNATURE",
    });
    expect(() => parseDigest({ seq: "x" })).toThrow(/not a ledger digest/);
  });

  it("deleting the newest rows and rewinding the head passes plain verify but fails against the digest", async () => {
    await truncateTo(a.id, digestA.seq - 3);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true, entries: digestA.seq - 3 });
    const plain = await cli("--tenant", a.slug);
    expect(plain.out).toContain(`tenant ${a.slug}: OK`);
    expect(plain.code).toBe(0);

    const res = await cli("--tenant", a.slug, "--digest", save("a.json", digestA));
    expect(res.out).toContain(`TRUNCATED: digest #${digestA.seq} is beyond the head #${digestA.seq - 3}`);
    expect(res.code).toBe(1);

    // Writing new rows past the digest's seq (a rewritten tail) is caught as well.
    await append(a.id, 8);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
    expect(await check(a.id, digestA)).toEqual({
      ok: false,
      problem: "REWRITTEN",
      detail: `entry #${digestA.seq} hash differs from the digest`,
    });

    // The other tenant's digest still verifies against its untouched chain.
    expect(await check(b.id, digestB)).toMatchObject({ ok: true });
  });
});
