import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parse } from "csv-parse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as downloadGet } from "@/app/api/v1/autonomy/audit/exports/[id]/download/route";
import { GET as exportGet } from "@/app/api/v1/autonomy/audit/exports/[id]/route";
import { GET as exportsList, POST as exportsPost } from "@/app/api/v1/autonomy/audit/exports/route";
import { createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import { EXPORT_COLUMNS_V1 } from "@/server/engine/auditExport";
import { openLedgerScanner } from "@/server/repos/ledgerBulk";
import { createApiKey } from "@/server/services/apiKeys";
import { handleExportJob, runExport } from "@/server/services/audit/export";
import { writeFixtures } from "@/server/services/fixtures";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * Audit export (SPEC §4.6, §5.1) through the real routes and the real queue: a large CSV export
 * run by a scheduler tick in its own process (its memory measured), the file checked row by row
 * against the count and sha256 recorded, JSON lines, the range cap, the rate limit under
 * concurrency, tenant isolation, failure and a crashed run restarted.
 */

// Read by env() at the edge (the download route): this file's own export directory.
const EXPORT_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-exports-"));
process.env.EXPORT_DIR = EXPORT_DIR;

/** 300,000 on SQLite (the bar); on PostgreSQL 100,000 (writing 300,000 fixtures there takes minutes on this machine). */
const DAY = 86_400_000;
const LARGE = Number(process.env.EXPORT_TEST_ROWS ?? (TEST_PROVIDER === "sqlite" ? 300_000 : 100_000));
const MiB = 1024 * 1024;
/** Fixtures end here and reach 30 days back; the big export covers them all (32 days). */
const END = new Date("2026-10-31T00:00:00.000Z");
const FROM = new Date(END.getTime() - 31 * DAY);
const TO = new Date(END.getTime() + DAY);
/** a two-day window for the account export, the rate limit and the crash cases */
const DAY10 = new Date(END.getTime() - 20 * DAY);
const DAY12 = new Date(END.getTime() - 18 * DAY);
let accountA = "";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const key: Record<string, string> = {};

const caller = (session: TestTenant["admin"]["session"]) => createCaller({ db: t.db, clock: systemClock, session });

// biome-ignore lint/suspicious/noExplicitAny: route handlers differ only in their params' type
type Handler = (req: Request, route: { params: Promise<any> }) => Promise<Response>;

function rest(handler: Handler, k: string, init: { method?: string; url?: string; body?: unknown; id?: string } = {}) {
  return handler(
    new Request(`http://127.0.0.1${init.url ?? "/api/v1/autonomy/audit/exports"}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${k}`, "content-type": "application/json" },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
    { params: Promise.resolve({ id: init.id ?? "" }) },
  );
}

const request = (k: string, body: unknown) => rest(exportsPost, k, { method: "POST", body });
const status = async (k: string, id: string) => rest(exportGet, k, { id });

/** Run every queued export in a scheduler tick in its own process; its memory rise in MiB. */
async function tickInChild(): Promise<{ riseMiB: number; ms: number }> {
  const child = spawn("./node_modules/.bin/tsx", ["test/helpers/export-child.ts"], {
    env: { ...process.env, DATABASE_URL: t.url, EXPORT_DIR },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(code, err).toBe(0);
  const r = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
    baselineRss: number;
    peakRss: number;
    ms: number;
    queue: { failed: number; completed: number };
  };
  expect(r.queue.failed).toBe(0);
  return { riseMiB: (r.peakRss - r.baselineRss) / MiB, ms: r.ms };
}

const download = (k: string, id: string) => rest(downloadGet, k, { id });

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  for (const tenant of [a, b])
    for (const scope of ["admin", "read"] as const)
      key[`${tenant.id}:${scope}`] = (
        await createApiKey(t.db, { tenantId: tenant.id, name: scope, scopes: [scope], actor: { type: "SYSTEM", id: "test" } }, systemClock)
      ).key;
  // Fixtures (the real write paths): tenant A's LARGE rows and tenant B's 3,000 over the same 30
  // days before END, on accounts of their own, which no export of A may contain.
  await writeFixtures(t.db, fixedClock(END), { tenantSlug: a.slug, accounts: 20, ledgerRows: LARGE });
  await writeFixtures(t.db, fixedClock(END), { tenantSlug: b.slug, accounts: 5, ledgerRows: 3000 });
  const busiest = await t.db.ledgerEntry.groupBy({
    by: ["accountId"],
    where: { tenantId: a.id, accountId: { not: null }, createdAt: { gte: DAY10, lt: DAY12 } },
    _count: { _all: true },
    orderBy: { _count: { accountId: "desc" } },
    take: 1,
  });
  accountA = busiest[0]?.accountId ?? "";
}, 600_000);

