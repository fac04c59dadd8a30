import { createHash } from "node:crypto";
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

describe("ChainVerifier (property: every kind of single-row tamper is detected and located)", () => {
  const TAMPERS = [
    "edit-payload",
    "edit-hashed-field",
    "forge-and-rehash",
    "relink",
    "delete-middle",
    "renumber",
    "delete-tail",
    "rewrite-head",
  ] as const;
  type Tamper = (typeof TAMPERS)[number];
  const FIELDS = ["tenantId", "accountId", "correlationId", "type", "actorType", "actorId", "createdAt"] as const;

  /**
   * Apply one tamper to a copy of an intact chain of n rows at index i. Returns the rows, the head,
   * and what the verifier must say: the problem, the entry (seq, and id unless it was cut off the
   * end), and how many entries verified before it.
   */
  function tamper(entries: StoredEntry[], kind: Tamper, i: number, field: (typeof FIELDS)[number]) {
    const n = entries.length;
    const rows = entries.map((e) => ({ ...e }));
    let head = headOf(entries);
    const target = rows[i] as StoredEntry;
    const id = (k: number) => `e${k + 1}`;
    switch (kind) {
      case "edit-payload":
        rows[i] = { ...target, payload: canonicalJson({ tampered: target.payload }) };
        return { rows, head, problem: "HASH_MISMATCH", seq: i + 1, id: id(i), verified: i };
      case "edit-hashed-field": {
        const edited =
          field === "createdAt"
            ? { createdAt: new Date(target.createdAt.getTime() + 1) }
            : { [field]: `${(target as unknown as Record<string, string | null>)[field] ?? ""}x` };
        rows[i] = { ...target, ...edited };
        return { rows, head, problem: "HASH_MISMATCH", seq: i + 1, id: id(i), verified: i };
      }
      case "forge-and-rehash": {
        // A forger who recomputes the row's hash: the next row (or the head) no longer links to it.
        const payload = canonicalJson({ forged: i });
        rows[i] = { ...target, payload, hash: entryHash(target.prevHash, { ...target, payload }) };
        return i + 1 < n
          ? { rows, head, problem: "BROKEN_LINK", seq: i + 2, id: id(i + 1), verified: i + 1 }
          : { rows, head, problem: "TRUNCATED_TAIL", seq: n + 1, id: null, verified: n };
      }
      case "relink":
        rows[i] = { ...target, prevHash: "f".repeat(64) };
        return { rows, head, problem: "BROKEN_LINK", seq: i + 1, id: id(i), verified: i };
      case "delete-middle":
        rows.splice(i, 1);
        return i + 1 < n
          ? { rows, head, problem: "SEQUENCE_GAP", seq: i + 2, id: id(i + 1), verified: i }
          : { rows, head, problem: "TRUNCATED_TAIL", seq: n, id: null, verified: n - 1 };
      case "renumber":
        rows[i] = { ...target, seq: target.seq + 100 };
        return { rows, head, problem: "SEQUENCE_GAP", seq: i + 101, id: id(i), verified: i };
      case "delete-tail":
        rows.splice(i);
        return { rows, head, problem: "TRUNCATED_TAIL", seq: i + 1, id: null, verified: i };
      case "rewrite-head":
        head = { seq: head.seq, hash: `${"0".repeat(63)}1` };
        return { rows, head, problem: "TRUNCATED_TAIL", seq: n + 1, id: null, verified: n };
    }
  }

  it("reports the expected problem at the expected entry, and every problem kind is reached", () => {
    const reached: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { minLength: 1, maxLength: 12 }),
        fc.constantFrom(...TAMPERS),
        fc.nat(),
        fc.constantFrom(...FIELDS),
        (payloads, kind, pick, field) => {
          const entries = chain(payloads);
          const { rows, head, problem, seq, id, verified } = tamper(entries, kind, pick % entries.length, field);
          const v = verify(rows, head);
          expect(v).toMatchObject({ ok: false, problem, at: { seq, id }, entries: verified });
          if (!v.ok) expect(v.detail.length).toBeGreaterThan(10);
          reached[problem] = (reached[problem] ?? 0) + 1;
          reached[kind] = (reached[kind] ?? 0) + 1;
        },
      ),
      { numRuns: 1500 },
    );
    for (const k of ["HASH_MISMATCH", "BROKEN_LINK", "SEQUENCE_GAP", "TRUNCATED_TAIL", ...TAMPERS]) {
      expect(reached[k] ?? 0, `${k} never reached`).toBeGreaterThan(0);
    }
  });

  it("push answers false for the row that breaks the chain, whatever the problem", () => {
    const entries = chain([1, 2]);
    const pushSecond = (second: StoredEntry) => {
      const v = new ChainVerifier();
      expect(v.push(entries[0] as StoredEntry)).toBe(true);
      return v.push(second);
    };
    expect(pushSecond(entries[1] as StoredEntry)).toBe(true);
    expect(pushSecond({ ...(entries[1] as StoredEntry), seq: 3 })).toBe(false);
    expect(pushSecond({ ...(entries[1] as StoredEntry), prevHash: GENESIS_HASH })).toBe(false);
    expect(pushSecond({ ...(entries[1] as StoredEntry), payload: "0" })).toBe(false);
  });

  it("a head that claims more entries than verify is a truncated tail, even with the last hash", () => {
    const entries = chain([1, 2, 3]);
    const last = entries[2] as StoredEntry;
    expect(verify(entries, { seq: 4, hash: last.hash })).toMatchObject({ ok: false, problem: "TRUNCATED_TAIL", at: { seq: 4, id: null } });
  });

  it("stops at the first problem: push refuses everything after it, finish returns that problem", () => {
    const entries = chain([1, 2, 3, 4]);
    const v = new ChainVerifier();
    expect(v.push(entries[0] as StoredEntry)).toBe(true);
    expect(v.push({ ...(entries[1] as StoredEntry), payload: "{}" })).toBe(false);
    expect(v.push(entries[2] as StoredEntry)).toBe(false);
    expect(v.finish(headOf(entries))).toMatchObject({ ok: false, problem: "HASH_MISMATCH", entries: 1, at: { seq: 2, id: "e2" } });
  });

  it("an empty chain verifies against no head or a zero head, not against a head that remembers entries", () => {
    expect(new ChainVerifier().finish(null)).toEqual({ ok: true, entries: 0, headHash: GENESIS_HASH });
    expect(new ChainVerifier().finish({ seq: 0, hash: "" })).toEqual({ ok: true, entries: 0, headHash: GENESIS_HASH });
    expect(new ChainVerifier().finish({ seq: 1, hash: "a".repeat(64) })).toMatchObject({
      ok: false,
      problem: "TRUNCATED_TAIL",
      at: { seq: 1, id: null },
      detail: "the chain head records 1 entries but 0 verify; entry #1 onward is missing or altered",
    });
  });

  it("a verified chain reports its length and the last hash", () => {
    const entries = chain([{ a: 1 }, [2], "3"]);
    expect(verify(entries, headOf(entries))).toEqual({ ok: true, entries: 3, headHash: entries[2]?.hash });
  });
});

