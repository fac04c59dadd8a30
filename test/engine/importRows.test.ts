import { parse as browserParse } from "csv-parse/browser/esm/sync";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { type CsvParseFn, mapHeader, parseDay, parseMoney, prepareFile, readCsv, validateRecords } from "@/server/engine/importRows";

const nodeParse = parse as unknown as CsvParseFn;

function lines(text: string, p: CsvParseFn = nodeParse) {
  const f = readCsv(text, p);
  if (!f.ok) throw new Error(f.error.message);
  return [f.header?.line, ...f.records.map((r) => r.line)];
}

function validate(kind: "accounts" | "contacts" | "opportunities", text: string) {
  const f = prepareFile(kind, text, nodeParse);
  if (!f.ok) throw new Error(`${f.error.column}: ${f.error.message}`);
  return validateRecords(kind, f.header, f.index, f.records).results;
}

const errorsOf = (results: ReturnType<typeof validate>) => results.flatMap((r) => (r.result.ok ? [] : r.result.errors));

describe("readCsv: real line numbers", () => {
  const lf = 'external_id,name,notes\na1,"Multi\nline\nfield",x\n\na2,ok,\na3,"q ""x""",y\n';
  it("counts lines of multi-line quoted fields and blank lines (LF)", () => {
    expect(lines(lf)).toEqual([1, 2, 6, 7]);
  });
  it("gives the same lines for CRLF, a BOM, and no trailing newline", () => {
    const crlf = `\uFEFF${lf.replace(/\n/g, "\r\n").replace(/\r\n$/, "")}`;
    expect(lines(crlf)).toEqual([1, 2, 6, 7]);
  });
  it("counts a lone CR as a line break (old Mac files)", () => {
    expect(lines("external_id,name\ra1,x\r\ra2,y")).toEqual([1, 2, 4]);
  });
  it("handles multi-byte characters before a multi-line field (byte offsets, not chars)", () => {
    expect(lines('external_id,name\nü1,"Zoë 𝕏\r\nsecond"\nü2,x\n')).toEqual([1, 2, 4]);
  });
  it("the browser build reports the same lines as the server build", () => {
    const text = '\uFEFFexternal_id,name\r\na1,"a\r\nb"\r\n\r\na2,c\r\n';
    expect(lines(text, browserParse as unknown as CsvParseFn)).toEqual(lines(text));
    expect(lines(text)).toEqual([1, 2, 5]);
  });
  it("skips rows whose cells are all empty", () => {
    expect(lines("external_id,name\n,\na1,x\n")).toEqual([1, 3]);
  });
  it("refuses an unclosed quote, naming the line it starts on", () => {
    const f = readCsv('external_id,name\na1,x\na2,"never closed\na3,y\n', nodeParse);
    expect(f.ok).toBe(false);
    if (!f.ok) expect(f.error.line).toBe(3);
  });
  it("keeps a stray quote inside an unquoted field literally", () => {
    const f = readCsv('external_id,name\na1,5" screen\n', nodeParse);
    expect(f.ok && f.records[0]?.values).toEqual(["a1", '5" screen']);
  });
});

describe("mapHeader", () => {
  it("is case-insensitive and reports unknown columns", () => {
    const h = mapHeader("accounts", { line: 1, values: ["External_ID", " NAME ", "Owner Email", "favourite colour"] });
    expect(h).toEqual({ ok: true, index: { external_id: 0, name: 1, owner_email: 2 }, unknown: ["favourite colour"] });
  });
  it("refuses a file without a required column, naming it", () => {
    const h = mapHeader("contacts", { line: 1, values: ["external_id", "name"] });
    expect(h).toMatchObject({ ok: false, error: { column: "account_external_id" } });
    expect(mapHeader("accounts", { line: 1, values: ["external_id", "name"] }).ok).toBe(true);
  });
  it("refuses a column given twice, and an empty file", () => {
    expect(mapHeader("accounts", { line: 1, values: ["external_id", "name", "Name"] })).toMatchObject({
      ok: false,
      error: { column: "name" },
    });
    expect(mapHeader("accounts", null).ok).toBe(false);
  });
});

describe("validateRecords", () => {
  it("types good rows and names every bad cell by line and column", () => {
    const results = validate(
      "accounts",
      [
        "external_id,name,owner_email,lifecycle,posture,arr,domain",
        'a1,"Acme\nInc",o@x.test,customer,At risk,1200.50,ACME.test',
        "a2,Beta,not-an-email,ALIEN,OK,-5,",
        "a3,,x@y.test,PROSPECT,WATCH,12abc,",
        `a4,${"n".repeat(201)},,,,,`,
        "a1,Dup,,,,,",
      ].join("\n"),
    );
    expect(results[0]?.result).toEqual({
      ok: true,
      row: {
        line: 2,
        externalId: "a1",
        name: "Acme\nInc",
        domain: "acme.test",
        ownerEmail: "o@x.test",
        lifecycle: "CUSTOMER",
        posture: "AT_RISK",
        arrCents: 120050,
      },
    });
    expect(errorsOf(results).map((e) => [e.line, e.column])).toEqual([
      [4, "owner_email"],
      [4, "lifecycle"],
      [4, "arr"],
      [5, "name"],
      [5, "arr"],
      [6, "name"],
      [7, "external_id"],
    ]);
    expect(errorsOf(results).at(-1)?.message).toContain("first on line 2");
  });

  it("checks stages, amounts and real calendar dates for opportunities", () => {
    const results = validate(
      "opportunities",
      [
        "external_id,account_external_id,name,stage,amount,close_date",
        "o1,a1,Deal,proposal,500,2026-02-28",
        "o2,a1,Deal,WON,5e3,2026-02-30",
        "o3,a1,Deal,QUALIFY,,2026-13-01",
      ].join("\n"),
    );
    expect(results[0]?.result).toMatchObject({
      ok: true,
      row: { stage: "PROPOSAL", amountCents: 50000, closeDate: new Date("2026-02-28") },
    });
    expect(errorsOf(results).map((e) => [e.line, e.column])).toEqual([
      [3, "stage"],
      [3, "amount"],
      [3, "close_date"],
      [4, "close_date"],
    ]);
  });

  it("refuses NUL characters and rows wider than the header", () => {
    const results = validate("contacts", "external_id,account_external_id,name\nc1,a1,Nul\u0000name\nc2,a1,x,extra\nc3,a1,ok");
    expect(errorsOf(results).map((e) => [e.line, e.column])).toEqual([
      [2, "name"],
      [3, ""],
    ]);
    expect(results[2]?.result.ok).toBe(true);
  });

  it("money and dates: exact cents, no negatives, no floats drift", () => {
    expect(parseMoney("0.1")).toBe(10);
    expect(parseMoney("19.99")).toBe(1999);
    expect(parseMoney("-1")).toBe("must not be negative");
    expect(typeof parseMoney("1,000")).toBe("string");
    expect(parseDay("2024-02-29")).toEqual(new Date(Date.UTC(2024, 1, 29)));
    expect(typeof parseDay("2023-02-29")).toBe("string");
  });

  it("refuses more rows than the limit", () => {
    const f = prepareFile("accounts", "external_id,name\na,b\nc,d\ne,f\n", nodeParse, 2);
    expect(f).toMatchObject({ ok: false, error: { message: expect.stringContaining("at most 2") } });
  });
});
