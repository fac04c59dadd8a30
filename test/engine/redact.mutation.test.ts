import { describe, expect, it } from "vitest";
import { displayUrl, fingerprint, isSecretKey, REDACTED, redactSecrets, redactText, urlCarriesSecret } from "@/server/engine/redact";

/**
 * The one redactor, case by case: which credentials leave the process redacted, and which
 * harmless values an operator still needs stay readable (mutation testing, issue 7).
 */
describe("secret-naming keys", () => {
  it.each([
    ["password", true],
    ["client-secret", true],
    ["clientSecret", true],
    ["API  Key", true],
    ["x_api_key", true],
    ["Set-Cookie", true],
    ["credential", true],
    ["credentials", true],
    // Names that only contain a secret word are not secret keys.
    ["bypass", false],
    ["compass", false],
    ["password_policy", false],
    ["tokens_today", false],
    ["api_key_id", false],
    ["next_page_token", false],
  ])("%j → %s", (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });

  it("an empty secret stays empty; numbers and big integers under a secret key are redacted; others stay", () => {
    expect(redactSecrets({ password: "", token: 123456, api_key: 10n, count: 3, big: 7n })).toEqual({
      password: "",
      token: REDACTED,
      api_key: REDACTED,
      count: 3,
      big: 7n,
    });
  });
});

describe("credentials in free text", () => {
  it("Slack tokens, not lookalikes", () => {
    expect(redactText("slack xoxb-1234567890-abcdef ok")).toBe(`slack ${REDACTED} ok`);
    expect(redactText("slack xoxp-ABCDEFGH ok")).toBe(`slack ${REDACTED} ok`);
    expect(redactText("short xoxb-1234 ok")).toBe("short xoxb-1234 ok");
    expect(redactText("xoxz-1234567890")).toBe("xoxz-1234567890");
  });

  it("authorization header values, however spaced, keep their scheme", () => {
    expect(redactText("Authorization: Bearer    abcdef123456")).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactText("basic dXNlcjpwYXNz")).toBe(`basic ${REDACTED}`);
  });

  it.each([
    ["db_password=hunter2 host=db", `db_password=${REDACTED} host=db`],
    ["my_db_password=hunter2", `my_db_password=${REDACTED}`],
    ["x-api-key: abc123", `x-api-key: ${REDACTED}`],
    ["apikey=abc123", `apikey=${REDACTED}`],
    ["api_key=abc123", `api_key=${REDACTED}`],
    ["access_token=abc123", `access_token=${REDACTED}`],
    ["accesstoken=abc123", `accesstoken=${REDACTED}`],
    ["refresh-token=abc123", `refresh-token=${REDACTED}`],
    ["refreshtoken=abc123", `refreshtoken=${REDACTED}`],
    ["refresh_token=abc123", `refresh_token=${REDACTED}`],
    ["auth_token=abc123", `auth_token=${REDACTED}`],
    ["authtoken=abc123", `authtoken=${REDACTED}`],
    ["private_key=abc123", `private_key=${REDACTED}`],
    ["privatekey=abc123", `privatekey=${REDACTED}`],
    ["passwd=abc123", `passwd=${REDACTED}`],
    ["cookie=abc123", `cookie=${REDACTED}`],
    ["token=abc123", `token=${REDACTED}`],
    ['{"password": "hunter2", "user": "bob"}', `{"password": "${REDACTED}", "user": "bob"}`],
    ["password = 'hunter2'", `password = '${REDACTED}'`],
    ["password=abc&user=bob", `password=${REDACTED}&user=bob`],
    ["authorization: Bearer abcdefgh", `authorization: Bearer ${REDACTED}`],
    ["tokens_today=5 token_count=3", "tokens_today=5 token_count=3"],
  ])("%j → %j", (text, out) => {
    expect(redactText(text)).toBe(out);
  });
});

