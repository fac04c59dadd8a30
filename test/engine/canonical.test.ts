import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "@/server/engine/canonical";

/**
 * The canonical text built by hand, as a verifier outside this codebase would: keys in code-unit
 * order (what Array#sort gives), no whitespace. (Checking key order on JSON.parse's result would be
 * wrong: JavaScript objects list integer-like keys first whatever the text says.)
 */
function reference(v: unknown): string {
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (typeof v === "bigint") return JSON.stringify(v.toString());
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : reference(x))).join(",")}]`;
  if (v && typeof v === "object") {
    const keys = Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** Values canonicalJson accepts, including the ones plain JSON has no answer for. */
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.string({ maxLength: 6 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.bigInt(),
    fc.date({ noInvalidDate: true }),
    fc.constant(undefined),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof Date) return "date";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function kinds(v: unknown, out = new Set<string>()): Set<string> {
  out.add(kindOf(v));
  if (Array.isArray(v)) for (const x of v) kinds(x, out);
  else if (v && typeof v === "object" && !(v instanceof Date)) for (const x of Object.values(v)) kinds(x, out);
  return out;
}

describe("canonicalJson (properties)", () => {
  it("is JSON with sorted keys at every depth (matches a hand-built reference), stable when re-read, for every kind of value", () => {
    const reached = new Map<string, number>();
    fc.assert(
      fc.property(valueArb, (v) => {
        if (v === undefined) {
          // a top-level undefined has no JSON text (inside arrays and objects it has one)
          expect(() => canonicalJson(v)).toThrow(new TypeError("canonicalJson: cannot serialise undefined"));
          reached.set("undefined", (reached.get("undefined") ?? 0) + 1);
          return;
        }
        const text = canonicalJson(v);
        expect(text).toBe(reference(v));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        for (const k of kinds(v)) reached.set(k, (reached.get(k) ?? 0) + 1);
      }),
      { numRuns: 1500 },
    );
    for (const k of ["null", "boolean", "string", "number", "bigint", "date", "undefined", "array", "object"]) {
      expect(reached.get(k) ?? 0, `${k} never generated`).toBeGreaterThan(0);
    }
  });

  it("is insensitive to key insertion order at every depth", () => {
    const reverseDeep = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverseDeep)
        : v && typeof v === "object" && !(v instanceof Date)
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverseDeep(x)]),
            )
          : v;
    fc.assert(
      fc.property(valueArb, (v) => {
        expect(canonicalJson({ v: reverseDeep(v) })).toBe(canonicalJson({ v }));
      }),
    );
  });
});

describe("canonicalJson (each kind)", () => {
  it("writes Dates as ISO strings, bigints as strings, undefined array slots as null, and drops undefined keys", () => {
    expect(canonicalJson({ d: new Date("2026-01-02T03:04:05.006Z") })).toBe('{"d":"2026-01-02T03:04:05.006Z"}');
    expect(canonicalJson({ n: 12345678901234567890n })).toBe('{"n":"12345678901234567890"}');
    expect(canonicalJson([1, undefined, null, "x"])).toBe('[1,null,null,"x"]');
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson({ z: { y: [{ b: 2, a: 1 }] }, a: true, m: false })).toBe('{"a":true,"m":false,"z":{"y":[{"a":1,"b":2}]}}');
    expect(canonicalJson("s")).toBe('"s"');
    expect(canonicalJson(0)).toBe("0");
    expect(canonicalJson(null)).toBe("null");
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson([])).toBe("[]");
  });

  it("sorts integer-like keys with the rest (JavaScript objects would list them first)", () => {
    expect(canonicalJson({ b: 1, "10": 2, "": 3, "2": 4 })).toBe('{"":3,"10":2,"2":4,"b":1}');
  });

  it("refuses what JSON cannot represent exactly, naming the kind", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => canonicalJson({ x: [bad] })).toThrow(new TypeError("canonicalJson: non-finite number"));
    }
    expect(() => canonicalJson({ f: () => 1 })).toThrow(new TypeError("canonicalJson: cannot serialise function"));
    expect(() => canonicalJson([Symbol("s")])).toThrow(new TypeError("canonicalJson: cannot serialise symbol"));
  });
});
