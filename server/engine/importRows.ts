import { LIFECYCLES, OPPORTUNITY_STAGES, POSTURES } from "../schemas/common";

/**
 * CSV import, the pure part (SPEC §4.4): the three file formats, header mapping, real line numbers
 * for every record, and the row validator. No database, no clock: checks that need the tenant's
 * data (owner_email is a member, account_external_id exists) are made by the service on the typed
 * rows this returns, and reported in the same `{ line, column, message }` shape.
 *
 * The CSV parser is passed in (`csv-parse/sync` on the server, `csv-parse/browser/esm/sync` in the
 * page's preview), so the preview shows exactly the lines and errors the server will report.
 */

export const IMPORT_KINDS = ["accounts", "contacts", "opportunities"] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export const IMPORT_LIMITS = {
  /** REST body bytes (the generic JSON limit stays 1 MiB); larger → 413 before parsing */
  maxBodyBytes: 5 * 1024 * 1024,
  /** data rows per file (the header not counted); more → the file is refused */
  maxRows: 50_000,
  /** row errors stored and shown; the rest are only counted */
  maxStoredErrors: 200,
  /** rows written per transaction; progress (rows_done) moves after each */
  chunkRows: 200,
} as const;

export interface ColumnSpec {
  name: string;
  required: boolean;
  maxLength: number;
  /** one line for the docs and the page */
  description: string;
}

const col = (name: string, required: boolean, maxLength: number, description: string): ColumnSpec => ({
  name,
  required,
  maxLength,
  description,
});

export const IMPORT_FORMATS: Record<ImportKind, ColumnSpec[]> = {
  accounts: [
    col("external_id", true, 128, "your system's id; rows are matched on it (re-importing updates, never duplicates)"),
    col("name", true, 200, "account name"),
    col("domain", false, 253, "web domain"),
    col("industry", false, 100, "industry"),
    col("owner_email", false, 254, "email of a member of this workspace; becomes the owner"),
    col("lifecycle", false, 20, LIFECYCLES.join(" | ")),
    col("posture", false, 20, POSTURES.join(" | ")),
    col("arr", false, 20, "annual recurring revenue in currency units, e.g. 120000 or 1200.50"),
  ],
  contacts: [
    col("external_id", true, 128, "your system's id for the contact"),
    col("account_external_id", true, 128, "external_id of an account already imported"),
    col("name", true, 200, "full name"),
    col("email", false, 254, "email address"),
    col("title", false, 200, "job title"),
  ],
  opportunities: [
    col("external_id", true, 128, "your system's id for the opportunity"),
    col("account_external_id", true, 128, "external_id of an account already imported"),
    col("name", true, 200, "opportunity name"),
    col("stage", true, 20, OPPORTUNITY_STAGES.join(" | ")),
    col("amount", false, 20, "amount in currency units, e.g. 50000 or 49.99"),
    col("close_date", false, 10, "YYYY-MM-DD"),
  ],
};

/** One problem, named by the file's real line number (1 = the header) and the column's name. */
export interface RowError {
  line: number;
  column: string;
  message: string;
}

// ─────────────────────────────── parsing ───────────────────────────────

/** The subset of csv-parse's sync `parse` this module uses (both builds satisfy it). */
export type CsvParseFn = (input: string, options: Record<string, unknown>) => unknown[];

export interface CsvRecord {
  /** the line the record starts on (a quoted field may span several lines) */
  line: number;
  values: string[];
}

export type CsvFile = { ok: true; header: CsvRecord | null; records: CsvRecord[] } | { ok: false; error: RowError };

const CR = 0x0d;
const LF = 0x0a;

/**
 * Counts line breaks (CRLF, LF or a lone CR each count once) in UTF-8 bytes, moving forward only:
 * records arrive in order, so the whole file is scanned once.
 */
