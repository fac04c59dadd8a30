import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import type { StatementObserver } from "@/server/db";
import { CSV_HEADER_V1, csvLine, EXPORT_COLUMNS_V1, type ExportEntry } from "@/server/engine/auditExport";
import { appendLedgerBatch } from "@/server/repos/ledger";
import { ExportEncodingError, openLedgerScanner } from "@/server/repos/ledgerBulk";
import { inTransaction } from "@/server/repos/tx";
import { openExportDownload, requestExport, runExport } from "@/server/services/audit/export";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * The CSV file of schema v1 is a contract. On SQLite the lines are built by SQL (server/repos/
 * ledgerBulk.ts) rather than by csvLine, so this runs the production export over ledger rows whose
 * every field is hostile — quotes, commas, CR, LF, CRLF, unicode, NULL account and actor, empty
 * and space-padded values, stored times in other forms than Prisma's — and requires the file to
 * be byte for byte what csvLine writes for the same entries (read back through Prisma), and to
 * parse back to those values. On PostgreSQL the same file comes from csvLine itself.
 */

const DAY = 86_400_000;
const T = new Date("2026-10-20T10:00:00.000Z");
const FROM = new Date(T.getTime() - DAY);
const TO = new Date(T.getTime() + DAY);

const HOSTILE = [
  "plain",
  "a,b",
  'say "hi"',
  '"',
  '""',
  "line1\nline2",
  "cr\ronly",
  "crlf\r\n",
  '\n,"\r',
  "ünïcødé — 日本語 🚀 \u2028",
  "",
  "  padded  ",
  "tab\tand;semicolon",
  // PostgreSQL's text holds no NUL; SQLite's does, and the SQL must carry it through.
  ...(TEST_PROVIDER === "sqlite" ? ["nul\u0000byte", 'nul\u0000then "quote", comma'] : []),
];
const at = (i: number) => HOSTILE[i % HOSTILE.length] as string;

const EXPORT_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-export-csv-"));
let t: TestDb;
let c: TestTenant;

/** The tenant's entries in [FROM, TO) as the export reads them, through Prisma (not the scanner). */
async function entriesInRange(tenantId: string): Promise<ExportEntry[]> {
  const rows = await t.db.ledgerEntry.findMany({
    where: { tenantId, createdAt: { gte: FROM, lt: TO } },
    orderBy: { seq: "asc" },
  });
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}

async function exportCsv(tenant: TestTenant) {
  const viewer = { tenantId: tenant.id, actor: { type: "SYSTEM" as const, id: "test" }, role: null, userId: null };
  const clock = fixedClock(T);
  const { exportId } = await requestExport(t.db, viewer, { from: FROM, to: TO, format: "csv" }, clock);
  const run = await runExport({ db: t.db, clock, dir: EXPORT_DIR, databaseUrl: t.url }, tenant.id, exportId);
  expect(run.status).toBe("COMPLETED");
  const { body } = await openExportDownload(t.db, viewer, exportId, EXPORT_DIR);
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.fromWeb(body as import("node:stream/web").ReadableStream)) chunks.push(chunk as Buffer);
  return { file: Buffer.concat(chunks), run };
}

beforeAll(async () => {
  t = await freshDb();
  c = await makeTenant(t.db);
  // 3 batches × 14 entries, every field but seq taking each hostile value in turn, at times with
  // and without milliseconds.
  for (const [b, ms] of [0, 7, 999].entries()) {
    const now = new Date(T.getTime() - 3_600_000 + b * 60_000 + ms);
    await inTransaction(t.db, (tx) =>
      appendLedgerBatch(
        tx,
        c.id,
        HOSTILE.map((_, i) => ({
          type: "SIGN_IN" as const,
          actor: { type: "SYSTEM" as const, id: i % 3 === 0 ? null : at(i + b) },
          accountId: i % 4 === 0 ? null : at(i + b + 1),
          correlationId: at(i + b + 2),
          payload: { user_id: "u1", user_agent: at(i + b + 3), note: at(i + b + 4), list: [at(i), at(i + 5)] },
        })),
        now,
      ),
    );
  }
  // Fields the write path fills from fixed vocabularies get hostile values too: the export's
  // quoting must not depend on what they usually hold.
  const seqs = (await entriesInRange(c.id)).map((e) => e.seq);
  for (const [i, seq] of seqs.slice(0, HOSTILE.length).entries())
    await t.db.ledgerEntry.updateMany({
      where: { tenantId: c.id, seq },
      data: { type: at(i), actorType: at(i + 1), prevHash: at(i + 2), hash: at(i + 3) },
    });
  if (TEST_PROVIDER === "sqlite") {
    // Stored times in other ISO forms than Prisma's "+00:00" with milliseconds: the SQL takes
    // its strftime branch for these, and must agree with Date (the entries read through Prisma).
    const forms = ["2026-10-20T12:00:00.000+02:00", "2026-10-20T10:00:00Z", "2026-10-20T10:00:00.5Z", "2026-10-20T05:30:00.250-04:30"];
    for (const [i, form] of forms.entries())
      await t.db.$executeRawUnsafe(`UPDATE "LedgerEntry" SET "createdAt" = ? WHERE "tenantId" = ? AND "seq" = ?`, form, c.id, seqs[i + 20]);
  }
}, 120_000);

