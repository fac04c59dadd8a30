import { describe, expect, it } from "vitest";
import { prune, readStoredJson, STORED_JSON_MAX_DEPTH, storedObject, TOO_DEEP } from "@/server/engine/storedJson";

/** Reading stored JSON for display: what a reader sees for absent, odd and too-deep rows (mutation testing, issue 7). */
describe("stored JSON for display", () => {
  it("an absent value reads as null; a stored JSON null as null", () => {
    expect(readStoredJson(undefined)).toBeNull();
    expect(readStoredJson(null)).toBeNull();
    expect(readStoredJson("null")).toBeNull();
  });

  it("below the depth limit a container shows the marker, in arrays as in objects, counting from the top", () => {
    expect(TOO_DEEP).toBe("[nested too deep to show]");
    expect(STORED_JSON_MAX_DEPTH).toBe(24);
    expect(prune([[[1]], 2], 2)).toEqual([[TOO_DEEP], 2]);
    expect(prune({ a: { b: { c: 1 } }, d: [3] }, 2)).toEqual({ a: { b: TOO_DEEP }, d: [3] });
    expect(prune([1, "x", null, true], 1)).toEqual([1, "x", null, true]);
    expect(prune([], 0)).toBe(TOO_DEEP);
    expect(readStoredJson('{"a":{"b":[{"c":1}]}}', 3)).toEqual({ a: { b: [TOO_DEEP] } });
  });

  it("keeps the order of keys and array items", () => {
    const v = prune({ z: 1, a: [3, 2, 1], m: { y: 1, b: 2 } }) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(["z", "a", "m"]);
    expect(v.a).toEqual([3, 2, 1]);
    expect(Object.keys(v.m as object)).toEqual(["y", "b"]);
  });

  it("storedObject: the object a row holds, or {} for anything else", () => {
    expect(storedObject('{"to":"a@b.example","n":2}')).toEqual({ to: "a@b.example", n: 2 });
    for (const text of ["[1,2]", "null", '"text"', "42", "true", null, undefined]) expect(storedObject(text)).toEqual({});
    // Unparseable text reads as the unreadable marker, which has none of the fields a reader looks for.
    expect(storedObject("{broken")).toEqual({ unreadable: true, note: "stored JSON could not be parsed" });
  });
});