class LineCounter {
  private pos = 0;
  private line = 1;
  constructor(private readonly bytes: Uint8Array) {}
  /** the 1-based line of the byte at `offset` */
  lineAt(offset: number): number {
    const end = Math.min(offset, this.bytes.length);
    while (this.pos < end) {
      const b = this.bytes[this.pos];
      if (b === LF || (b === CR && this.bytes[this.pos + 1] !== LF)) this.line++;
      this.pos++;
    }
    return this.line;
  }
  /** offset of the record's last content byte, given the offset just past its delimiter */
  lastContentByte(endExclusive: number): number {
    let p = Math.min(endExclusive, this.bytes.length) - 1;
    if (p >= 0 && this.bytes[p] === LF) p--;
    if (p >= 0 && this.bytes[p] === CR) p--;
    return Math.max(p, 0);
  }
}

const breaksIn = (s: string) => (s.match(/\r\n|\n|\r/g) ?? []).length;

interface ParsedRecord {
  record: string[];
  info: { bytes: number };
}

function isCsvError(e: unknown): e is Error & { code?: string; bytes?: number } {
  return e instanceof Error;
}

/**
 * Parse CSV text (RFC 4180 quoting, BOM, CRLF/LF) into records with their real starting line.
 *
 * csv-parse's own `info.lines` drifts on CRLF files with multi-line fields, so the line is derived
 * from `info.bytes` (the exact byte offset where each record ends): the line of the record's last
 * byte, minus the line breaks inside its quoted values. Rows whose cells are all empty are
 * skipped like blank lines. A structural error (an unclosed quote) refuses the file: recovery
 * would guess where the following records start.
 */
export function readCsv(text: string, parse: CsvParseFn): CsvFile {
  const bytes = new TextEncoder().encode(text);
  const counter = new LineCounter(bytes);
  let parsed: ParsedRecord[];
  try {
    parsed = parse(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      // A lone quote inside an unquoted field (5" screen) is kept literally instead of refusing the file.
      relax_quotes: true,
      skip_empty_lines: true,
    }) as ParsedRecord[];
  } catch (e) {
    const line = isCsvError(e) && typeof e.bytes === "number" ? new LineCounter(bytes).lineAt(e.bytes) : 1;
    const reason = isCsvError(e) ? (e.message.split(":")[0] ?? "invalid CSV") : "invalid CSV";
    return { ok: false, error: { line, column: "", message: `The file is not valid CSV: ${reason}` } };
  }
  const records: CsvRecord[] = [];
  let header: CsvRecord | null = null;
  for (const p of parsed) {
    const values = p.record;
    const endLine = counter.lineAt(counter.lastContentByte(p.info.bytes));
    const line = endLine - values.reduce((n, v) => n + breaksIn(v), 0);
    if (values.every((v) => v.trim() === "")) continue;
    if (!header) header = { line, values };
    else records.push({ line, values });
  }
  return { ok: true, header, records };
}

// ─────────────────────────────── header ───────────────────────────────

export type HeaderMap =
  | {
      ok: true;
      /** column name → index in each record */
      index: Record<string, number>;
      /** columns in the file that no format names: ignored, reported once */
      unknown: string[];
    }
  | { ok: false; error: RowError };

/** `Owner Email`, `owner-email` and `OWNER_EMAIL` are all `owner_email`. */
export const normalizeHeader = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");

export function mapHeader(kind: ImportKind, header: CsvRecord | null): HeaderMap {
  const spec = IMPORT_FORMATS[kind];
  if (!header) return { ok: false, error: { line: 1, column: spec[0]?.name ?? "", message: "The file is empty: expected a header row" } };
  const index: Record<string, number> = {};
  const unknown: string[] = [];
  const known = new Set(spec.map((c) => c.name));
  for (const [i, raw] of header.values.entries()) {
    const name = normalizeHeader(raw);
    if (name === "") continue;
    if (!known.has(name)) {
      unknown.push(raw.trim().slice(0, 100));
      continue;
    }
    if (index[name] !== undefined)
      return { ok: false, error: { line: header.line, column: name, message: `Column ${name} appears more than once in the header` } };
    index[name] = i;
  }
  const missing = spec.filter((c) => c.required && index[c.name] === undefined).map((c) => c.name);
  if (missing.length > 0)
    return {
      ok: false,
      error: {
        line: header.line,
        column: missing[0] as string,
        message: `Required column${missing.length > 1 ? "s" : ""} missing from the header: ${missing.join(", ")}`,
      },
    };
  return { ok: true, index, unknown };
}

// ─────────────────────────────── rows ───────────────────────────────

