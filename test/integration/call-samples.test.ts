import fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { createDb, type Db, type ObservedStatement } from "@/server/db";
import { admissionState } from "@/server/repos/breaker";
import { FLUSH_MS, flushCallSamples, recordCallSample } from "@/server/services/callSamples";
import { putConnector } from "@/server/services/connectors";
import { connectorReliability, invokeWithResilience, setForcedOpen } from "@/server/services/resilience";
import { freshDb, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * The wrapper's two hot-path shortcuts (issue 12's overhead bar): call samples are buffered and
 * written in per-tenant batches off the call path, and admission reads breaker + settings in one
 * raw statement. Both on the production wrapper, on a real database (SQLite and PostgreSQL).
 */

let t: TestDb;
let observed: Db;
const statements: ObservedStatement[] = [];
let a: TestTenant;
let b: TestTenant;
let http: Server;
let base: string;
/** Prisma quotes table names differently per provider. */
const SAMPLE_INSERT = /INSERT INTO\s+\S*ConnectorCallSample/i;
const clock = fixedClock("2026-11-26T12:00:00Z");

beforeAll(async () => {
  t = await freshDb();
  // A second client on the same database that records every statement it sends.
  observed = createDb(t.url, { observe: (s) => statements.push(s) });
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  http = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("{}"));
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => http.close(r));
  await observed.$disconnect();
  await t.cleanup();
});

const call = (tenantId: string, db: Db = observed) =>
  invokeWithResilience(
    { db, clock, instanceId: "samples-test" },
    { tenantId, connector: "webhook", operation: "post", idempotent: false },
    () => fetch(base, { method: "POST", body: "{}" }).then((r) => r.text()),
  );

const sampleCount = async (tenantId: string) => t.db.connectorCallSample.count({ where: { tenantId } });

describe("call samples are written off the call path", () => {
  it("samples are batched: 50 concurrent calls of two tenants make a handful of inserts, each carrying one tenant's rows", async () => {
    statements.length = 0;
    const results = await Promise.all([...Array.from({ length: 30 }, () => call(a.id)), ...Array.from({ length: 20 }, () => call(b.id))]);
    expect(results.every((r) => r.kind === "DONE")).toBe(true);
    await new Promise((r) => setTimeout(r, FLUSH_MS * 3));
    expect(await sampleCount(a.id)).toBe(30);
    expect(await sampleCount(b.id)).toBe(20);
    const inserts = statements.filter((s) => SAMPLE_INSERT.test(s.sql));
    // One insert per tenant per flush window: far fewer statements than calls.
    expect(inserts.length).toBeGreaterThanOrEqual(2);
    expect(inserts.length).toBeLessThan(10);
    for (const s of inserts) {
      // The rows travel as one JSON array parameter (repos/rows.ts); tenantId is each row's second value.
      const rows = JSON.parse(String(s.args[0])) as unknown[][];
      const tenants = new Set(rows.map((r) => (Array.isArray(r) ? r[1] : (r as unknown as { tenantId: string }).tenantId)));
      expect([...tenants].every((x) => x === a.id || x === b.id)).toBe(true);
      expect(tenants.size).toBe(1);
    }
  });

  it("a reader in the same process sees its own calls at once (the SLO flushes first)", async () => {
    const before = (await connectorReliability({ db: observed, clock }, a.admin.viewer)).find((c) => c.connector === "webhook")?.calls ?? 0;
    for (let i = 0; i < 4; i++) await call(a.id);
    const after = (await connectorReliability({ db: observed, clock }, a.admin.viewer)).find((c) => c.connector === "webhook")?.calls ?? 0;
    expect(after - before).toBe(4);
  });

  it("a flush for tenant A (what a reader answering A does) writes only A's buffered samples; B's wait for their own batch", async () => {
    await flushCallSamples(observed);
    const [a0, b0] = [await sampleCount(a.id), await sampleCount(b.id)];
    const sample = (tenantId: string) =>
      recordCallSample(
        observed,
        { tenantId, connector: "webhook", operation: "post", ok: true, outcome: "SUCCESS", durationMs: 1 },
        clock.now(),
      );
    for (let i = 0; i < 3; i++) {
      sample(a.id);
      sample(b.id);
    }
    statements.length = 0;
    await flushCallSamples(observed, a.id);
    // A's flush sent A's batch and no statement carrying B's id (an unscoped flush also wrote B's).
    expect(statements.filter((st) => SAMPLE_INSERT.test(st.sql) && JSON.stringify(st).includes(a.id))).toHaveLength(1);
    expect(statements.filter((st) => JSON.stringify(st).includes(b.id))).toEqual([]);
    expect(await sampleCount(a.id)).toBe(a0 + 3);
    await flushCallSamples(observed);
    expect(await sampleCount(b.id)).toBe(b0 + 3);
  });

  it("a batch the database refuses is dropped with one log line naming the count; nothing throws", async () => {
    // A database without the table: every insert fails.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "samples-"));
    const broken = createDb(`file:${path.join(dir, "empty.db")}`);
    const sample = { tenantId: a.id, connector: "webhook", operation: "post", ok: true, outcome: "SUCCESS", durationMs: 1 };
    recordCallSample(broken, sample, clock.now());
    recordCallSample(broken, sample, clock.now());
    const logged: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args.join(" "));
    try {
      await expect(flushCallSamples(broken)).resolves.toBeUndefined();
    } finally {
      console.error = original;
      await broken.$disconnect();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/dropped 2 call sample\(s\)/);
    expect(logged[0]).not.toContain(a.id);
  });
});

describe("admission reads breaker and settings in one statement", () => {
  it("absent rows read as no breaker and no settings; present ones as stored, and only the caller's tenant", async () => {
    const empty = await admissionState(t.db, b.id, "crm", "CRM");
    expect(empty).toEqual({ breaker: null, config: null });

    await putConnector({ db: t.db, clock, secretKey: null, smtpConfigured: false }, a.admin.viewer, "webhook", {
      enabled: true,
      baseUrl: base,
      maxConcurrency: 7,
      breaker: { failure_threshold: 3, window_seconds: 20, cooldown_seconds: 9 },
    });
    await setForcedOpen({ db: t.db, clock }, a.admin.viewer, { name: "webhook", forcedOpen: true, reason: "maintenance" });
    const got = await admissionState(t.db, a.id, "webhook", "WEBHOOK");
    expect(got.breaker?.phase).toBe("FORCED_OPEN");
    expect(typeof got.breaker?.failures).toBe("number");
    expect(JSON.parse(got.config ?? "{}")).toMatchObject({ max_concurrency: 7, breaker: { failure_threshold: 3 } });

    // Tenant B's view of the same connector is untouched by A's settings and breaker.
    expect(await admissionState(t.db, b.id, "webhook", "WEBHOOK")).toEqual({ breaker: null, config: null });
    // And the wrapper honours A's forced-open at once while B still calls.
    expect((await call(a.id)).kind).toBe("FAIL_FAST");
    expect((await call(b.id)).kind).toBe("DONE");
    await setForcedOpen({ db: t.db, clock }, a.admin.viewer, { name: "webhook", forcedOpen: false, reason: "done" });
    expect((await call(a.id)).kind).toBe("DONE");
  });
});
