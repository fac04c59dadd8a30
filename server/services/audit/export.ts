import { Readable } from "node:stream";
import type { Clock } from "../../clock";
import type { Db, StatementObserver } from "../../db";
import {
  checkExportRange,
  EXPORT_CONTENT_TYPES,
  EXPORT_FORMATS,
  EXPORT_LIMITS,
  EXPORT_SCHEMA_VERSION,
  type ExportFormat,
  type ExportStatus,
  exportRateDecision,
} from "../../engine/auditExport";
import { AppError, notFound, reportUnexpected } from "../../errors";
import {
  type AuditExportRow,
  advanceAuditExport,
  exportTimesSince,
  failAuditExport,
  findAuditExport,
  finishAuditExport,
  insertAuditExport,
  ledgerHeadSeq,
  listAuditExports,
  lockTenantLedger,
  startAuditExportRun,
  visibleAccountId,
} from "../../repos/auditExport";
import { appendLedger } from "../../repos/ledger";
import { type ExportRange, openLedgerScanner } from "../../repos/ledgerBulk";
import type { Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import type { Page } from "../../schemas/common";
import { enqueue, JobError } from "../jobQueue";
import { openExportFile, removeExportFile, writeExportFile } from "./exportFiles";

/**
 * Audit export (SPEC §4.6, §5.1): request → status → download. A request checks the range cap,
 * the account (another tenant's or an invisible one: 404) and the tenant's rate limit, then
 * writes the AuditExport row, its EXPORT_REQUESTED entry and its durable job in one transaction.
 * The job streams the tenant's ledger entries of the range into a file (server/services/audit/
 * exportFiles.ts), recording row count, sha256 and progress.
 */

export const AUDIT_EXPORT = "AUDIT_EXPORT";

export interface ExportView {
  id: string;
  status: ExportStatus;
  format: ExportFormat;
  schemaVersion: number;
  from: Date;
  to: Date;
  accountId: string | null;
  rowsDone: number;
  rowsTotal: number | null;
  rowCount: number | null;
  sha256: string | null;
  bytes: number | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const asFormat = (f: string): ExportFormat => ((EXPORT_FORMATS as readonly string[]).includes(f) ? (f as ExportFormat) : "csv");

function toView(r: AuditExportRow): ExportView {
  return {
    id: r.id,
    status: r.status as ExportStatus,
    format: asFormat(r.format),
    schemaVersion: r.schemaVersion,
    from: r.fromAt,
    to: r.toAt,
    accountId: r.accountId,
    rowsDone: r.rowsDone,
    rowsTotal: r.rowsTotal,
    rowCount: r.rowCount,
    sha256: r.sha256,
    bytes: r.bytes,
    error: r.error,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

export interface ExportRequest {
  from: Date;
  to: Date;
  format: ExportFormat;
  accountId?: string;
}

export async function requestExport(db: Db, viewer: Viewer, input: ExportRequest, clock: Clock) {
  const range = checkExportRange(input.from, input.to);
  if (!range.ok) throw new AppError("UNPROCESSABLE", range.message, range.field);
  if (input.accountId && !(await visibleAccountId(db, viewer, input.accountId))) throw notFound("Account");
  return inTransaction(db, async (tx) => {
    // The lock first: concurrent requests of one tenant count one after another.
    await lockTenantLedger(tx, viewer.tenantId);
    const now = clock.now();
    const rate = exportRateDecision(await exportTimesSince(tx, viewer.tenantId, new Date(now.getTime() - EXPORT_LIMITS.windowMs)), now);
    if (!rate.ok)
      throw new AppError(
        "RATE_LIMITED",
        `At most ${EXPORT_LIMITS.perWindow} exports per hour; try again in ${rate.retryAfterSeconds} s`,
        undefined,
        undefined,
        { retry_after_seconds: rate.retryAfterSeconds },
      );
    const row = await insertAuditExport(
      tx,
      {
        tenantId: viewer.tenantId,
        requestedBy: viewer.actor.id,
        format: input.format,
        schemaVersion: EXPORT_SCHEMA_VERSION,
        fromAt: input.from,
        toAt: input.to,
        accountId: input.accountId ?? null,
      },
      now,
    );
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "EXPORT_REQUESTED",
        actor: viewer.actor,
        accountId: row.accountId,
        correlationId: row.id,
        payload: {
          export_id: row.id,
          format: row.format,
          schema_version: row.schemaVersion,
          from: row.fromAt.toISOString(),
          to: row.toAt.toISOString(),
          account_id: row.accountId,
        },
      },
      now,
    );
    await enqueue(
      tx,
      { tenantId: viewer.tenantId, kind: AUDIT_EXPORT, payload: { exportId: row.id }, dedupeKey: `export:${row.id}` },
      clock,
    );
    return { exportId: row.id, status: row.status as ExportStatus };
  });
}

export async function getExport(db: Db, viewer: Viewer, id: string): Promise<ExportView> {
  const row = await findAuditExport(db, viewer.tenantId, id);
  if (!row) throw notFound("Export");
  return toView(row);
}

export async function listExports(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }): Promise<Page<ExportView>> {
  const res = await listAuditExports(db, viewer.tenantId, page);
  return { items: res.items.map(toView), nextCursor: res.nextCursor };
}

/** The download: the finished file as a web stream. 404 unless COMPLETED and on disk. */
export async function openExportDownload(db: Db, viewer: Viewer, id: string, dir: string) {
  const row = await findAuditExport(db, viewer.tenantId, id);
  if (!row) throw notFound("Export");
  if (row.status !== "COMPLETED") throw new AppError("CONFLICT", `The export is ${row.status}; download it once it is COMPLETED`, "id");
  const format = asFormat(row.format);
  const file = row.startedAt ? await openExportFile(dir, { id: row.id, run: row.startedAt, format }) : null;
  if (!file) throw notFound("Export file");
  const name = `audit-${row.fromAt.toISOString().slice(0, 10)}-${row.toAt.toISOString().slice(0, 10)}-${row.id}.${format}`;
  return {
    body: Readable.toWeb(file.stream) as ReadableStream<Uint8Array>,
    headers: {
      "content-type": EXPORT_CONTENT_TYPES[format],
      "content-length": String(file.bytes),
      "content-disposition": `attachment; filename="${name}"`,
      ...(row.sha256 ? { "x-content-sha256": row.sha256 } : {}),
    },
  };
}

// ─────────────────────────────── the job ───────────────────────────────

/** Where export files live and the database the scan reads (env EXPORT_DIR and DATABASE_URL at the edge). */
export interface ExportSettings {
  dir: string;
  databaseUrl: string;
  /** sees the scan's statements (the tenant-isolation harness); the scan bypasses Prisma's client */
  observe?: StatementObserver;
}

export interface ExportRunDeps extends ExportSettings {
  db: Db;
  clock: Clock;
}

export type ExportRunResult =
  | { exportId: string; status: "COMPLETED"; rowCount: number; sha256: string }
  | { exportId: string; status: "NOTHING_TO_DO" | "SUPERSEDED" };

/**
 * Run an export from scratch: the file is rewritten whole on every run (a crashed run's
 * temporary file is simply abandoned), so a re-run after a crash is idempotent. A run that finds
 * a newer run of the same export has started stops writing progress and does not finish it.
 */
export async function runExport(deps: ExportRunDeps, tenantId: string, exportId: string): Promise<ExportRunResult> {
  const { db, clock } = deps;
  const row = await findAuditExport(db, tenantId, exportId);
  if (!row || row.status === "COMPLETED" || row.status === "FAILED") return { exportId, status: "NOTHING_TO_DO" };
  const range: ExportRange = { from: row.fromAt, to: row.toAt, accountId: row.accountId, maxSeq: await ledgerHeadSeq(db, tenantId) };
  const scanner = openLedgerScanner(deps.databaseUrl, deps.observe);
  try {
    const run = await startAuditExportRun(db, tenantId, exportId, await scanner.estimate(tenantId, range), clock.now());
    if (!run) return { exportId, status: "NOTHING_TO_DO" };
    let reported = 0;
    let superseded = false;
    const file = { id: exportId, run, format: asFormat(row.format) };
    const written = await writeExportFile(
      deps.dir,
      file,
      scanner.chunks(tenantId, range, file.format, EXPORT_LIMITS.pageRows),
      async (rows) => {
        if (superseded || rows - reported < EXPORT_LIMITS.progressEvery) return;
        reported = rows;
        superseded = !(await advanceAuditExport(db, tenantId, exportId, run, rows));
      },
    );
    const done = await finishAuditExport(db, tenantId, exportId, run, { status: "COMPLETED", ...written }, clock.now());
    if (!done) {
      await removeExportFile(deps.dir, file);
      return { exportId, status: "SUPERSEDED" };
    }
    return { exportId, status: "COMPLETED", rowCount: written.rowCount, sha256: written.sha256 };
  } finally {
    await scanner.close();
  }
}
/**
 * The durable-queue handler (server/jobs/registry.ts). A failed run is retried by the queue (from
 * scratch); the last attempt marks the export FAILED with a message that names no internals.
 */
export async function handleExportJob(
  settings: ExportSettings,
  payload: unknown,
  ctx: { db: Db; clock: Clock; job: { tenantId: string; attempt: number; maxAttempts: number } },
) {
  const exportId = (payload as { exportId?: unknown } | null)?.exportId;
  if (typeof exportId !== "string") throw new JobError("payload has no exportId", { permanent: true });
  try {
    return await runExport({ ...settings, db: ctx.db, clock: ctx.clock }, ctx.job.tenantId, exportId);
  } catch (err) {
    if (ctx.job.attempt >= ctx.job.maxAttempts) {
      const id = reportUnexpected(`audit export ${exportId}`, err);
      await failAuditExport(
        ctx.db,
        ctx.job.tenantId,
        exportId,
        `The export failed after ${ctx.job.attempt} attempts (error id ${id})`,
        ctx.clock.now(),
      );
    }
    throw err;
  }
}