describe("entryHash", () => {
  const base = {
    tenantId: "t1",
    seq: 1,
    accountId: null,
    correlationId: "c",
    type: "SIGNAL_RECEIVED",
    actorType: "SYSTEM",
    actorId: null,
    payload: "{}",
    createdAt: new Date("2026-01-01T00:00:00Z"),
  };
  it("is a sha256 of prev_hash, a newline and the canonical entry (reproducible by anyone)", () => {
    const body = canonicalJson({ ...base, createdAt: base.createdAt.toISOString() });
    const expected = createHash("sha256").update(GENESIS_HASH).update("\n").update(body).digest("hex");
    expect(entryHash(GENESIS_HASH, base)).toBe(expected);
    expect(GENESIS_HASH).toBe("0".repeat(64));
  });
  it("hashes exactly the canonical JSON of the nine fields, for any values they can hold (property)", () => {
    const text = fc.string({ unit: "grapheme-composite", maxLength: 40 });
    let withNulls = 0;
    fc.assert(
      fc.property(
        fc.record({
          tenantId: text,
          seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          accountId: fc.option(text),
          correlationId: text,
          type: text,
          actorType: text,
          actorId: fc.option(text),
          payload: fc.oneof(
            text,
            fc.jsonValue().map((v) => canonicalJson(v)),
          ),
          createdAt: fc.date({ min: new Date(0), max: new Date("2200-01-01T00:00:00Z"), noInvalidDate: true }),
        }),
        fc.stringMatching(/^[0-9a-f]{64}$/),
        (fields, prev) => {
          if (fields.accountId === null || fields.actorId === null) withNulls++;
          const body = canonicalJson({ ...fields, createdAt: fields.createdAt.toISOString() });
          expect(entryHash(prev, fields)).toBe(createHash("sha256").update(prev).update("\n").update(body).digest("hex"));
        },
      ),
      { numRuns: 500 },
    );
    expect(withNulls).toBeGreaterThan(0); // the null branches were reached
  });
  it("changes when any hashed field or the previous hash changes", () => {
    const h = entryHash(GENESIS_HASH, base);
    const variants: Partial<typeof base>[] = [
      { tenantId: "t2" },
      { seq: 2 },
      { accountId: "a" } as never,
      { correlationId: "d" },
      { type: "X" },
      { actorType: "USER" },
      { actorId: "u" } as never,
      { payload: '{"a":1}' },
      { createdAt: new Date("2026-01-01T00:00:00.001Z") },
    ];
    for (const v of variants) expect(entryHash(GENESIS_HASH, { ...base, ...v }), JSON.stringify(v)).not.toBe(h);
    expect(entryHash("1".repeat(64), base)).not.toBe(h);
  });
});

