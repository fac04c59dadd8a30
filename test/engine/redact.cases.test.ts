import { describe, expect, it } from "vitest";
import { displayUrl, fingerprint, isSecretKey, REDACTED, redactSecrets, redactText, urlCarriesSecret } from "@/server/engine/redact";

/**
 * The redactor's edges, one claim per test: a secret never survives in any spelling a log line,
 * header dump or connection string uses; a harmless value that merely resembles one is left alone
 * (operators need URLs, file names and counters to stay readable). Written against the surviving
 * mutants of `npm run test:mutation` on server/engine/redact.ts.
 */

const FP = /\(sha256:[0-9a-f]{8}\)/;

describe("redactText: key=value secrets in every spelling", () => {
  it.each([
    ["db_password=hunter2"],
    ["SMTP_PASSWORD=hunter2"],
    ["app-secret: hunter2"],
    ["apikey=hunter2"],
    ["api-key=hunter2"],
    ["api_key=hunter2"],
    ["access_token=hunter2"],
    ["accesstoken=hunter2"],
    ["access-token=hunter2"],
    ["refresh_token=hunter2"],
    ["refreshtoken=hunter2"],
    ["auth_token=hunter2"],
    ["authtoken=hunter2"],
    ["private_key=hunter2"],
    ["privatekey=hunter2"],
    ['"client_secret": "hunter2"'],
    ["token=hunter2"],
    ["Cookie: session=hunter2"],
  ])("%s loses its value, keeps its key", (line) => {
    const out = redactText(`driver error: ${line} (retrying)`);
    expect(out).not.toContain("hunter2");
    expect(out).toContain(REDACTED);
    expect(out.startsWith(`driver error: ${line.slice(0, line.search(/[:=]/))}`)).toBe(true);
  });

  it("leaves counters whose names merely mention a token alone", () => {
    const line = "usage: tokens_today=5 token_count=3 max_tokens=4000";
    expect(redactText(line)).toBe(line);
  });
});

describe("redactText: provider and header credentials", () => {
  it("redacts a Slack token whole, of every Slack token kind", () => {
    for (const kind of ["a", "b", "p", "o", "s", "r"]) {
      const token = `xox${kind}-1234567890-0987654321-AbCdEfGhIjKl`;
      const out = redactText(`slack said invalid_auth for ${token}`);
      expect(out).toBe(`slack said invalid_auth for ${REDACTED}`);
    }
  });

  it("redacts a bearer or basic credential however much whitespace precedes it", () => {
    for (const header of ["Authorization: Bearer  eyJhbGciOiJIUzI1NiJ9.cGF5bG9hZA.c2ln", "Authorization: Basic\tZm9vOmJhcg=="]) {
      const out = redactText(header);
      expect(out).not.toMatch(/eyJhbGci|Zm9vOmJhcg/);
      expect(out).toContain(REDACTED);
    }
    // The scheme stays readable: an operator needs to know which kind of credential was sent.
    expect(redactText("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.cGF5bG9hZA.c2ln")).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactText("authorization=Basic Zm9vOmJhcg==")).toBe(`authorization=Basic ${REDACTED}`);
  });
});

describe("redactText: URLs", () => {
  it("shows a secret-bearing URL in a sentence exactly as displayUrl shows it elsewhere, punctuation outside", () => {
    // The same webhook must carry the same fingerprint in an error message and in CONFIG_CHANGED.
    const url = "https://crm.example.com/cb?access_token=abc123";
    expect(redactText(`posting failed (${url}).`)).toBe(`posting failed (${displayUrl(url)}).`);
    expect(redactText(`posting failed: ${url}!?`)).toBe(`posting failed: ${displayUrl(url)}!?`);
  });

  it("leaves an ordinary URL and the sentence's punctuation exactly as they were", () => {
    for (const s of ["See https://example.com/guide.", "(docs: https://example.com/guide/setup).", "at https://example.com/a, then"]) {
      expect(redactText(s)).toBe(s);
    }
  });

  it("keeps a connection string readable with only its credentials redacted", () => {
    expect(redactText("connect postgres://app:hunter2@db.internal:5432/crm failed")).toBe(
      `connect postgres://${REDACTED}@db.internal:5432/crm failed`,
    );
    expect(redactText("smtp://mailer@smtp.example.com:587")).toBe(`smtp://${REDACTED}@smtp.example.com:587`);
    // A scheme with a digit (s3, not only letters) is a scheme too.
    expect(redactText("s3://AKIAEXAMPLE:hunter2@bucket/backups")).toBe(`s3://${REDACTED}@bucket/backups`);
  });

  it("redacts a URL carrying both credentials and a token parameter down to host and fingerprint", () => {
    const out = redactText("calling https://user:pw@crm.example.com/cb?access_token=abc123 failed");
    expect(out).toMatch(/^calling https:\/\/crm\.example\.com\/… \(sha256:[0-9a-f]{8}\) failed$/);
    expect(out).not.toMatch(/abc123|user|pw@/);
  });

  it("redacts credentials of a URL nested in another URL's query", () => {
    const out = redactText("redirecting to https://app.example.com/login?next=https://admin:hunter2@internal.example.com/");
    expect(out).not.toContain("hunter2");
    expect(out).not.toContain("admin:");
  });

  it.each([
    // Slack, Discord, Teams: the path is the credential even when it does not look random.
    ["https://hooks.slack.com/services/T00000000/B00000000/abcdefghijklmnopqrstuvwx"],
    ["https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz"],
    ["https://discordapp.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz"],
    ["https://acme.webhook.office.com/webhookb2/abc-def"],
    // Query parameters that are credentials, in any case.
    ["https://x.test/hook?token=1"],
    ["https://x.test/hook?Signature=abc&X-Amz-Credential=def"],
    ["https://x.test/hook?page=2&api_key=zzz"],
    ["https://x.test/hook?code=oauth-code"],
    // Userinfo, user or password alone.
    ["https://user:pw@x.test/"],
    ["https://user@x.test/"],
    ["https://:pw@x.test/"],
    // A random-looking path segment: mixed case with digits, or long hex.
    ["https://x.test/hooks/Zx9kQ2mN7pL4vR8tY1wB"],
    ["https://x.test/hooks/9f86d081884c7d659a2feaa0c55ad015"],
  ])("%s carries a secret", (url) => {
    expect(urlCarriesSecret(url)).toBe(true);
    expect(displayUrl(url)).toMatch(FP);
    expect(redactText(`calling ${url} failed`)).toMatch(/^calling [a-z]+:\/\/[^\s]+ \(sha256:[0-9a-f]{8}\) failed$|\[REDACTED\]@/);
  });

  it.each([
    ["https://hooks.slack.com/"],
    ["https://slack.com/services/T00000000/B00000000/abcdefghijklmnopqrstuvwx"],
    ["https://notdiscord.com/api/webhooks/123/abcdefghijklmnop"],
    ["https://example.com/items?sort_key=name&page=2"],
    ["https://news.example.com/search?keyword=acme&passages=3"],
    ["https://example.com/docs/HowToConfigureYourWebhooks"],
    ["https://example.com/reports/Q3Report2026"],
    ["https://cdn.example.com/files/Acme.Q3Report2026Final.pdf"],
    ["https://example.com/orders/INV2026ACME000123456789"],
    ["https://example.com/files/report-9f86d081884c7d659a2feaa0c55ad015"],
    ["https://example.com/files/9f86d081884c7d659a2feaa0c55ad015-notes"],
    ["https://news.example.com/2026/how-to-configure-2026-webhooks-guide"],
  ])("%s is harmless and stays readable", (url) => {
    expect(urlCarriesSecret(url)).toBe(false);
    expect(redactText(`read ${url} today`)).toBe(`read ${url} today`);
  });

  it("answers false, never throws, for text that is not a URL", () => {
    expect(urlCarriesSecret("not a url")).toBe(false);
    expect(urlCarriesSecret("")).toBe(false);
  });
});

