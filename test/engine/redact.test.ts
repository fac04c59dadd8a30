import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "@/server/engine/canonical";
import { displayUrl, MAY_HOLD_SECRET, REDACTED, redactSecrets, redactText, TEXT_PATTERNS, urlCarriesSecret } from "@/server/engine/redact";
import { prune, readStoredJson, TOO_DEEP } from "@/server/engine/storedJson";

const API_KEY = "apk_ABCDEFGHIJKL_s3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3t";

describe("redactText's screen (MAY_HOLD_SECRET)", () => {
  it("never lets through a text that one of the patterns would change (property over secret-ish fragments)", () => {
    const fragments = [
      "apk_abcdefghijkl_secretsecret",
      "whsec_12345678abc",
      "sk-abcdefgh1234",
      "sk-ant-api03-xyz12345",
      "xoxb-12345678-abc",
      "Bearer abcdefgh",
      "basic Zm9vOmJhcg==",
      "https://user:pw@host.example/x?token=abc",
      "postgres://a:b@db/x",
      "password=hunter2",
      "token: abc",
      'api_key": "k123"',
      ":",
      "=",
      "://",
      "apk",
      "sk",
      "xox",
      "bear",
      "_",
      "-",
      " ",
    ];
    const text = fc
      .array(fc.oneof(fc.constantFrom(...fragments), fc.string({ maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 6 })), {
        maxLength: 8,
      })
      .map((parts) => parts.join(""));
    let screened = 0;
    let scanned = 0;
    fc.assert(
      fc.property(text, (t) => {
        let full = t;
        for (const [pattern, replacement] of TEXT_PATTERNS)
          full = full.replace(pattern, replacement as (substring: string, ...args: string[]) => string);
        if (MAY_HOLD_SECRET.test(t)) scanned++;
        else {
          screened++;
          expect(full).toBe(t); // screened out ⇒ no pattern had anything to change
        }
        expect(redactText(t)).toBe(full);
      }),
      { numRuns: 3000 },
    );
    // Both branches were reached.
    expect(screened).toBeGreaterThan(100);
    expect(scanned).toBeGreaterThan(100);
  });
});