afterAll(async () => {
  await t.cleanup();
  fs.rmSync(EXPORT_DIR, { recursive: true, force: true });
});

describe(`audit export CSV on hostile values (${TEST_PROVIDER})`, () => {
  it("the file is byte for byte the header and csvLine of every entry, and parses back to the stored values", async () => {
    const { file, run } = await exportCsv(c);
    const entries = await entriesInRange(c.id);
    // The export request's own entry is in the range too (stamped at T).
    expect(entries.length).toBe(3 * HOSTILE.length + 1);
    expect(entries.some((e) => e.accountId === null) && entries.some((e) => e.actorId === null)).toBe(true);
    const expected = Buffer.from(CSV_HEADER_V1 + entries.map(csvLine).join(""), "utf8");
    expect(file.toString("utf8")).toBe(expected.toString("utf8"));
    expect(file.equals(expected)).toBe(true);
    expect(run).toMatchObject({ rowCount: entries.length });

    const records = parse(file) as string[][];
    expect(records[0]).toEqual([...EXPORT_COLUMNS_V1]);
    expect(records.slice(1)).toEqual(
      entries.map((e) => [
        String(e.seq),
        e.createdAt,
        e.type,
        e.accountId ?? "",
        e.correlationId,
        e.actorType,
        e.actorId ?? "",
        e.payload,
        e.prevHash,
        e.hash,
      ]),
    );
  });

  it("pages whose aggregate would have consumed rows out of seq order are read again sorted: same bytes", async () => {
    const entries = await entriesInRange(c.id);
    const maxSeq = entries.at(-1)?.seq ?? 0;
    const read = async (observe?: StatementObserver) => {
      const scanner = openLedgerScanner(t.url, observe);
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of scanner.chunks(c.id, { from: FROM, to: TO, accountId: null, maxSeq }, "csv", 7)) chunks.push(chunk.data);
      } finally {
        await scanner.close();
      }
      return Buffer.concat(chunks);
    };
    const statements: string[] = [];
    let reversed = 0;
    // SQLite never has consumed a page out of order here; the observer (which sees the row the
    // scanner then checks) pretends it did, for every unsorted page of more than one row.
    const shuffled = await read((st) => {
      statements.push(st.sql);
      const row = st.rows?.[0] as unknown[] | undefined;
      const seqs = typeof row?.[1] === "string" ? row[1].split(",") : [];
      if (st.columns?.[1] === "seqs" && !st.sql.includes(`ORDER BY "seq")`) && row && seqs.length > 1) {
        row[1] = seqs.reverse().join(",");
        reversed++;
      }
    });
    expect(shuffled.equals(Buffer.from(entries.map(csvLine).join(""), "utf8"))).toBe(true);
    expect(shuffled.equals(await read())).toBe(true);
    // Every pretended disorder was answered by the sorting statement (PostgreSQL has none: one cursor).
    expect(reversed).toBe(TEST_PROVIDER === "sqlite" ? Math.floor(entries.length / 7) + (entries.length % 7 > 1 ? 1 : 0) : 0);
    expect(statements.filter((q) => q.includes(`ORDER BY "seq")`)).length).toBe(reversed);
  });

  // Only SQLite stores a time as text that can be anything; PostgreSQL's timestamp cannot.
  if (TEST_PROVIDER === "sqlite")
    it("a stored createdAt that is no date fails the export (as Date would) instead of dropping the row", async () => {
      const bad = await makeTenant(t.db);
      const [entry] = await inTransaction(t.db, (tx) =>
        appendLedgerBatch(tx, bad.id, [{ type: "SIGN_IN", actor: { type: "SYSTEM", id: null }, payload: { user_id: "u1" } }], T),
      );
      // In the range as text ("2026-10-20 " sorts between the bounds), yet no date.
      await t.db.$executeRawUnsafe(
        `UPDATE "LedgerEntry" SET "createdAt" = '2026-10-20 not a time' WHERE "tenantId" = ? AND "seq" = ?`,
        bad.id,
        entry?.seq,
      );
      const scanner = openLedgerScanner(t.url);
      try {
        const read = async () => {
          for await (const _ of scanner.chunks(bad.id, { from: FROM, to: TO, accountId: null, maxSeq: entry?.seq ?? 0 }, "csv", 1000));
        };
        await expect(read()).rejects.toBeInstanceOf(ExportEncodingError);
      } finally {
        await scanner.close();
      }
    });
});