describe("displayUrl", () => {
  it("shows an unparsable value as a fingerprint only, never the value", () => {
    const shown = displayUrl("hooks.slack.com/services/T0/B0/secretpath");
    expect(shown).toBe(`${REDACTED} (${fingerprint("hooks.slack.com/services/T0/B0/secretpath")})`);
    expect(shown).not.toContain("secretpath");
  });

  it("never shows a URL with credentials as its bare origin, so two credentials are told apart", () => {
    for (const url of ["https://user@x.test/", "https://:pw@x.test/", "https://user:pw@x.test"]) {
      expect(displayUrl(url)).toMatch(/^https:\/\/x\.test\/… \(sha256:[0-9a-f]{8}\)$/);
    }
    expect(displayUrl("https://:pw1@x.test/")).not.toBe(displayUrl("https://:pw2@x.test/"));
  });

  it("shows an origin-only URL as is, for web and non-web schemes", () => {
    expect(displayUrl("https://example.com")).toBe("https://example.com");
    expect(displayUrl("postgres://db.internal:5432")).toBe("postgres://db.internal:5432");
    expect(displayUrl("https://example.com/?q=1")).toMatch(FP);
    expect(displayUrl("https://example.com/#frag")).toMatch(FP);
  });
});

describe("redactSecrets: secret-naming keys", () => {
  it("redacts header-style keys (dashes, spaces, camelCase)", () => {
    expect(
      redactSecrets({
        "X-Api-Key": "abc",
        "Proxy-Authorization": "xyz",
        "client-secret": "abc",
        "Client Secret": "abc",
        signingSecret: "abc",
        "Set-Cookie": "sid=1",
        credential: "abc",
      }),
    ).toEqual({
      "X-Api-Key": REDACTED,
      "Proxy-Authorization": REDACTED,
      "client-secret": REDACTED,
      "Client Secret": REDACTED,
      signingSecret: REDACTED,
      "Set-Cookie": REDACTED,
      credential: REDACTED,
    });
  });

  it("matches the whole key: a name that merely ends or starts with a secret word is harmless", () => {
    for (const key of ["first_pass", "boarding_pass", "token_count", "tokens_today", "api_key_id", "secret_rotated", "password_set"]) {
      expect(isSecretKey(key), key).toBe(false);
    }
    const harmless = { first_pass: 3, second_pass: "done", token_count: 12, api_key_id: "clx1" };
    expect(redactSecrets(harmless)).toEqual(harmless);
  });

  it("redacts numbers and bigints under a secret key, leaves booleans and an empty (unset) string", () => {
    expect(redactSecrets({ api_key: 123456789, token: 12345678901234567890n, pin_code: 1234 })).toEqual({
      api_key: REDACTED,
      token: REDACTED,
      pin_code: 1234,
    });
    // "" says "no password set", which is not a secret; true/null say nothing either.
    expect(redactSecrets({ password: "", secret: true, token: null })).toEqual({ password: "", secret: true, token: null });
  });

  it("copies arrays element for element, redacting inside them", () => {
    const out = redactSecrets(["a", { token: "t" }, [1, "Bearer abcdefghij"]]);
    expect(out).toEqual(["a", { token: REDACTED }, [1, `Bearer ${REDACTED}`]]);
    expect((out as unknown[]).length).toBe(3);
  });
});
