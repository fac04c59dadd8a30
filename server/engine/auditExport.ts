/**
 * Audit export rules (SPEC §4.6): the range cap, the per-tenant rate limit and the file's column
 * schema. Pure — `now` and the stored facts are arguments.
 */

export const EXPORT_FORMATS = ["csv", "jsonl"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_STATUSES = ["PENDING", "RUNNING", "COMPLETED", "FAILED"] as const;
export type ExportStatus = (typeof EXPORT_STATUSES)[number];

export const EXPORT_LIMITS = {
  /** one export covers at most a quarter: longer ranges are several exports */
  maxRangeDays: 92,
  /** requests per tenant per rolling window (failed and finished ones count too: each costs a full scan) */
  perWindow: 5,
  windowMs: 60 * 60 * 1000,
  /**
   * progress (rows_done) is written after every this many rows: each write is a Prisma update,
   * and one every 10,000 rows cost a twentieth of a 1M-row export's time
   */
  progressEvery: 50_000,
  /**
   * rows per page while streaming: every page is one query (250-row pages spent a quarter of the
   * scan re-entering the index), yet small enough to die young in V8's nursery — 5,000-row pages
   * got promoted and let the heap climb ~150 MB between major collections on a 300k-row export
   */
  pageRows: 1000,
} as const;

/**
 * Version 1 of the column schema, in file order. A change of columns or of their meaning is a new
 * version; consumers key their parsers on `schema_version` (in the export's status and its
 * EXPORT_REQUESTED entry).
 */
export const EXPORT_SCHEMA_VERSION = 1;
export const EXPORT_COLUMNS_V1 = [
  "seq",
  "created_at",
  "type",
  "account_id",
  "correlation_id",
  "actor_type",
  "actor_id",
  "payload",
  "prev_hash",
  "hash",
] as const;

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: "text/csv; charset=utf-8",
  jsonl: "application/x-ndjson; charset=utf-8",
};

export type RangeCheck = { ok: true } | { ok: false; field: "from" | "to"; message: string };

export function checkExportRange(from: Date, to: Date): RangeCheck {
  if (to.getTime() <= from.getTime()) return { ok: false, field: "to", message: "to must be after from" };
  const days = (to.getTime() - from.getTime()) / 86_400_000;
  if (days > EXPORT_LIMITS.maxRangeDays)
    return {
      ok: false,
      field: "to",
      message: `The range is ${Math.ceil(days)} days; one export covers at most ${EXPORT_LIMITS.maxRangeDays} days — split it`,
    };
  return { ok: true };
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * `recent`: creation times of the tenant's exports inside the window ending at `now`, oldest
 * first. Full → the caller may retry once the oldest leaves the window.
 */
export function exportRateDecision(recent: readonly Date[], now: Date): RateDecision {
  if (recent.length < EXPORT_LIMITS.perWindow) return { ok: true };
  const oldest = recent[recent.length - EXPORT_LIMITS.perWindow] ?? recent[0];
  const freeAt = (oldest?.getTime() ?? now.getTime()) + EXPORT_LIMITS.windowMs;
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000)) };
}

/** One ledger entry as the export reads it (payload is the stored canonical JSON text). */
export interface ExportEntry {
  seq: number;
  /** ISO-8601 UTC with milliseconds, "…Z" */
  createdAt: string;
  type: string;
  accountId: string | null;
  correlationId: string;
  actorType: string;
  actorId: string | null;
  payload: string;
  prevHash: string;
  hash: string;
}

/**
 * RFC 4180 quoting, byte for byte what csv-stringify writes with its defaults (test/engine/
 * auditExport.test.ts checks both against each other and csv-parse on hostile payloads): a field
 * holding a quote, comma, CR or LF is quoted with inner quotes doubled; others go as they are.
 * Hand-written because the columns are fixed strings and numbers: csv-stringify's per-field
 * option handling took longer than reading the rows from SQLite, and the export's bar is 2× of
 * `sqlite3 -csv`.
 */
const NEEDS_QUOTES = /[",\r\n]/;
const csvField = (v: string) => (NEEDS_QUOTES.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/** The CSV header line of schema v1. */
export const CSV_HEADER_V1 = `${EXPORT_COLUMNS_V1.join(",")}\n`;

/**
 * One CSV line in EXPORT_COLUMNS_V1 order, "\n"-terminated; absent values are empty cells. On
 * SQLite the export builds the same line in SQL (SQL_CSV_LINE in server/repos/ledgerBulk.ts): a
 * change here is a change there.
 */
export function csvLine(e: ExportEntry): string {
  return `${e.seq},${e.createdAt},${csvField(e.type)},${csvField(e.accountId ?? "")},${csvField(e.correlationId)},${csvField(
    e.actorType,
  )},${csvField(e.actorId ?? "")},${csvField(e.payload)},${csvField(e.prevHash)},${csvField(e.hash)}\n`;
}

/**
 * One JSON line with the same keys; `payload` is embedded as the stored canonical JSON itself
 * (already valid JSON), so the line carries exactly the bytes the chain hashed.
 */
export function jsonLine(e: ExportEntry): string {
  const s = JSON.stringify;
  return `{"seq":${e.seq},"created_at":${s(e.createdAt)},"type":${s(e.type)},"account_id":${s(e.accountId)},"correlation_id":${s(
    e.correlationId,
  )},"actor_type":${s(e.actorType)},"actor_id":${s(e.actorId)},"payload":${e.payload},"prev_hash":${s(e.prevHash)},"hash":${s(e.hash)}}\n`;
}
