import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { describe, expect, it } from "vitest";
import {
  CSV_HEADER_V1,
  checkExportRange,
  csvLine,
  EXPORT_COLUMNS_V1,
  EXPORT_LIMITS,
  type ExportEntry,
  exportRateDecision,
  jsonLine,
} from "@/server/engine/auditExport";

const DAY = 86_400_000;
const t0 = new Date("2026-10-01T00:00:00.000Z");
const at = (ms: number) => new Date(t0.getTime() + ms);

describe("audit export range cap", () => {
  it("accepts up to 92 days and refuses more, or a range that does not move forward, on `to`", () => {
    expect(checkExportRange(t0, at(EXPORT_LIMITS.maxRangeDays * DAY))).toEqual({ ok: true });
    expect(checkExportRange(t0, at(1))).toEqual({ ok: true });
    expect(checkExportRange(t0, at(EXPORT_LIMITS.maxRangeDays * DAY + 1))).toMatchObject({ ok: false, field: "to" });
    expect(checkExportRange(t0, t0)).toMatchObject({ ok: false, field: "to", message: "to must be after from" });
    expect(checkExportRange(t0, at(-DAY))).toMatchObject({ ok: false, field: "to" });
  });
});

describe("audit export rate limit", () => {
  const now = at(2 * 3600_000);
  it("lets the fifth request of the window through and refuses the sixth until the oldest leaves the window", () => {
    const four = [at(3600_000 + 1000), at(3600_000 + 2000), at(3600_000 + 3000), at(3600_000 + 4000)];
    expect(exportRateDecision(four, now)).toEqual({ ok: true });
    const five = [...four, at(3600_000 + 5000)];
    // the oldest (one hour + 1 s after t0) leaves the window one hour later: 1 s after now
    expect(exportRateDecision(five, now)).toEqual({ ok: false, retryAfterSeconds: 1 });
    const seven = [at(3600_000 + 500), at(3600_000 + 600), ...five];
    // with seven in the window, three must leave: the third oldest decides
    expect(exportRateDecision(seven, now)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // six: two must leave, so the second oldest decides (3 s after t0 + 1 h → 3 s from now)
    expect(exportRateDecision([...five.slice(1), at(3600_000 + 60_000), at(3600_000 + 70_000)], now)).toEqual({
      ok: false,
      retryAfterSeconds: 3,
    });
  });
});

describe("audit export rows", () => {
  const e: ExportEntry = {
    seq: 7,
    createdAt: t0.toISOString(),
    type: "SIGNAL_RECEIVED",
    accountId: null,
    correlationId: "c1",
    actorType: "SYSTEM",
    actorId: null,
    payload: '{"note":"a \\"q\\", x\\nline","n":1}',
    prevHash: "p".repeat(64),
    hash: "h".repeat(64),
  };
  it("a CSV line round-trips through csv-parse in schema v1 order, payload byte for byte", () => {
    const [header, row] = parse(CSV_HEADER_V1 + csvLine(e)) as string[][];
    expect(header).toEqual([...EXPORT_COLUMNS_V1]);
    expect(row).toEqual(["7", "2026-10-01T00:00:00.000Z", "SIGNAL_RECEIVED", "", "c1", "SYSTEM", "", e.payload, e.prevHash, e.hash]);
  });
  it("hostile fields are quoted exactly as csv-stringify quotes them and parse back unchanged", () => {
    const hostile = [
      '{"a":"x"}',
      "a,b",
      'say "hi"',
      '""',
      "line1\nline2",
      "cr\r",
      "crlf\r\nend",
      ",",
      '"',
      "\n",
      " lead and trail ",
      'ünïcødé — 日本語 🚀, "q"',
      "=SUM(A1)",
      "",
      "'",
      "tab\tsep",
      "\u2028sep\u2029",
    ];
    for (const v of hostile) {
      const h: ExportEntry = { ...e, type: v, accountId: v, correlationId: v, actorType: v, actorId: v, payload: v, prevHash: v, hash: v };
      const line = csvLine(h);
      const rec = [h.seq, h.createdAt, v, v, v, v, v, v, v, v];
      expect(line, JSON.stringify(v)).toBe(stringify([rec]));
      expect(parse(line, { relax_column_count: false }), JSON.stringify(v)).toEqual([rec.map(String)]);
    }
    expect(CSV_HEADER_V1).toBe(stringify([[...EXPORT_COLUMNS_V1]]));
  });
  it("a JSON line parses to the same keys, nulls kept, the payload embedded as the stored JSON", () => {
    const line = jsonLine(e);
    expect(line.endsWith("\n")).toBe(true);
    const o = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual([...EXPORT_COLUMNS_V1]);
    expect(o).toMatchObject({ seq: 7, account_id: null, actor_id: null, payload: { note: 'a "q", x\nline', n: 1 } });
    expect(line).toContain(`"payload":${e.payload},`);
  });
});
