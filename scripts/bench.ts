/**
 * `npm run bench [-- <suite>...]`: performance targets as ratios against a baseline measured in
 * the same run on the same database — never absolute timings, which depend on the machine.
 * Runs on a throwaway SQLite file and, when one is reachable, a throwaway PostgreSQL database.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { exportBench } from "../bench/export";
import { footprintBench } from "../bench/footprint";
import { gateBench } from "../bench/gate";
import { httpBench } from "../bench/http";
import { learningBench } from "../bench/learning";
import { type BenchRow, ledgerBench } from "../bench/ledger";
import { pagesBench } from "../bench/pages";
import { perceptionBench } from "../bench/perception";
import { policyBench } from "../bench/policy";
import { queueBench } from "../bench/queue";
import { resilienceBench } from "../bench/resilience";
import { whatIfBench } from "../bench/whatif";
import { createDb, type Db } from "../server/db";
import { applyMigrations } from "../server/db/migrate";

const N = Number(process.env.BENCH_N ?? 400);
/** Accounts in the perception suite (the bar is 100,000). */
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
/** Learning suite: decided intents calibrated over (the bar is 100,000), open proposals ranked (1,000), repeats. */
const LEARNING_ROWS = Number(process.env.BENCH_LEARNING_ROWS ?? 100_000);
const LEARNING_OPEN = Number(process.env.BENCH_LEARNING_OPEN ?? 1000);
const LEARNING_REPEATS = Number(process.env.BENCH_LEARNING_REPEATS ?? 3);
/** Ledger rows in the audit export suite (the bar is 1,000,000). */
const EXPORT_ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? 1_000_000);
/** Jobs the queue suite enqueues and drains per side (ours, pg-boss). */
const QUEUE_N = Number(process.env.BENCH_QUEUE_N ?? 5000);
/** Stored gate evaluations a what-if replays (the bar is 100,000). */
const WHATIF_ROWS = Number(process.env.BENCH_WHATIF_ROWS ?? 100_000);
/** Resilience suite: back-to-back calls per case, and calls spaced past the admission lease (each ~0.5 s with its bare twin). */
const RESILIENCE_CALLS = Number(process.env.BENCH_RESILIENCE_CALLS ?? 2000);
const RESILIENCE_SPACED = Number(process.env.BENCH_RESILIENCE_SPACED ?? 60);
/** HTTP suite (needs `npm run build`): ledger rows behind the pages (the bar is 1,000,000), requests per measured row. */
const HTTP_LEDGER_ROWS = Number(process.env.BENCH_HTTP_LEDGER_ROWS ?? 1_000_000);
const HTTP_REQUESTS = Number(process.env.BENCH_HTTP_REQUESTS ?? 3000);
/** Pages suite (needs `npm run build` and Chromium): ledger rows behind the long lists (the bar: 1,000,000), measured loads per page. */
const PAGES_LEDGER_ROWS = Number(process.env.BENCH_PAGES_LEDGER_ROWS ?? 1_000_000);
const PAGES_LOADS = Number(process.env.BENCH_PAGES_LOADS ?? 3);

/** Suites that need a database run once per database (`sqliteOnly`: on SQLite alone); `dbFree` ones run once. */
const SUITES: Record<
  string,
  { perDb?: (db: Db, label: string, url: string) => Promise<BenchRow[]>; dbFree?: () => Promise<BenchRow[]>; sqliteOnly?: boolean }
> = {
  ledger: { perDb: (db, label) => ledgerBench(db, label, N) },
  gate: { dbFree: () => policyBench(), perDb: (db, label, url) => gateBench(db, label, url, N) },
  perception: { perDb: (db, label, url) => perceptionBench(db, label, url, ACCOUNTS) },
  learning: { perDb: (db, label, url) => learningBench(db, label, url, LEARNING_ROWS, LEARNING_OPEN, LEARNING_REPEATS) },
  export: { perDb: (db, label, url) => exportBench(db, label, url, EXPORT_ROWS) },
  whatif: { perDb: (db, label, url) => whatIfBench(db, label, url, WHATIF_ROWS) },
  http: { perDb: (db, label, url) => httpBench(db, label, url, HTTP_LEDGER_ROWS, HTTP_REQUESTS) },
  pages: { perDb: (db, label, url) => pagesBench(db, label, url, PAGES_LEDGER_ROWS, PAGES_LOADS), sqliteOnly: true },
  queue: { perDb: (db, label, url) => queueBench(db, label, url, QUEUE_N) },
  footprint: { dbFree: () => footprintBench() },
  resilience: { perDb: (db, label, url) => resilienceBench(db, label, url, RESILIENCE_CALLS, RESILIENCE_SPACED) },
};

async function withSqlite<T>(fn: (db: Db, url: string) => Promise<T>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-bench-"));
  const url = `file:${path.join(dir, "bench.db")}`;
  await applyMigrations(url);
  const db = createDb(url);
  try {
    return await fn(db, url);
  } finally {
    await db.$disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function withPostgres<T>(fn: (db: Db, url: string) => Promise<T>): Promise<T | null> {
  const admin = process.env.TEST_PG_URL ?? process.env.PG_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const name = `bench_${randomBytes(4).toString("hex")}`;
  const c = new pg.Client({ connectionString: admin });
  try {
    await c.connect();
  } catch {
    console.log(`(PostgreSQL not reachable at ${admin.replace(/\/\/[^@/]*@/, "//***@")}; skipping its rows)`);
    return null;
  }
  await c.query(`CREATE DATABASE "${name}"`);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  await applyMigrations(u.toString());
  const db = createDb(u.toString());
  try {
    return await fn(db, u.toString());
  } finally {
    await db.$disconnect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.end();
  }
}

const requested = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const names = requested.length ? requested : Object.keys(SUITES);
for (const n of names) if (!SUITES[n]) throw new Error(`unknown suite "${n}"; suites: ${Object.keys(SUITES).join(", ")}`);

const rows: BenchRow[] = [];
for (const n of names) {
  const suite = SUITES[n] as (typeof SUITES)[string];
  if (suite.dbFree) rows.push(...(await suite.dbFree()));
  const perDb = suite.perDb;
  if (perDb) {
    rows.push(...(await withSqlite((db, url) => perDb(db, "sqlite", url))));
    if (!suite.sqliteOnly) rows.push(...((await withPostgres((db, url) => perDb(db, "postgres", url))) ?? []));
  }
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
console.log("");
console.log("| suite | db | case | ops/s | ratio to baseline | bar | met | note |");
console.log("|---|---|---|---:|---:|---|---|---|");
for (const r of rows) {
  const bar = r.target ? r.target.text : "";
  const met = r.target ? (r.target.met ? "yes" : "**NO**") : "";
  console.log(
    `| ${r.suite} | ${r.db} | ${r.case} | ${r.display ?? fmt(r.opsPerSec)} | ${r.ratio === null ? "—" : r.ratio.toFixed(2)} | ${bar} | ${met} | ${r.note} |`,
  );
}

// The same rows as a JSON artifact (BENCH_JSON, default test-results/bench.json), with the machine they ran on.
const out = process.env.BENCH_JSON ?? path.join("test-results", "bench.json");
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(
  out,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      suites: names,
      machine: {
        cpus: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: process.platform,
      },
      rows,
    },
    null,
    2,
  )}\n`,
);
console.log(`\n(${rows.length} rows; JSON in ${out})`);
