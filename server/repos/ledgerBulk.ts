import Database from "better-sqlite3";
import pg from "pg";
import { providerOf, type StatementObserver } from "../db";
import { csvLine, type ExportEntry, type ExportFormat, jsonLine } from "../engine/auditExport";

/**
 * Bulk, read-only scans of a tenant's ledger for audit exports, through the plain driver instead
 * of Prisma. Measured on 300,000 rows: Prisma's result mapping made the scan about 3× slower and
 * its heap climbed ~190 MB between major collections (rows outlived the young generation), which
 * broke the export's flat-memory bar; the driver's rows die young and the heap stays under 20 MB.
 * Only this file and the generated clients' callers in server/repos talk to the database.
 */

export interface ExportRange {
  from: Date;
  to: Date;
  accountId: string | null;
  /** the chain's last seq when the run started: rows appended during the run are not exported */
  maxSeq: number;
}

/** Consecutive rows of an export file, already encoded (UTF-8 CSV lines or JSON lines). */
export interface ExportChunk {
  rows: number;
  /** the seq of the chunk's last row */
  lastSeq: number;
  data: Buffer;
}

/** A stored row the export cannot render (a createdAt that is no date): the export fails rather than skip it. */
export class ExportEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExportEncodingError";
  }
}

export interface LedgerScanner {
  /**
   * About how many rows the range holds, for the progress bar (the finished export records the
   * exact count). Exact when createdAt grows with seq, as appends make it (up to the few ms two
   * concurrent appends' clocks may cross): the range's seq bounds are found by bisecting the
   * dense seq (~20 point reads). A COUNT(*) of the range had to read every row of the tenant —
   * createdAt is in no index of LedgerEntry — which cost a sixth of a 1M-row export's time.
   */
  estimate(tenantId: string, r: ExportRange): Promise<number>;
  /**
   * The range's rows in ascending seq, encoded in `format` (without the CSV header), as chunks of
   * at most `pageRows` rows; one chunk in memory at a time.
   */
  chunks(tenantId: string, r: ExportRange, format: ExportFormat, pageRows: number): AsyncGenerator<ExportChunk>;
  close(): Promise<void>;
}

const COLUMNS = `"seq", "createdAt", "type", "accountId", "correlationId", "actorType", "actorId", "payload", "prevHash", "hash"`;

/** Prisma's SQLite adapter stores DateTime as ISO-8601 text with "+00:00"; compare in that form. */
const sqliteTime = (d: Date) => d.toISOString().replace("Z", "+00:00");

/**
 * The stored createdAt text as ISO-8601 UTC ("…Z"). Prisma writes the "+00:00" form of
 * toISOString(); that is rewritten by slicing (a Date per row cost a tenth of the export's time),
 * anything else goes through Date. SQL_ISO_UTC below is the same for the CSV built in SQL.
 */
const isoUtc = (s: string) => (s.length === 29 && s.endsWith("+00:00") ? `${s.slice(0, 23)}Z` : new Date(s).toISOString());

/**
 * The range's rows as [first seq at or after `from`, first seq at or after `to`) by bisection over
 * seq 1..maxSeq, given the createdAt of one seq (undefined when absent: counted as before).
 */
