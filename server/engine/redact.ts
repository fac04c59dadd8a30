import { createHash } from "node:crypto";

/**
 * The one secret redactor. Every place that lets data leave the process — ledger payloads, job
 * results, error messages, logs, connector errors — goes through here, so there is one answer to
 * "what counts as a secret".
 *
 * It is value-aware rather than key-name-aware: `tokens_today`, `api_key_id`, `token_count` or
 * `secret_rotated: true` are harmless and stay; a string that *looks like* a credential (one of
 * our API keys, a bearer token, a provider key, a URL carrying credentials or a token) is
 * redacted wherever it appears, and string values under keys that name a secret outright
 * (`password`, `client_secret`, `authorization`, …) are redacted whatever they look like.
 */

export const REDACTED = "[REDACTED]";

/**
 * Keys whose string values are always secrets. Matched on the snake_case form of the key, whole:
 * `api_key` yes, `api_key_id` no; `token` yes, `tokens_today` and `token_count` no.
 */
const SECRET_KEY =
  /^(?:x_)?(?:pass|passwd|password|passphrase|secret|client_secret|signing_secret|webhook_secret|shared_secret|secret_key|private_key|api_key|apikey|access_key|access_token|refresh_token|id_token|auth_token|bearer_token|session_token|token|authorization|proxy_authorization|cookie|set_cookie|credentials?|smtp_url|database_url)$/;

/** Secret-looking substrings in free text, each with how to replace it. Order matters. */
export const TEXT_PATTERNS: readonly [RegExp, string | ((...m: string[]) => string)][] = [
  // Our API keys: apk_<12 prefix>_<secret>; keep the public prefix so a key can be identified.
  [/\bapk_([A-Za-z0-9]{12})_[A-Za-z0-9_-]{8,}/g, (_m, prefix) => `apk_${prefix}_${REDACTED}`],
  // Webhook signing secrets, provider keys (OpenAI sk-…, Anthropic sk-ant-…), Slack tokens.
  [/\bwhsec_[A-Za-z0-9_-]{8,}/g, REDACTED],
  [/\bsk-[A-Za-z0-9_*.-]{8,}/g, REDACTED],
  [/\bxox[abposr]-[A-Za-z0-9-]{8,}/g, REDACTED],
  // Authorization header values.
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi, (_m, scheme) => `${scheme} ${REDACTED}`],
  // URLs: credentials, token-bearing query parameters, and hook paths are handled per URL.
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi, (url) => redactUrlInText(url)],
  // key=value / "key": "value" pairs whose key names a secret (connection strings, driver errors).
  [
    /\b((?:[\w-]*[_-])?(?:password|passwd|secret|api[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token|authorization|cookie|private[_-]?key)|token)(["']?\s*[:=]\s*["']?)(?!\[REDACTED\]|(?:bearer|basic)\s)[^\s"',;&}]+/gi,
    (_m, key, sep) => `${key}${sep}${REDACTED}`,
  ],
];

/** Query parameters whose values are credentials. */
const SECRET_PARAM =
  /^(?:token|access_token|refresh_token|id_token|auth|auth_token|key|api_key|apikey|secret|client_secret|password|pass|sig|signature|code|session|sessionid|x-amz-signature|x-amz-credential|x-goog-signature)$/i;

/** Hosts whose URL paths are themselves the credential (incoming-webhook style). */
const TOKEN_PATH_HOSTS = /(^|\.)(hooks\.slack\.com|discord(app)?\.com|outlook\.office\.com|webhook\.office\.com|hooks\.zapier\.com)$/i;

/**
 * A path segment that looks like a random token rather than words: long and mixing upper case,
 * lower case and digits (base64-ish), or a long hex string. Slugs such as
 * `acme-raises-series-b-2026` and UUIDs are not tokens.
 */
function tokenLike(segment: string): boolean {
  if (/^[0-9a-f]{32,}$/i.test(segment)) return true;
  return (
    segment.length >= 20 && /^[A-Za-z0-9_~-]+$/.test(segment) && /[0-9]/.test(segment) && /[a-z]/.test(segment) && /[A-Z]/.test(segment)
  );
}

