import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { systemClock } from "../server/clock";
import type { Db } from "../server/db";
import { createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { requestExport } from "../server/services/audit/export";
import { writeFixtures } from "../server/services/fixtures";
import { atMost, type BenchRow } from "./ledger";

const MiB = 1024 * 1024;

function checkpoint(file: string) {
  const db = new Database(file);
  try {
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

/**
 * Audit export of `n` ledger rows (issue 11's bar: 1,000,000) as CSV, run by a scheduler tick in
 * its own process (test/helpers/export-child.ts: time and peak RSS rise), against `sqlite3 -csv`
 * writing the same columns of the same rows from the same file, timed in the same run. SQLite
 * only: the baseline is the sqlite3 shell.
 */
export async function exportBench(db: Db, label: string, url: string, n: number): Promise<BenchRow[]> {
  if (label !== "sqlite") return [];
  const slug = `bench-${randomUUID().slice(0, 8)}`;
  const tenant = await inTransaction(db, (tx) => createTenant(tx, { slug, name: "bench" }));
  // Rows through the fixtures service (the real write paths), spread over the 30 days to now.
  await writeFixtures(db, systemClock, { tenantSlug: slug, accounts: 50, ledgerRows: n });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-bench-exports-"));
  try {
    const viewer = { tenantId: tenant.id, actor: { type: "SYSTEM" as const, id: "bench" }, role: null, userId: null };
    const now = Date.now();
    await requestExport(db, viewer, { from: new Date(now - 31 * 86_400_000), to: new Date(now + 60_000), format: "csv" }, systemClock);

    // Both sides read the same checkpointed file: the fixtures' WAL folded into the database
    // first, so neither pays for reading it through the WAL index.
    const file = url.slice("file:".length);
    checkpoint(file);
    const child = spawn("./node_modules/.bin/tsx", ["test/helpers/export-child.ts"], {
      env: { ...process.env, DATABASE_URL: url, EXPORT_DIR: dir },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    await new Promise((resolve) => child.on("close", resolve));
    const r = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { baselineRss: number; peakRss: number; ms: number };
    const rise = (r.peakRss - r.baselineRss) / MiB;

    checkpoint(file);
    const sql = `SELECT "seq","createdAt","type","accountId","correlationId","actorType","actorId","payload","prevHash","hash" FROM "LedgerEntry" WHERE "tenantId" = '${tenant.id}' ORDER BY "seq"`;
    const fd = fs.openSync(path.join(dir, "baseline.csv"), "w");
    const started = performance.now();
    const shell = spawn("sqlite3", ["-csv", "-header", file, sql], { stdio: ["ignore", fd, "inherit"] });
    await new Promise((resolve) => shell.on("close", resolve));
    const baseMs = performance.now() - started;
    fs.closeSync(fd);
    const lines = fs.readFileSync(path.join(dir, "baseline.csv"), "utf8").split("\n").length - 2;

    return [
      {
        suite: "export",
        db: label,
        case: "sqlite3 -csv (baseline)",
        opsPerSec: (lines / baseMs) * 1000,
        ratio: null,
        note: `${lines} rows`,
      },
      {
        suite: "export",
        db: label,
        case: "audit export CSV (queue tick, own process)",
        opsPerSec: (lines / r.ms) * 1000,
        ratio: r.ms / baseMs,
        note: `time ×${(r.ms / baseMs).toFixed(2)} of sqlite3; peak RSS rise ${rise.toFixed(0)} MiB (bar ≤ 150 MiB: ${rise <= 150 ? "met" : "NOT met"})`,
        target: atMost(r.ms / baseMs, 2),
      },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