describe("redactSecrets (the one redactor)", () => {
  it("leaves harmless fields whose names merely mention tokens or keys alone", () => {
    const harmless = {
      tokens_today: 1200,
      token_count: 3,
      max_tokens_per_day: 50_000,
      api_key_id: "clx0api0key0id",
      apiKeyId: "clx0api0key0id",
      secret_rotated: true,
      dedupe_key: "crm:42",
      idempotency_key: "run-7",
      password_set: false,
      note: "the token budget was raised",
    };
    expect(redactSecrets(harmless)).toEqual(harmless);
  });

  it("redacts values under secret-naming keys at any depth, whatever they look like", () => {
    expect(
      redactSecrets({
        password: "hunter2",
        nested: { client_secret: "abc", apiKey: "short", ok: 1 },
        list: [{ token: "t" }, { authorization: "Basic Zm9vOmJhcg==" }],
        credentials: { user: "u", pin: 1234 },
      }),
    ).toEqual({
      password: REDACTED,
      nested: { client_secret: REDACTED, apiKey: REDACTED, ok: 1 },
      list: [{ token: REDACTED }, { authorization: REDACTED }],
      credentials: { user: REDACTED, pin: REDACTED },
    });
  });

  it("redacts secret-looking values under harmless keys: our API keys (prefix kept), bearer tokens, provider keys", () => {
    const out = redactSecrets({
      note: `use ${API_KEY} please`,
      header: "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
      provider: "key sk-ant-api03-AAAABBBBCCCCDDDD failed",
      hook: "whsec_0123456789abcdefghij",
    }) as Record<string, string>;
    expect(out.note).toBe(`use apk_ABCDEFGHIJKL_${REDACTED} please`);
    expect(out.header).toBe(`Bearer ${REDACTED}`);
    expect(out.provider).not.toContain("AAAABBBB");
    expect(out.hook).toBe(REDACTED);
    expect(JSON.stringify(out)).not.toMatch(/s3cr3t|eyJhbGci|whsec_0/);
  });

  it("redacts URL credentials and token-bearing URLs, keeps ordinary URLs", () => {
    expect(redactText("connect postgres://app:hunter2@db:5432/x failed")).toBe(`connect postgres://${REDACTED}@db:5432/x failed`);
    const slack = redactText("posting to https://hooks.slack.com/services/T000/B000/XYZabc123XYZabc123XYZ.");
    expect(slack).toMatch(/^posting to https:\/\/hooks\.slack\.com\/… \(sha256:[0-9a-f]{8}\)\.$/);
    expect(redactText("see https://crm.example.com/cb?access_token=abc123&x=1")).not.toContain("abc123");
    expect(redactText("docs at https://example.com/guide/setup")).toBe("docs at https://example.com/guide/setup");
    const news = "https://news.example.com/2026/acme-raises-series-b-12345678/550e8400-e29b-41d4-a716-446655440000";
    expect(redactText(news)).toBe(news);
    expect(redactText("https://crm.example.com/hooks/Zx9kQ2mN7pL4vR8tY1wB")).toMatch(/^https:\/\/crm\.example\.com\/… \(sha256:/);
    expect(redactText("https://crm.example.com/hooks/9f86d081884c7d659a2feaa0c55ad015")).toMatch(/\(sha256:/);
    expect(redactText("password=swordfish; tokens_today=5")).toBe(`password=${REDACTED}; tokens_today=5`);
  });

  it("displayUrl shows the host and a stable fingerprint, never the path or query", () => {
    const a = displayUrl("https://hooks.slack.com/services/T/B/XYZ");
    expect(a).toMatch(/^https:\/\/hooks\.slack\.com\/… \(sha256:[0-9a-f]{8}\)$/);
    expect(a).not.toContain("XYZ");
    expect(displayUrl("https://hooks.slack.com/services/T/B/XYZ")).toBe(a);
    expect(displayUrl("https://hooks.slack.com/services/T/B/XYW")).not.toBe(a);
    expect(displayUrl("https://example.com/")).toBe("https://example.com");
    expect(urlCarriesSecret("https://x.test/hook?token=1")).toBe(true);
    expect(urlCarriesSecret("https://x.test/hook?page=1")).toBe(false);
  });

  it("keeps `__proto__` and `constructor` keys as plain data and survives hostile nesting", () => {
    const hostile = JSON.parse('{"__proto__":{"polluted":1},"constructor":"c","toString":"t"}');
    const out = redactSecrets(hostile) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(["__proto__", "constructor", "toString"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    let deep: unknown = "x";
    for (let i = 0; i < 20_000; i++) deep = { a: deep };
    expect(() => redactSecrets(deep)).not.toThrow();
  });

  it("never changes a value that has nothing secret in it (property)", () => {
    const safeKey = fc.string({ maxLength: 12 }).filter((k) => !/pass|secret|token|key|auth|cookie|cred|url/i.test(k));
    const safeString = fc.string({ maxLength: 30 }).filter((s) => !/[:=@/]|apk_|sk-|whsec_|xox|bearer|basic/i.test(s));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        safeString,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("node"), { maxLength: 4 }),
        fc.dictionary(safeKey, tie("node"), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(redactSecrets(v))).toBe(canonicalJson(v));
      }),
    );
  });
});

describe("readStoredJson (readers of stored JSON)", () => {
  it("never throws: unparsable text and hostile nesting degrade to a marker", () => {
    expect(readStoredJson("{not json")).toEqual({ unreadable: true, note: "stored JSON could not be parsed" });
    const deep = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;
    let v = readStoredJson(deep) as Record<string, unknown>;
    let depth = 1;
    while (typeof v.a === "object") {
      v = v.a as Record<string, unknown>;
      depth++;
    }
    expect(v.a).toBe(TOO_DEEP);
    expect(depth).toBe(24);
    expect(() => JSON.stringify(readStoredJson(deep))).not.toThrow();
  });

  it("returns shallow values unchanged (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), (v) => {
        expect(prune(v)).toEqual(v);
      }),
    );
  });
});
