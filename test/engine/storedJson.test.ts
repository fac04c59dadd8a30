import { describe, expect, it } from "vitest";
import { prune, readStoredJson, STORED_JSON_MAX_DEPTH, storedObject, TOO_DEEP } from "@/server/engine/storedJson";

/**
 * Readers of JSON stored earlier (ledger payloads, evidence) never throw and answer a documented
 * fallback: null for a missing column, a readable "unreadable" note for text that is not JSON, and
 * a visible marker in place of anything nested deeper than the display limit.
 */

const UNREADABLE = { unreadable: true, note: "stored JSON could not be parsed" };

function depthOf(v: unknown): number {
  let depth = 0;
  let cur = v;
  while (cur !== null && typeof cur === "object") {
    depth++;
    cur = Array.isArray(cur) ? cur[0] : (cur as Record<string, unknown>).a;
  }
  return depth;
}

describe("readStoredJson", () => {
  it("reads a missing column (null or undefined) as null, not as unreadable", () => {
    expect(readStoredJson(null)).toBeNull();
    expect(readStoredJson(undefined)).toBeNull();
  });

  it("reads text that is not JSON as the unreadable note, never throwing", () => {
    for (const bad of ["", "{", "undefined", "{'a':1}", "NaN"]) expect(readStoredJson(bad)).toEqual(UNREADABLE);
  });

  it("reads JSON scalars and shallow values as they are", () => {
    expect(readStoredJson("null")).toBeNull();
    expect(readStoredJson("3")).toBe(3);
    expect(readStoredJson('"x"')).toBe("x");
    expect(readStoredJson('{"a":[1,{"b":null}],"c":"d"}')).toEqual({ a: [1, { b: null }], c: "d" });
  });

  it("caps deep arrays as well as deep objects, at the documented depth", () => {
    const arrays = `${"[".repeat(3000)}1${"]".repeat(3000)}`;
    const v = readStoredJson(arrays);
    expect(depthOf(v)).toBe(STORED_JSON_MAX_DEPTH);
    let cur = v as unknown[];
    for (let i = 1; i < STORED_JSON_MAX_DEPTH; i++) cur = cur[0] as unknown[];
    expect(cur).toEqual([TOO_DEEP]);
    expect(() => JSON.stringify(v)).not.toThrow();
  });

  it("honours a caller's smaller limit, and keeps values at exactly the limit", () => {
    expect(readStoredJson('{"a":{"a":{"a":1}}}', 2)).toEqual({ a: { a: TOO_DEEP } });
    expect(readStoredJson('{"a":{"a":{"a":1}}}', 3)).toEqual({ a: { a: { a: 1 } } });
    expect(readStoredJson("[[[1]]]", 2)).toEqual([[TOO_DEEP]]);
  });

  it("shows the cut as readable text, not as an empty value", () => {
    expect(TOO_DEEP).toMatch(/too deep/);
  });

  it("keeps a `__proto__` key as plain data without touching the prototype", () => {
    const v = readStoredJson('{"__proto__":{"polluted":1},"k":2}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(["__proto__", "k"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("prune", () => {
  it("copies, never aliases, so a caller editing the result cannot edit the source", () => {
    const src = { a: [1, 2], b: { c: 3 } };
    const out = prune(src) as typeof src;
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
    expect(out.a).not.toBe(src.a);
    out.b.c = 4;
    expect(src.b.c).toBe(3);
  });
});

describe("storedObject", () => {
  it("answers the stored object for code that reads fields from it", () => {
    expect(storedObject('{"signal_id":"s1","n":2}')).toEqual({ signal_id: "s1", n: 2 });
  });

  it("answers {} for anything that is not an object: null, missing, arrays, scalars", () => {
    for (const text of [null, undefined, "null", "[1,2]", "[]", "3", '"str"', "true"]) {
      expect(storedObject(text), String(text)).toEqual({});
      expect(Array.isArray(storedObject(text))).toBe(false);
    }
  });

  it("answers the unreadable note (an object) for text that is not JSON", () => {
    expect(storedObject("{oops")).toEqual(UNREADABLE);
  });
});
