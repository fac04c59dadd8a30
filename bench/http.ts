import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { systemClock } from "../server/clock";
import type { Db } from "../server/db";
import { percentile } from "../server/engine/slo";
import { findTenantBySlug } from "../server/repos/tenants";
import { createApiKey } from "../server/services/apiKeys";
import { writeFixtures } from "../server/services/fixtures";
import { seedDemo } from "../server/services/seed";
import { atLeast, type BenchRow } from "./ledger";
import { driverInsertRate, pgRaw, sqliteRaw } from "./raw";

/**
 * Issue 13's HTTP rows, against the built app (`npm start`, the production server) on the bench's
 * database, driven by 32 keep-alive connections from this process:
 *  - signal intake, `POST /api/v1/signals`: ≥ 0.5 of the plain driver's single-row insert rate
 *    into the same table (better-sqlite3 one at a time; pg 8 connections autocommit);
 *  - `GET /api/v1/ledger` (the explorer's first page) and an account's ledger timeline
 *    (`?account_id=`), with `rows` ledger entries in the tenant (the bar: 1,000,000): ≥ 0.2 of a
 *    bare Node HTTP server's req/s (its own process, same client), p95 ≤ 10× the plain driver's
 *    keyset query for the same page.
 * Needs `npm run build` first.
 */