describe("URLs", () => {
  it("a connection string loses its credentials only; the rest stays readable for an operator", () => {
    expect(redactText("connect postgres://admin:hunter2@db.internal:5432/app failed")).toBe(
      `connect postgres://${REDACTED}@db.internal:5432/app failed`,
    );
  });

  it("a URL with credentials and a token parameter shows neither: origin and fingerprint of the URL without them", () => {
    expect(redactText("callback https://u:p@x.example/cb?token=abc failed")).toBe(
      `callback ${displayUrl("https://x.example/cb?token=abc")} failed`,
    );
  });

  it("trailing punctuation stays outside the fingerprinted URL", () => {
    expect(redactText("see https://x.example/cb?token=abc).")).toBe(`see ${displayUrl("https://x.example/cb?token=abc")}).`);
  });

  it("query parameters are credentials by their exact name", () => {
    expect(urlCarriesSecret("https://maps.example/search?keyword=renewal")).toBe(false);
    expect(urlCarriesSecret("https://maps.example/search?zipcode=94107")).toBe(false);
    expect(urlCarriesSecret("https://maps.example/search?key=abc")).toBe(true);
    expect(urlCarriesSecret("https://maps.example/search?X-Amz-Signature=abc")).toBe(true);
  });

  it("incoming-webhook hosts: the path is the credential; the bare host is not", () => {
    expect(urlCarriesSecret("https://hooks.slack.com/services/a/b/c")).toBe(true);
    expect(urlCarriesSecret("https://hooks.slack.com/")).toBe(false);
    expect(urlCarriesSecret("https://discord.com/api/webhooks/1/abc")).toBe(true);
    expect(urlCarriesSecret("https://eu.hooks.zapier.com/hooks/catch/1/x")).toBe(true);
    // Only the real hosts: a look-alike domain is an ordinary URL.
    expect(urlCarriesSecret("https://hooks.slack.com.example.org/services/a/b")).toBe(false);
    expect(urlCarriesSecret("https://nothooks.slack.com/services/a/b")).toBe(false);
  });

  it("userinfo is a credential, user name alone included; unparseable text is not a URL", () => {
    expect(urlCarriesSecret("https://user@host.example/")).toBe(true);
    expect(urlCarriesSecret("https://:pw@host.example/")).toBe(true);
    expect(urlCarriesSecret("not a url")).toBe(false);
  });

  it("token-like path segments: long, mixed case and digits, or long hex; words and slugs are not", () => {
    expect(urlCarriesSecret("https://x.example/a/AbCdEfGh1234567890xy")).toBe(true);
    expect(urlCarriesSecret("https://x.example/a/AbCdEfGh1234567890x")).toBe(false);
    expect(urlCarriesSecret("https://x.example/a/AbCdEfGhIjKlMnOpQrSt")).toBe(false);
    expect(urlCarriesSecret("https://x.example/a/abcdefgh1234567890xy")).toBe(false);
    expect(urlCarriesSecret("https://x.example/a/ABCDEFGH1234567890XY")).toBe(false);
    expect(urlCarriesSecret("https://x.example/a/AbCdEfGh1234567890xy.pdf")).toBe(false);
    expect(urlCarriesSecret("https://x.example/a/report.AbCdEfGh1234567890xy")).toBe(false);
    expect(urlCarriesSecret(`https://x.example/a/${"0a".repeat(16)}`)).toBe(true);
    expect(urlCarriesSecret(`https://x.example/a/v1-${"0a".repeat(16)}`)).toBe(false);
    expect(urlCarriesSecret(`https://x.example/a/${"0a".repeat(16)}-v1`)).toBe(false);
  });

  it("displayUrl: a bare origin as is; anything more, or userinfo, as origin plus fingerprint; junk fingerprinted", () => {
    expect(displayUrl("https://crm.example")).toBe("https://crm.example");
    expect(displayUrl("postgres://db.example:5432")).toBe("postgres://db.example:5432");
    expect(displayUrl("https://user@crm.example/")).toBe(`https://crm.example/… (${fingerprint("https://user@crm.example/")})`);
    expect(displayUrl("https://:pw@crm.example/")).toBe(`https://crm.example/… (${fingerprint("https://:pw@crm.example/")})`);
    expect(displayUrl("https://crm.example/?a=1")).toMatch(/^https:\/\/crm\.example\/… \(sha256:[0-9a-f]{8}\)$/);
    expect(displayUrl("https://crm.example/#x")).toMatch(/^https:\/\/crm\.example\/… \(sha256:[0-9a-f]{8}\)$/);
    expect(displayUrl("not a url")).toBe(`${REDACTED} (${fingerprint("not a url")})`);
    expect(fingerprint("not a url")).toMatch(/^sha256:[0-9a-f]{8}$/);
  });
});
