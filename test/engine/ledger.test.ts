import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "@/server/engine/canonical";
import { ChainVerifier, entryHash, GENESIS_HASH, redactSecrets, type StoredEntry } from "@/server/engine/ledger";

function chain(payloads: unknown[]): StoredEntry[] {
  const out: StoredEntry[] = [];
  let prev = GENESIS_HASH;
  payloads.forEach((p, i) => {
    const fields = {
      tenantId: "t1",
      seq: i + 1,
      accountId: i % 2 ? "acc" : null,
      correlationId: `c${i}`,
      type: "SIGNAL_RECEIVED",
      actorType: "SYSTEM",
      actorId: "test",
      payload: canonicalJson(p),
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
    };
    const hash = entryHash(prev, fields);
    out.push({ ...fields, id: `e${i + 1}`, prevHash: prev, hash });
    prev = hash;
  });
  return out;
}

function verify(entries: StoredEntry[], head: { seq: number; hash: string } | null) {
  const v = new ChainVerifier();
  for (const e of entries) if (!v.push(e)) break;
  return v.finish(head);
}

const headOf = (entries: StoredEntry[]) => {
  const last = entries.at(-1);
  return last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: "" };
};

describe("canonicalJson", () => {
  it("sorts keys at every depth and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined, x: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":2,"z":1}]},"b":1}',
    );
  });
  it("is insensitive to key insertion order", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
      }),
    );
  });
  it("refuses values JSON cannot represent exactly", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(TypeError);
  });
});

describe("redactSecrets", () => {
  it("replaces secret-looking keys at any depth and keeps the rest", () => {
    expect(redactSecrets({ name: "x", apiKey: "apk_1", nested: { password: "p", ok: 1 }, list: [{ token: "t" }] })).toEqual({
      name: "x",
      apiKey: "[REDACTED]",
      nested: { password: "[REDACTED]", ok: 1 },
      list: [{ token: "[REDACTED]" }],
    });
  });
});

describe("ChainVerifier", () => {
  it("accepts an untouched chain of any length", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 30 }), (payloads) => {
        const entries = chain(payloads);
        expect(verify(entries, headOf(entries))).toMatchObject({ ok: true, entries: payloads.length });
      }),
    );
  });

  it("detects an edited payload and names that entry", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 20 }), fc.nat(), (payloads, pick) => {
        const entries = chain(payloads);
        const i = pick % entries.length;
        const target = entries[i] as StoredEntry;
        const edited = canonicalJson({ tampered: true, was: target.payload });
        entries[i] = { ...target, payload: edited };
        const v = verify(entries, headOf(chain(payloads)));
        expect(v).toMatchObject({ ok: false, problem: "HASH_MISMATCH", at: { seq: i + 1, id: `e${i + 1}` } });
      }),
    );
  });

  it("detects a deleted middle entry as a sequence gap at the next one", () => {
    const entries = chain([1, 2, 3, 4, 5]);
    const head = headOf(entries);
    entries.splice(2, 1);
    expect(verify(entries, head)).toMatchObject({ ok: false, problem: "SEQUENCE_GAP", at: { seq: 4, id: "e4" } });
  });

  it("detects a deleted tail through the head", () => {
    const entries = chain([1, 2, 3]);
    const head = headOf(entries);
    entries.pop();
    expect(verify(entries, head)).toMatchObject({ ok: false, problem: "TRUNCATED_TAIL", at: { seq: 3, id: null } });
  });

  it("detects re-ordering (swapped seq numbers)", () => {
    const entries = chain([1, 2, 3, 4]);
    const head = headOf(entries);
    const a = entries[1] as StoredEntry;
    const b = entries[2] as StoredEntry;
    entries[1] = { ...b, seq: 2 };
    entries[2] = { ...a, seq: 3 };
    expect(verify(entries, head)).toMatchObject({ ok: false, at: { seq: 2 } });
  });

  it("detects a re-hashed entry whose successor still links to the original", () => {
    const entries = chain([1, 2, 3]);
    const head = headOf(entries);
    const e = entries[0] as StoredEntry;
    const payload = canonicalJson({ forged: true });
    entries[0] = { ...e, payload, hash: entryHash(e.prevHash, { ...e, payload }) };
    expect(verify(entries, head)).toMatchObject({ ok: false, problem: "BROKEN_LINK", at: { seq: 2 } });
  });
});