export interface AccountRow {
  line: number;
  externalId: string;
  name: string;
  domain?: string;
  industry?: string;
  ownerEmail?: string;
  lifecycle?: string;
  posture?: string;
  arrCents?: number;
}

export interface ContactRow {
  line: number;
  externalId: string;
  accountExternalId: string;
  name: string;
  email?: string;
  title?: string;
}

export interface OpportunityRow {
  line: number;
  externalId: string;
  accountExternalId: string;
  name: string;
  stage: string;
  amountCents?: number;
  closeDate?: Date;
}

export type ImportRow<K extends ImportKind = ImportKind> = K extends "accounts"
  ? AccountRow
  : K extends "contacts"
    ? ContactRow
    : OpportunityRow;

export type RowResult<R> = { ok: true; row: R } | { ok: false; errors: RowError[] };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MONEY = /^\d{1,11}(\.\d{1,2})?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "At risk", "at-risk" and "AT_RISK" name the same value. */
const enumValue = (v: string) =>
  v
    .trim()
    .toUpperCase()
    .replace(/[\s-]+/g, "_");

/** Currency units → integer cents, or an error message. */
export function parseMoney(v: string): number | string {
  const s = v.trim();
  if (s.startsWith("-")) return "must not be negative";
  if (!MONEY.test(s)) return "must be a number like 1200 or 1200.50 (no currency sign or thousands separator)";
  const [whole, frac = ""] = s.split(".");
  return Number(whole) * 100 + Number(frac.padEnd(2, "0"));
}

/** YYYY-MM-DD that names a real calendar day → UTC midnight, or an error message. */
export function parseDay(v: string): Date | string {
  const m = DATE.exec(v.trim());
  if (!m) return "must be a date as YYYY-MM-DD";
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return "is not a real calendar date";
  if (y < 1900 || y > 2200) return "must be between 1900 and 2200";
  return date;
}

/**
 * Validate one record against its format. Every problem of the row is reported (not just the
 * first), each by line and column; a row with any error is not imported.
 */
export function validateRecord(kind: ImportKind, index: Record<string, number>, rec: CsvRecord): RowResult<ImportRow> {
  const errors: RowError[] = [];
  const err = (column: string, message: string) => errors.push({ line: rec.line, column, message });
  const cells: Record<string, string | undefined> = {};
  for (const spec of IMPORT_FORMATS[kind]) {
    const i = index[spec.name];
    if (i === undefined) continue;
    const raw = rec.values[i] ?? "";
    if (raw.includes("\u0000")) {
      err(spec.name, "contains a NUL character");
      continue;
    }
    const v = raw.trim();
    if (v.length > spec.maxLength) {
      err(spec.name, `is longer than ${spec.maxLength} characters`);
      continue;
    }
    if (v === "") {
      if (spec.required) err(spec.name, "is required");
      continue;
    }
    cells[spec.name] = v;
  }
  const choice = (column: string, allowed: readonly string[]) => {
    const v = cells[column];
    if (v === undefined) return undefined;
    const e = enumValue(v);
    if (!allowed.includes(e)) {
      err(column, `unknown ${column} "${v.slice(0, 40)}" (expected ${allowed.join(", ")})`);
      return undefined;
    }
    return e;
  };
  const money = (column: string) => {
    const v = cells[column];
    if (v === undefined) return undefined;
    const cents = parseMoney(v);
    if (typeof cents === "string") {
      err(column, cents);
      return undefined;
    }
    return cents;
  };
  const email = (column: string) => {
    const v = cells[column];
    if (v === undefined) return undefined;
    if (!EMAIL.test(v)) {
      err(column, `"${v.slice(0, 60)}" is not an email address`);
      return undefined;
    }
    return v.toLowerCase();
  };
  const externalId = cells.external_id as string;
  const name = cells.name as string;
  if (kind === "accounts") {
    const row: AccountRow = {
      line: rec.line,
      externalId,
      name,
      domain: cells.domain?.toLowerCase(),
      industry: cells.industry,
      ownerEmail: email("owner_email"),
      lifecycle: choice("lifecycle", LIFECYCLES),
      posture: choice("posture", POSTURES),
      arrCents: money("arr"),
    };
    return errors.length ? { ok: false, errors } : { ok: true, row: strip(row) };
  }
  if (kind === "contacts") {
    const row: ContactRow = {
      line: rec.line,
      externalId,
      accountExternalId: cells.account_external_id as string,
      name,
      email: email("email"),
      title: cells.title,
    };
    return errors.length ? { ok: false, errors } : { ok: true, row: strip(row) };
  }
  const stage = cells.stage === undefined ? undefined : choice("stage", OPPORTUNITY_STAGES);
  const amountCents = money("amount");
  let closeDate: Date | undefined;
  if (cells.close_date !== undefined) {
    const d = parseDay(cells.close_date);
    if (typeof d === "string") err("close_date", d);
    else closeDate = d;
  }
  const row: OpportunityRow = {
    line: rec.line,
    externalId,
    accountExternalId: cells.account_external_id as string,
    name,
    stage: stage as string,
    amountCents,
    closeDate,
  };
  return errors.length ? { ok: false, errors } : { ok: true, row: strip(row) };
}