const CONNECTIONS = 32;
export const PASSWORD = "bench-password";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(url: string, child: ChildProcess, ms = 120_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the app exited (${child.exitCode}) before answering ${url}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms / 1000} s`);
}

export function stop(child: ChildProcess) {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.pid === undefined) return resolve();
    const group = -child.pid;
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(group, signal);
      } catch {
        // already gone
      }
    };
    const hard = setTimeout(() => kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(hard);
      // npm may leave before its children: the rest of the group goes too.
      kill("SIGKILL");
      resolve();
    });
    // The whole group: npm and everything it started.
    kill("SIGTERM");
  });
}

interface Load {
  perSec: number;
  p50: number;
  p95: number;
  statuses: Map<number, number>;
}

/**
 * `total` requests over CONNECTIONS keep-alive sockets, each connection one request at a time.
 * `request(i)` describes the i-th request.
 */
async function load(
  base: string,
  total: number,
  request: (i: number) => { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Load> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const u = new URL(base);
  const ms: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const r = request(i);
      const t0 = performance.now();
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          method: r.method,
          path: r.path,
          agent,
          headers: { ...r.headers, ...(r.body ? { "content-length": Buffer.byteLength(r.body) } : {}) },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            ms.push(performance.now() - t0);
            statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
            resolve();
          });
        },
      );
      req.on("error", reject);
      req.end(r.body);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (let i = next++; i < total; i = next++) await one(i);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  ms.sort((a, b) => a - b);
  return { perSec: total / seconds, p50: percentile(ms, 50) ?? 0, p95: percentile(ms, 95) ?? 0, statuses };
}

const statusNote = (s: Map<number, number>) => [...s].map(([k, v]) => `${v}× ${k}`).join(", ");

/**
 * The built app (`npm start`, the production server) on `url`, on a free port, with the scheduler
 * off and the demo users' password set to PASSWORD; in its own process group, so `stop` ends npm
 * and everything it started. Call `waitFor(\`${base}/api/health\`, child)` before using it.
 */
export async function startApp(url: string): Promise<{ base: string; child: ChildProcess }> {
  if (!fs.existsSync(".next/BUILD_ID")) throw new Error("this suite serves the built app: run `npm run build` first");
  const port = await freePort();
  const env = { ...process.env, DATABASE_URL: url, PORT: String(port), SCHEDULER: "off", DEMO_PASSWORD: PASSWORD, HOST: "127.0.0.1" };
  // BENCH_SERVER_CPU_PROF=<dir>: the server runs under Node's profiler (the same command `npm start`
  // runs, without npm: Node refuses --cpu-prof in NODE_OPTIONS) and writes its profile there when
  // it stops; `npx tsx scripts/cpuprofile.ts <dir>` reads it.
  const prof = process.env.BENCH_SERVER_CPU_PROF;
  const child = prof
    ? spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${prof}`, "--expose-gc", "--max-semi-space-size=4", "dist/start.js"], {
        env,
        stdio: ["ignore", "ignore", "inherit"],
        detached: true,
      })
    : spawn("npm", ["start"], { env, stdio: ["ignore", "ignore", "inherit"], detached: true });
  return { base: `http://127.0.0.1:${port}`, child };
}

/**
 * A bare Node HTTP server in its own process, answering every request with `body`: the most this
 * machine serves to this client.
 */
export async function bareServer(body = '{"items":[]}', contentType = "application/json"): Promise<{ base: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const b=${JSON.stringify(body)};require("http").createServer((q,s)=>{q.resume();q.on("end",()=>{s.setHeader("content-type",${JSON.stringify(contentType)});s.end(b)})}).listen(${port},"127.0.0.1")`,
    ],
    { stdio: "ignore", detached: true },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(base, child);
  return { base, child };
}

export async function httpBench(db: Db, label: string, url: string, rows: number, requests: number): Promise<BenchRow[]> {
  if (!fs.existsSync(".next/BUILD_ID")) throw new Error("the http suite serves the built app: run `npm run build` first");
  // The app's own seed (what `npm start` would do on an empty database), then `rows` ledger rows
  // in the demo tenant through the fixtures service (the real writers; a valid chain).
  await seedDemo(db, { password: PASSWORD, clock: systemClock });
  const t0 = performance.now();
  await writeFixtures(db, systemClock, { tenantSlug: "demo", accounts: 50, ledgerRows: rows });
  console.log(`http/${label}: ${rows} ledger rows written in ${Math.round((performance.now() - t0) / 1000)} s`);
  const tenant = await findTenantBySlug(db, "demo");
  if (!tenant) throw new Error("demo tenant missing after the seed");
  const key = await createApiKey(
    db,
    { tenantId: tenant.id, name: "bench", scopes: ["read", "ingest"], actor: { type: "SYSTEM", id: "bench" } },
    systemClock,
  );
  const accounts = await db.account.findMany({ where: { tenantId: tenant.id }, select: { id: true }, take: 50 });
  const account = accounts[0]?.id as string;
  const auth = { authorization: `Bearer ${key.key}` };

  const { base, child: app } = await startApp(url);
  const bare = await bareServer();
  const raw = label === "postgres" ? await pgRaw(url) : sqliteRaw(url);
  try {
    await waitFor(`${base}/api/health`, app);
    const out: BenchRow[] = [];

    // ── ledger pages ──
    const warm = Math.min(200, requests);
    await load(bare.base, warm, () => ({ method: "GET", path: "/" }));
    const bareRate = await load(bare.base, requests, () => ({ method: "GET", path: "/" }));
    out.push({
      suite: "http",
      db: label,
      case: `bare Node HTTP server, own process, ${CONNECTIONS} keep-alive connections (baseline)`,
      opsPerSec: bareRate.perSec,
      ratio: 1,
      note: `p50 ${bareRate.p50.toFixed(2)} ms, p95 ${bareRate.p95.toFixed(2)} ms`,
    });
    const keyset = async (accountId: string | null) => {
      const ms: number[] = [];
      const p = raw.p;
      const sql = accountId
        ? `SELECT * FROM "LedgerEntry" WHERE "tenantId" = ${p(0)} AND "accountId" = ${p(1)} ORDER BY "seq" DESC LIMIT 51`
        : `SELECT * FROM "LedgerEntry" WHERE "tenantId" = ${p(0)} ORDER BY "seq" DESC LIMIT 51`;
      const params = accountId ? [tenant.id, accountId] : [tenant.id];
      for (let i = 0; i < 300; i++) {
        const s = performance.now();
        await raw.all(sql, params);
        ms.push(performance.now() - s);
      }
      ms.sort((a, b) => a - b);
      return percentile(ms, 95) ?? 0;
    };
    for (const [name, path, accountId] of [
      ["GET /api/v1/ledger, first page of 50", "/api/v1/ledger", null],
      ["GET /api/v1/ledger?account_id= (an account's timeline), first page of 50", `/api/v1/ledger?account_id=${account}`, account],
    ] as const) {
      await load(base, warm, () => ({ method: "GET", path, headers: auth }));
      const r = await load(base, requests, () => ({ method: "GET", path, headers: auth }));
      if ((r.statuses.get(200) ?? 0) !== requests) throw new Error(`${name}: ${statusNote(r.statuses)}`);
      const raw95 = await keyset(accountId);
      out.push({
        suite: "http",
        db: label,
        case: `${name}, ${rows.toLocaleString("en-US")} ledger rows`,
        opsPerSec: r.perSec,
        ratio: r.perSec / bareRate.perSec,
        note: `ratio to the bare server; p95 ${r.p95.toFixed(2)} ms = ${(r.p95 / raw95).toFixed(1)}× the driver's keyset query p95 ${raw95.toFixed(3)} ms (bar ≤ 10×: ${r.p95 / raw95 <= 10 ? "met" : "NOT met"})`,
        target: atLeast(r.perSec / bareRate.perSec, 0.2),
      });
    }

    // ── signal intake ──
    const run = randomUUID().slice(0, 8);
    const signal = (i: number) => ({
      method: "POST",
      path: "/api/v1/signals",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        account_id: accounts[i % accounts.length]?.id,
        signal_type: "USAGE_TREND_CHANGE",
        severity: "low",
        dedupe_key: `bench-${run}-${i}`,
      }),
    });
    await load(base, warm, (i) => signal(requests + i));
    const intake = await load(base, requests, signal);
    if ((intake.statuses.get(202) ?? 0) !== requests) throw new Error(`signal intake: ${statusNote(intake.statuses)}`);
    const driver = await driverSignalRate(label, url, tenant.id, account, Math.max(2000, requests));
    out.push({
      suite: "http",
      db: label,
      case:
        label === "sqlite"
          ? "driver: better-sqlite3 single-row Signal inserts, one at a time (physical limit)"
          : "driver: pg, 8 connections of autocommit single-row Signal inserts (physical limit)",
      opsPerSec: driver,
      ratio: 1,
      note: "",
    });
    out.push({
      suite: "http",
      db: label,
      case: `POST /api/v1/signals, ${CONNECTIONS} keep-alive connections`,
      opsPerSec: intake.perSec,
      ratio: intake.perSec / driver,
      // The bare server's rate in the driver's units: no HTTP endpoint on this machine and client can
      // go faster, so when it is below the bar the bar is out of reach for any implementation.
      note: `ratio to the driver; p50 ${intake.p50.toFixed(2)} ms, p95 ${intake.p95.toFixed(2)} ms; the bare Node server (the HTTP ceiling here) = ${(bareRate.perSec / driver).toFixed(2)} of the driver`,
      target: atLeast(intake.perSec / driver, 0.5),
    });
    return out;
  } finally {
    await raw.close();
    await stop(app);
    await stop(bare.child);
  }
}

/** The plain driver's single-row insert rate into Signal on this database (see httpBench). */
function driverSignalRate(label: string, url: string, tenantId: string, accountId: string, n: number) {
  const run = randomUUID().slice(0, 8);
  const columns = [
    "id",
    "tenantId",
    "accountId",
    "type",
    "severity",
    "evidence",
    "dedupeKey",
    "source",
    "correlationId",
    "occurredAt",
    "receivedAt",
  ];
  return driverInsertRate(label, url, "Signal", columns, n, (i, date) => [
    `drv-${randomUUID()}`,
    tenantId,
    accountId,
    "USAGE_TREND_CHANGE",
    "low",
    "{}",
    `drv-${run}-${i}`,
    "API",
    randomUUID(),
    date,
    date,
  ]);
}