async function seqBounds(r: ExportRange, at: (seq: number) => Promise<number | undefined>) {
  const firstAtOrAfter = async (t: number) => {
    let lo = 1;
    let hi = r.maxSeq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const c = await at(mid);
      if (c !== undefined && c >= t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  return { lo: await firstAtOrAfter(r.from.getTime()), hi: await firstAtOrAfter(r.to.getTime()) };
}

/** A row in COLUMNS order, as SQLite returns it. */
type RawTuple = [number, string, string, string | null, string, string, string | null, string, string, string];
const fromTuple = (t: RawTuple): ExportEntry => ({
  seq: t[0],
  createdAt: isoUtc(t[1]),
  type: t[2],
  accountId: t[3],
  correlationId: t[4],
  actorType: t[5],
  actorId: t[6],
  payload: t[7],
  prevHash: t[8],
  hash: t[9],
});

const COLUMN_NAMES = COLUMNS.split(", ").map((c) => c.slice(1, -1));

/** Entries as one chunk of the file, formatted in JS (JSON lines; every format on PostgreSQL). */
function encodeEntries(entries: ExportEntry[], format: ExportFormat): ExportChunk {
  const line = format === "csv" ? csvLine : jsonLine;
  return { rows: entries.length, lastSeq: entries.at(-1)?.seq ?? 0, data: Buffer.from(entries.map(line).join(""), "utf8") };
}

/**
 * csvField (server/engine/auditExport.ts) in SQL: quoted, inner quotes doubled, when the value
 * holds a quote, comma, CR or LF; NULL stays NULL (concat() writes it as the empty cell). `v` is a
 * column, read per use.
 */
const sqlCsvField = (v: string) =>
  `CASE WHEN instr(${v}, '"') OR instr(${v}, ',') OR instr(${v}, char(13)) OR instr(${v}, char(10)) THEN '"' || replace(${v}, '"', '""') || '"' ELSE ${v} END`;

/**
 * isoUtc in SQL: Prisma's "+00:00" form by slicing (the 6 characters from the 24th are "+00:00"
 * exactly when the text is 29 long and ends so), anything else through strftime, which honours
 * an offset and gives NULL for what is no date (caught by the page's count, below).
 */
const SQL_ISO_UTC = `CASE WHEN substr("createdAt", 24) = '+00:00' THEN substr("createdAt", 1, 23) || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', "createdAt") END`;

/** Whether a page's comma-separated seqs, as its aggregate consumed them, ascend from `after`. */
function ascending(seqs: string | null, after: number) {
  let prev = after;
  for (const s of seqs ? seqs.split(",") : []) {
    const seq = Number(s);
    if (!(seq > prev)) return false;
    prev = seq;
  }
  return true;
}

const SHORT_FIELDS = [`"type"`, `"accountId"`, `"correlationId"`, `"actorType"`, `"actorId"`];

/**
 * csvLine (server/engine/auditExport.ts, schema v1) in SQL, byte for byte: seq as its decimal
 * text, createdAt as isoUtc, NULL account and actor as empty cells, "\n"-terminated. A change to
 * one is a change to both; test/integration/audit-export-csv.test.ts compares them on hostile
 * values. Each SQL function call costs about as much as scanning a short field: with four instr
 * per field the statements alone took ~3.4 s of CPU on 1M rows, against ~1.9 s for the whole
 * `sqlite3 -csv` run and ~2.6 s as written here. So the fields that practically never need quotes
 * are tested together and take the per-field form only when that test fails (never wrongly
 * unquoted: the slow path quotes exactly as csvField would):
 * - type, account, correlation, actor type and actor id: their concatenation has no comma and
 *   json_quote adds nothing but its two quotes (no quote, backslash or control character, so no
 *   CR or LF);
 * - the hashes: unhex() reads them (hex digits only);
 * - the payload (JSON, nearly always quoted) and createdAt as above.
 * concat() makes the line in one allocation (a chain of || copied it once per field); createdAt
 * stays outside it with ||, so that its NULL makes the line NULL instead of an empty cell.
 */
const SQL_CSV_LINE = (() => {
  const all = `concat(${SHORT_FIELDS.join(", ")})`;
  const plain = `instr(${all}, ',') = 0 AND octet_length(json_quote(${all})) = octet_length(${all}) + 2`;
  const short = (f: (v: string) => string) => SHORT_FIELDS.map((v) => `',', ${f(v)}`).join(", ");
  const hex = (v: string) => `CASE WHEN unhex(${v}) IS NOT NULL THEN ${v} ELSE ${sqlCsvField(v)} END`;
  return `"seq" || ',' || ${SQL_ISO_UTC} || concat(CASE WHEN ${plain} THEN concat(${short((v) => v)}) ELSE concat(${short(sqlCsvField)}) END, ',', ${sqlCsvField(`"payload"`)}, ',', ${hex(`"prevHash"`)}, ',', ${hex(`"hash"`)}, char(10))`;
})();

function sqliteScanner(url: string, observe?: StatementObserver): LedgerScanner {
  // Read-only on the same file: WAL lets the scan run beside writers without blocking them.
  const db = new Database(url.slice("file:".length).split("?")[0] ?? "", { readonly: true, fileMustExist: true });
  const where = (account: boolean) =>
    `"tenantId" = ? AND "seq" <= ? AND "createdAt" >= ? AND "createdAt" < ?${account ? ` AND "accountId" = ?` : ""}`;
  const args = (tenantId: string, r: ExportRange) => [
    tenantId,
    r.maxSeq,
    sqliteTime(r.from),
    sqliteTime(r.to),
    ...(r.accountId ? [r.accountId] : []),
  ];
  /**
   * CSV pages built by SQLite itself: one statement per page returns the page's lines already
   * concatenated, as the bytes of one Buffer. Measured on 1M rows: reading the ten columns into JS
   * values alone cost about as much CPU as the whole `sqlite3 -csv` run, so no JS formatting
   * could come within the 2× bar; here JS handles one value per page (no per-row strings, no
   * UTF-8 decode and re-encode).
   *
   * Line order: group_concat's order is documented as arbitrary unless the aggregate has its own
   * ORDER BY, but that ORDER BY sorts every page's lines again: ~0.9 s more CPU per 1M rows, half
   * of what the whole `sqlite3 -csv` run takes (the bench: 2.28× with it, 1.87–2.02× without). So
   * the page is aggregated unsorted, in the subquery's seq order, and the same aggregate loop also
   * lists the seqs in the order it consumed them; if that list is not ascending, the page is read
   * again with the sorting aggregate. The file is in seq order either way.
   */
  async function* csvChunks(tenantId: string, r: ExportRange, pageRows: number): AsyncGenerator<ExportChunk> {
    const page = (order: string) =>
      `SELECT CAST(group_concat("line", ''${order}) AS BLOB), group_concat("seq", ','), count("line"), count(*), max("seq") FROM (SELECT ${SQL_CSV_LINE} AS "line", "seq" FROM "LedgerEntry" WHERE ${where(!!r.accountId)} AND "seq" > ? ORDER BY "seq" ASC LIMIT ?)`;
    const plain = { sql: page(""), stmt: db.prepare(page("")).raw(true) };
    let sorted: typeof plain | null = null;
    type Page = [data: Buffer | null, seqs: string | null, lines: number, rows: number, lastSeq: number | null];
    const read = (q: typeof plain, after: number) => {
      const row = q.stmt.get(...args(tenantId, r), after, pageRows) as Page;
      observe?.({
        sql: q.sql,
        args: [...args(tenantId, r), after, pageRows],
        columns: ["data", "seqs", "lines", "rows", "lastSeq"],
        rows: [row],
      });
      return row;
    };
    let after = 0;
    for (;;) {
      let row = read(plain, after);
      if (!ascending(row[1], after)) {
        sorted ??= { sql: page(` ORDER BY "seq"`), stmt: db.prepare(page(` ORDER BY "seq"`)).raw(true) };
        row = read(sorted, after);
      }
      const [data, , lines, rows, lastSeq] = row;
      // A NULL line (a createdAt strftime cannot read) would vanish from group_concat: fail as
      // csvLine's `new Date(…).toISOString()` would, never skip a row.
      if (lines !== rows) throw new ExportEncodingError(`ledger rows after seq ${after}: ${rows - lines} have a createdAt that is no date`);
      if (data && lastSeq !== null && rows > 0) yield { rows, lastSeq, data };
      if (lastSeq === null || rows < pageRows) return;
      after = lastSeq;
    }
  }
  return {
    async estimate(tenantId, r) {
      const atSql = `SELECT "createdAt" FROM "LedgerEntry" WHERE "tenantId" = ? AND "seq" = ?`;
      const at = db.prepare(atSql).pluck();
      const { lo, hi } = await seqBounds(r, async (seq) => {
        const t = at.get(tenantId, seq) as string | undefined;
        observe?.({ sql: atSql, args: [tenantId, seq], columns: ["createdAt"], rows: t === undefined ? [] : [[t]] });
        return t === undefined ? undefined : Date.parse(t);
      });
      if (!r.accountId) return hi - lo;
      // (tenantId, accountId, seq) answers this from the index alone.
      const countSql = `SELECT COUNT(*) FROM "LedgerEntry" WHERE "tenantId" = ? AND "accountId" = ? AND "seq" >= ? AND "seq" < ?`;
      const n = db.prepare(countSql).pluck().get(tenantId, r.accountId, lo, hi) as number;
      observe?.({ sql: countSql, args: [tenantId, r.accountId, lo, hi], columns: ["n"], rows: [[n]] });
      return n;
    },
    async *chunks(tenantId, r, format, pageRows) {
      if (format === "csv") {
        yield* csvChunks(tenantId, r, pageRows);
        return;
      }
      const sql = `SELECT ${COLUMNS} FROM "LedgerEntry" WHERE ${where(!!r.accountId)} AND "seq" > ? ORDER BY "seq" ASC LIMIT ?`;
      const stmt = db.prepare(sql);
      // Arrays, not objects: better-sqlite3 builds a row object key by key in C++, which cost more
      // than the query itself.
      stmt.raw(true);
      let after = 0;
      for (;;) {
        const raw = stmt.all(...args(tenantId, r), after, pageRows) as RawTuple[];
        observe?.({ sql, args: [...args(tenantId, r), after, pageRows], columns: COLUMN_NAMES, rows: raw });
        if (raw.length > 0) yield encodeEntries(raw.map(fromTuple), format);
        const last = raw.at(-1);
        if (!last || raw.length < pageRows) return;
        after = last[0];
      }
    },
    async close() {
      db.close();
    },
  };
}

function postgresScanner(url: string, observe?: StatementObserver): LedgerScanner {
  // Prisma's DateTime is `timestamp(3)` without zone, holding UTC: read it as UTC, not local time.
  const client = new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: (oid: number, format?: string) =>
        oid === 1114 ? (s: string) => new Date(`${s.replace(" ", "T")}Z`).toISOString() : pg.types.getTypeParser(oid, format as "text"),
    },
  });
  const connected = client.connect();
  const where = (account: boolean) =>
    `"tenantId" = $1 AND "seq" <= $2 AND "createdAt" >= $3 AND "createdAt" < $4${account ? ` AND "accountId" = $5` : ""}`;
  const args = (tenantId: string, r: ExportRange) => [
    tenantId,
    r.maxSeq,
    r.from.toISOString(),
    r.to.toISOString(),
    ...(r.accountId ? [r.accountId] : []),
  ];
  return {
    async estimate(tenantId, r) {
      await connected;
      const atSql = `SELECT "createdAt" AS t FROM "LedgerEntry" WHERE "tenantId" = $1 AND "seq" = $2`;
      const { lo, hi } = await seqBounds(r, async (seq) => {
        const res = await client.query<{ t: string }>(atSql, [tenantId, seq]);
        observe?.({ sql: atSql, args: [tenantId, seq], columns: ["t"], rows: res.rows.map((row) => [row.t]) });
        const t = res.rows[0]?.t;
        return t === undefined ? undefined : Date.parse(t);
      });
      if (!r.accountId) return hi - lo;
      const countSql = `SELECT COUNT(*) AS n FROM "LedgerEntry" WHERE "tenantId" = $1 AND "accountId" = $2 AND "seq" >= $3 AND "seq" < $4`;
      const res = await client.query<{ n: string }>(countSql, [tenantId, r.accountId, lo, hi]);
      observe?.({ sql: countSql, args: [tenantId, r.accountId, lo, hi], columns: ["n"], rows: res.rows.map((row) => [row.n]) });
      return Number(res.rows[0]?.n ?? 0);
    },
    async *chunks(tenantId, r, format, pageRows) {
      await connected;
      // One server-side cursor in a read-only snapshot: one plan for the whole scan (keyset pages
      // were re-planned per page and, on a table not yet analysed after a bulk load, each page
      // became a full scan and sort), and every page sees the same committed state.
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      try {
        const declare = `DECLARE export_rows NO SCROLL CURSOR FOR SELECT ${COLUMNS} FROM "LedgerEntry" WHERE ${where(!!r.accountId)} ORDER BY "seq" ASC`;
        await client.query(declare, args(tenantId, r));
        observe?.({ sql: declare, args: args(tenantId, r) });
        const fetchPage = `FETCH ${Math.max(1, Math.floor(pageRows))} FROM export_rows`;
        for (;;) {
          const res = await client.query<ExportEntry & { seq: string }>(fetchPage);
          observe?.({
            sql: fetchPage,
            args: [],
            columns: COLUMN_NAMES,
            rows: res.rows.map((row) => COLUMN_NAMES.map((c) => row[c as keyof ExportEntry])),
          });
          if (res.rows.length > 0)
            yield encodeEntries(
              res.rows.map((row) => ({ ...row, seq: Number(row.seq) })),
              format,
            );
          if (res.rows.length < pageRows) break;
        }
      } finally {
        await client.query("ROLLBACK");
      }
    },
    async close() {
      await connected.catch(() => undefined);
      await client.end();
    },
  };
}

/**
 * A scanner on the database at `url` (the app's DATABASE_URL); close it when done. `observe` sees
 * its statements as createDb's does (off by default; unset, nothing is built for it).
 */
export function openLedgerScanner(url: string, observe?: StatementObserver): LedgerScanner {
  return providerOf(url) === "postgresql" ? postgresScanner(url, observe) : sqliteScanner(url, observe);
}