/** Drop undefined keys so a typed row compares equal to its stored twin field by field. */
function strip<T extends object>(row: T): T {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) as T;
}

export interface ValidatedFile<R = ImportRow> {
  /** in file order; each row has its line */
  results: { line: number; result: RowResult<R> }[];
  rowsTotal: number;
}

/**
 * Validate every record of a file: each row on its own, then duplicate external ids (the first
 * occurrence wins; later ones are errors naming the first line). Records with more values than
 * the header has columns are refused (a stray delimiter shifts every value after it).
 */
export function validateRecords(kind: ImportKind, header: CsvRecord, index: Record<string, number>, records: CsvRecord[]): ValidatedFile {
  const seen = new Map<string, number>();
  const results: ValidatedFile["results"] = [];
  for (const rec of records) {
    if (rec.values.length > header.values.length) {
      results.push({
        line: rec.line,
        result: {
          ok: false,
          errors: [
            {
              line: rec.line,
              column: "",
              message: `The row has ${rec.values.length} values but the header has ${header.values.length} columns`,
            },
          ],
        },
      });
      continue;
    }
    const result = validateRecord(kind, index, rec);
    if (result.ok) {
      const first = seen.get(result.row.externalId);
      if (first !== undefined) {
        results.push({
          line: rec.line,
          result: {
            ok: false,
            errors: [{ line: rec.line, column: "external_id", message: `duplicate external_id (first on line ${first})` }],
          },
        });
        continue;
      }
      seen.set(result.row.externalId, rec.line);
    }
    results.push({ line: rec.line, result });
  }
  return { results, rowsTotal: records.length };
}

export type PreparedFile =
  | { ok: true; header: CsvRecord; index: Record<string, number>; unknown: string[]; records: CsvRecord[] }
  | { ok: false; error: RowError };

/** Parse + header + the row-count limit: what decides whether a file is accepted at all. */
export function prepareFile(kind: ImportKind, text: string, parse: CsvParseFn, maxRows: number = IMPORT_LIMITS.maxRows): PreparedFile {
  const file = readCsv(text, parse);
  if (!file.ok) return file;
  const header = mapHeader(kind, file.header);
  if (!header.ok) return header;
  if (file.records.length > maxRows)
    return {
      ok: false,
      error: { line: 1, column: "", message: `The file has ${file.records.length} rows; at most ${maxRows} per import` },
    };
  return { ok: true, header: file.header as CsvRecord, index: header.index, unknown: header.unknown, records: file.records };
}

export const UNKNOWN_COLUMN = "unknown column, ignored";

/** The unknown columns, reported once as notices at the header's line (they are ignored, not fatal). */
export const unknownColumnNotices = (header: CsvRecord, unknown: string[]): RowError[] =>
  unknown.map((c) => ({ line: header.line, column: c, message: UNKNOWN_COLUMN }));

/** The bounded error list: keep the first `max` (in line order as they come), count all. */
export function appendBounded(stored: RowError[], more: RowError[], max: number = IMPORT_LIMITS.maxStoredErrors): RowError[] {
  if (stored.length >= max || more.length === 0) return stored;
  return [...stored, ...more.slice(0, max - stored.length)];
}