afterAll(async () => {
  await t.cleanup();
  fs.rmSync(EXPORT_DIR, { recursive: true, force: true });
});

describe(`audit export (${TEST_PROVIDER})`, () => {
  const keyA = () => key[`${a.id}:admin`] ?? "";
  const keyB = () => key[`${b.id}:admin`] ?? "";
  let csvId = "";

  it(`${LARGE.toLocaleString("en")} rows as CSV: the file's rows and sha256 match what is recorded, every line parses, memory stays flat`, async () => {
    const res = await request(keyA(), { from: FROM.toISOString(), to: TO.toISOString(), format: "csv" });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { export_id: string; status: string };
    expect(body.status).toBe("PENDING");
    csvId = body.export_id;
    // EXPORT_REQUESTED in the same transaction as the row.
    const entry = await t.db.ledgerEntry.findFirst({ where: { tenantId: a.id, type: "EXPORT_REQUESTED", correlationId: csvId } });
    expect(JSON.parse(entry?.payload ?? "{}")).toMatchObject({
      export_id: csvId,
      format: "csv",
      schema_version: 1,
      from: FROM.toISOString(),
    });
    const expected = await t.db.ledgerEntry.count({ where: { tenantId: a.id, createdAt: { gte: FROM, lt: TO } } });
    expect(expected).toBe(LARGE);

    const { riseMiB, ms } = await tickInChild();
    console.log(`export of ${LARGE} rows (${TEST_PROVIDER}): tick ${Math.round(ms)} ms, peak RSS rise ${riseMiB.toFixed(1)} MiB`);
    expect(riseMiB).toBeLessThanOrEqual(150);

    const st = (await (await status(keyA(), csvId)).json()) as Record<string, unknown>;
    expect(st).toMatchObject({
      status: "COMPLETED",
      row_count: LARGE,
      rows_done: LARGE,
      rows_total: LARGE,
      schema_version: 1,
    });
    expect(st.download_url).toBe(`/api/v1/autonomy/audit/exports/${csvId}/download`);

    const dl = await download(keyA(), csvId);
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(Number(dl.headers.get("content-length"))).toBe(st.bytes);
    expect(dl.headers.get("content-disposition")).toMatch(/^attachment; filename="audit-2026-09-30-2026-11-01-.+\.csv"$/);
    const bHashes = new Set((await t.db.ledgerEntry.findMany({ where: { tenantId: b.id }, select: { hash: true } })).map((r) => r.hash));
    const hash = createHash("sha256");
    let rows = 0;
    let lastSeq = 0;
    let foreign = 0;
    let header: string[] | null = null;
    const parser = parse({ relax_column_count: false });
    const source = Readable.fromWeb(dl.body as import("node:stream/web").ReadableStream).on("data", (chunk: Buffer) => hash.update(chunk));
    await pipeline(source, parser, async (records: AsyncIterable<string[]>) => {
      for await (const r of records) {
        if (!header) {
          header = r;
          continue;
        }
        rows++;
        const seq = Number(r[0]);
        expect(seq).toBeGreaterThan(lastSeq); // ascending, each row once
        lastSeq = seq;
        if (bHashes.has(r[9] ?? "")) foreign++;
        if (rows % 997 === 1) expect(JSON.parse(r[7] ?? "null")).toBeTypeOf("object");
      }
    });
    expect(header).toEqual([...EXPORT_COLUMNS_V1]);
    expect(rows).toBe(st.row_count);
    expect(hash.digest("hex")).toBe(st.sha256);
    expect(foreign).toBe(0);
  }, 600_000);

  it("JSON lines of one account: every line parses, only that account's rows, count and sha256 match", async () => {
    const accountId = accountA;
    const res = await request(keyA(), {
      from: DAY10.toISOString(),
      to: DAY12.toISOString(),
      format: "jsonl",
      account_id: accountId,
    });
    expect(res.status).toBe(202);
    const { export_id } = (await res.json()) as { export_id: string };
    await tickInChild();
    const st = (await (await status(keyA(), export_id)).json()) as { row_count: number; sha256: string };
    const expected = await t.db.ledgerEntry.count({ where: { tenantId: a.id, accountId, createdAt: { gte: DAY10, lt: DAY12 } } });
    expect(expected).toBeGreaterThan(0);
    expect(st.row_count).toBe(expected);
    const dl = await download(keyA(), export_id);
    expect(dl.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const buf = Buffer.from(await dl.arrayBuffer());
    expect(createHash("sha256").update(buf).digest("hex")).toBe(st.sha256);
    const lines = buf.toString("utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(expected);
    for (const l of lines) {
      const o = JSON.parse(l) as Record<string, unknown>;
      expect(Object.keys(o)).toEqual([...EXPORT_COLUMNS_V1]);
      expect(o.account_id).toBe(accountId);
      expect(o.payload).toBeTypeOf("object");
      expect(new Date(o.created_at as string).getTime()).toBeGreaterThanOrEqual(DAY10.getTime());
    }
  }, 120_000);

  it("rows_total while running comes from bisecting seq: exact where createdAt grows with seq, off by at most the rows stamped out of order", async () => {
    const maxSeq = (await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq;
    // The tenant's own entries (API keys, export requests) carry the real clock, after TO, some
    // before the fixtures in seq: the only rows out of time order.
    const outOfOrder = await t.db.ledgerEntry.count({ where: { tenantId: a.id, seq: { lte: maxSeq }, createdAt: { gte: TO } } });
    const scanner = openLedgerScanner(t.url);
    try {
      for (const [from, to, accountId, slack] of [
        [DAY10, DAY12, null, 0],
        [DAY10, DAY12, accountA, 0],
        [FROM, TO, null, outOfOrder],
      ] as const) {
        const counted = await t.db.ledgerEntry.count({
          where: { tenantId: a.id, seq: { lte: maxSeq }, createdAt: { gte: from, lt: to }, ...(accountId ? { accountId } : {}) },
        });
        expect(counted).toBeGreaterThan(0);
        const estimate = await scanner.estimate(a.id, { from, to, accountId, maxSeq });
        expect(Math.abs(estimate - counted)).toBeLessThanOrEqual(slack);
      }
    } finally {
      await scanner.close();
    }
  });

  it("another tenant: its export ids, downloads and accounts answer 404; tRPC is admin-only and tenant-scoped", async () => {
    expect((await status(keyB(), csvId)).status).toBe(404);
    expect((await download(keyB(), csvId)).status).toBe(404);
    const before = await t.db.auditExport.count();
    const foreign = await request(keyB(), {
      from: DAY10.toISOString(),
      to: DAY12.toISOString(),
      format: "csv",
      account_id: accountA,
    });
    expect(foreign.status).toBe(404);
    expect(await t.db.auditExport.count()).toBe(before);
    const list = (await (await rest(exportsList, keyB())).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(0);
    // read scope is not enough
    expect((await status(key[`${a.id}:read`] ?? "", csvId)).status).toBe(403);

    await expect(caller(b.admin.session).auditExports.get({ id: csvId })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(caller(a.seller.session).auditExports.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(
      caller(a.auditor.session).auditExports.request({
        from: DAY10.toISOString(),
        to: DAY12.toISOString(),
        format: "csv",
      }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    const mine = await caller(a.admin.session).auditExports.list();
    expect(mine.items.map((e) => e.id)).toContain(csvId);
    expect((await caller(a.admin.session).auditExports.get({ id: csvId })).status).toBe("COMPLETED");
  });

  it("over the range cap or a backwards range → 422 naming `to`; bad format → 400; nothing written", async () => {
    const before = await t.db.auditExport.count();
    const over = await request(keyA(), { from: FROM.toISOString(), to: new Date(FROM.getTime() + 93 * DAY).toISOString(), format: "csv" });
    expect(over.status).toBe(422);
    expect(((await over.json()) as { error: { field: string } }).error.field).toBe("to");
    const back = await request(keyA(), { from: FROM.toISOString(), to: FROM.toISOString(), format: "csv" });
    expect(back.status).toBe(422);
    expect(((await back.json()) as { error: { field: string } }).error.field).toBe("to");
    const fmt = await request(keyA(), { from: DAY10.toISOString(), to: DAY12.toISOString(), format: "xlsx" });
    expect(fmt.status).toBe(400);
    expect(((await fmt.json()) as { error: { field: string } }).error.field).toBe("format");
    expect(await t.db.auditExport.count()).toBe(before);
  });

  it("the rate limit holds under 12 concurrent requests: exactly the remainder of 5 per hour pass, the rest are 429 with Retry-After", async () => {
    const used = await t.db.auditExport.count({ where: { tenantId: a.id } });
    const body = {
      from: DAY10.toISOString(),
      to: DAY12.toISOString(),
      format: "csv",
    };
    const res = await Promise.all(Array.from({ length: 12 }, () => request(keyA(), body)));
    const codes = res.map((r) => r.status);
    expect(codes.filter((c) => c === 202)).toHaveLength(5 - used);
    expect(codes.filter((c) => c === 429)).toHaveLength(12 - (5 - used));
    const limited = res.find((r) => r.status === 429);
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(limited?.headers.get("retry-after"))).toBeLessThanOrEqual(3600);
    expect(await t.db.auditExport.count({ where: { tenantId: a.id } })).toBe(5);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id, type: "EXPORT_REQUESTED" } })).toBe(5);
    // Another tenant's budget is its own.
    expect((await request(keyB(), body)).status).toBe(202);
  });

  it("a crashed run is restarted from scratch with the same result; a run that keeps failing ends FAILED with a message", async () => {
    const pending = await t.db.auditExport.findFirstOrThrow({ where: { tenantId: a.id, status: "PENDING" } });
    // A crash mid-run: RUNNING with progress and a half-written temporary file.
    await t.db.auditExport.update({ where: { id: pending.id }, data: { status: "RUNNING", rowsDone: 1234, startedAt: new Date() } });
    fs.writeFileSync(path.join(EXPORT_DIR, `.${pending.id}.deadbeef.part`), "seq,created_at\n1,");
    const clock = fixedClock(new Date());
    const first = await runExport({ db: t.db, clock, dir: EXPORT_DIR, databaseUrl: t.url }, a.id, pending.id);
    const inWindow = await t.db.ledgerEntry.count({ where: { tenantId: a.id, createdAt: { gte: DAY10, lt: DAY12 } } });
    expect(first).toMatchObject({ status: "COMPLETED", rowCount: inWindow });
    // The same range exported cleanly by another request gives the same bytes.
    const twin = await t.db.auditExport.findFirstOrThrow({ where: { tenantId: a.id, status: "PENDING", id: { not: pending.id } } });
    const second = await runExport({ db: t.db, clock, dir: EXPORT_DIR, databaseUrl: t.url }, a.id, twin.id);
    expect(second).toMatchObject({ status: "COMPLETED", sha256: first.status === "COMPLETED" ? first.sha256 : "" });
    // Running a finished export again does nothing.
    expect(await runExport({ db: t.db, clock, dir: EXPORT_DIR, databaseUrl: t.url }, a.id, pending.id)).toMatchObject({
      status: "NOTHING_TO_DO",
    });

    // An export directory that cannot be created: the last attempt marks the export FAILED.
    const failing = await t.db.auditExport.findFirstOrThrow({ where: { tenantId: a.id, status: "PENDING" } });
    const notADir = path.join(EXPORT_DIR, "not-a-dir");
    fs.writeFileSync(notADir, "");
    const ctx = { db: t.db, clock, job: { tenantId: a.id, attempt: 5, maxAttempts: 5 } };
    await expect(handleExportJob({ dir: notADir, databaseUrl: t.url }, { exportId: failing.id }, ctx)).rejects.toThrow();
    const st = (await (await status(keyA(), failing.id)).json()) as { status: string; error: string; download_url?: string };
    expect(st.status).toBe("FAILED");
    expect(st.error).toMatch(/^The export failed after 5 attempts \(error id err_[0-9a-f]+\)$/);
    expect(st.download_url).toBeUndefined();
    expect((await download(keyA(), failing.id)).status).toBe(409);
  });
});