describe("redactSecrets (credential-named keys)", () => {
  it("redacts scalar values under credential names in any case and spelling, at any depth, keeps Dates and non-secrets", () => {
    const when = new Date("2026-01-01T00:00:00Z");
    const out = redactSecrets({
      Password: "p",
      pass: "p",
      client_secret: "s",
      accessToken: "t",
      api_key: "k",
      "api-key": "k",
      Authorization: "Bearer x",
      cookie: "c",
      private_key: "pk",
      privateKey: "pk",
      when,
      n: 3,
      list: [{ secret: 1 }, "plain"],
      secretHolder: { value: "inner" },
      token: null,
    }) as Record<string, unknown>;
    for (const k of [
      "Password",
      "pass",
      "client_secret",
      "accessToken",
      "api_key",
      "api-key",
      "Authorization",
      "cookie",
      "private_key",
      "privateKey",
    ]) {
      expect(out[k], k).toBe("[REDACTED]");
    }
    expect(out.when).toBe(when);
    expect(out.n).toBe(3);
    expect(out.list).toEqual([{ secret: "[REDACTED]" }, "plain"]);
    // an object under a secret-looking name is searched, not blanked; null stays null
    expect(out.secretHolder).toEqual({ value: "inner" });
    expect(out.token).toBeNull();
    expect(redactSecrets("plain")).toBe("plain");
    expect(redactSecrets(null)).toBeNull();
  });
});

describe("ChainVerifier details (what `cli ledger verify` and the explorer print)", () => {
  it("names the expected and found entry, the broken link, the edit and the missing tail", () => {
    const entries = chain([1, 2, 3]);
    const head = headOf(entries);
    const gap = [entries[0], entries[2]] as StoredEntry[];
    expect(verify(gap, head)).toMatchObject({ detail: "expected entry #2, found #3" });
    const relinked = [entries[0], { ...(entries[1] as StoredEntry), prevHash: GENESIS_HASH }] as StoredEntry[];
    expect(verify(relinked, head)).toMatchObject({ detail: "prev_hash does not match the hash of entry #1" });
    const edited = [{ ...(entries[0] as StoredEntry), payload: "2" }] as StoredEntry[];
    expect(verify(edited, head)).toMatchObject({ detail: "content does not match its hash (edited)" });
    expect(verify(entries.slice(0, 2), head)).toMatchObject({
      detail: "the chain head records 3 entries but 2 verify; entry #3 onward is missing or altered",
    });
  });
});