export function fingerprint(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 8)}`;
}

/**
 * How a URL that may carry a credential is shown and ledgered: the origin plus a short
 * fingerprint, so two configurations can be compared without the URL being readable. A URL with
 * nothing beyond its origin is shown as is.
 */
export function displayUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${REDACTED} (${fingerprint(raw)})`;
  }
  // `origin` is "null" for non-web schemes (postgres://, smtp://): build it from the parts.
  const origin = `${url.protocol}//${url.host}`;
  const bare = !url.username && !url.password && (url.pathname === "/" || url.pathname === "") && !url.search && !url.hash;
  return bare ? origin : `${origin}/… (${fingerprint(url.toString())})`;
}

/** True when the URL carries something that authenticates: userinfo, a token parameter or a token path. */
export function urlCarriesSecret(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.username || url.password) return true;
  for (const k of url.searchParams.keys()) if (SECRET_PARAM.test(k)) return true;
  if (TOKEN_PATH_HOSTS.test(url.hostname) && url.pathname.length > 1) return true;
  return url.pathname.split("/").some(tokenLike);
}

function redactUrlInText(raw: string): string {
  // Trailing punctuation belongs to the sentence, not the URL.
  const trail = /[).,;:!?\]]+$/.exec(raw)?.[0] ?? "";
  const core = trail ? raw.slice(0, -trail.length) : raw;
  // Not anchored, and global: a URL nested in another's query (`?next=https://user:pw@host/`)
  // carries credentials too.
  const userinfo = /([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]+@/gi;
  // Credentials alone (a connection string): keep the rest readable, it is what an operator needs.
  const withoutUser = core.replace(userinfo, `$1${REDACTED}@`);
  const rest = withoutUser.replace(`${REDACTED}@`, "");
  return (urlCarriesSecret(rest) ? displayUrl(rest) : withoutUser) + trail;
}

/**
 * A text none of TEXT_PATTERNS can match: each of them needs one of these fragments (an "apk_",
 * "whsec_", "sk-" or "xox?-" prefix, "bearer" / "basic", a URL's "://", or the ":" / "=" of a
 * key-value pair). Most strings that reach the redactor — ids, enum values, names in ledger
 * payloads — hold none, and one scan for them replaces seven regex passes (the gate's CPU profile
 * showed redaction as a visible share of every append). test/engine/redact.test.ts checks the
 * screen against the full patterns on generated text.
 */
export const MAY_HOLD_SECRET = /apk_|whsec_|sk-|xox[abposr]-|bearer|basic|:\/\/|[:=]/i;

/** Redacts credentials inside free text: error messages, log lines, provider responses. */
export function redactText(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of TEXT_PATTERNS) {
    out = out.replace(pattern, replacement as (substring: string, ...args: string[]) => string);
  }
  return out;
}

function snakeKey(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[-\s]+/g, "_")
    .toLowerCase();
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(snakeKey(key));
}

/**
 * Deep copy with secrets redacted: string or number values under secret-naming keys, and every
 * secret-looking substring in any string. Iterative, so hostile nesting cannot overflow the stack;
 * the result has own data properties only (a `__proto__` key stays plain data).
 */
export function redactSecrets(value: unknown): unknown {
  const root: { v: unknown } = { v: undefined };
  const stack: { src: unknown; set: (v: unknown) => void; secret: boolean }[] = [{ src: value, set: (v) => (root.v = v), secret: false }];
  while (stack.length > 0) {
    const { src, set, secret } = stack.pop() as (typeof stack)[number];
    if (typeof src === "string") set(secret && src !== "" ? REDACTED : redactText(src));
    else if (typeof src === "number" || typeof src === "bigint") set(secret ? REDACTED : src);
    else if (Array.isArray(src)) {
      const out: unknown[] = new Array(src.length);
      set(out);
      for (const [i, item] of src.entries()) stack.push({ src: item, set: (v) => (out[i] = v), secret });
    } else if (src !== null && typeof src === "object" && !(src instanceof Date)) {
      const out: Record<string, unknown> = {};
      set(out);
      for (const [k, v] of Object.entries(src)) {
        // Define in source order now (the stack fills values later); defineProperty keeps a
        // `__proto__` key an own data property instead of setting the prototype.
        Object.defineProperty(out, k, { value: undefined, enumerable: true, writable: true, configurable: true });
        stack.push({ src: v, set: (x) => (out[k] = x), secret: secret || isSecretKey(k) });
      }
    } else set(src);
  }
  return root.v;
}
