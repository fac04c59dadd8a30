import { createHmac, timingSafeEqual } from "node:crypto";
import { displayUrl, REDACTED, redactText } from "../engine/redact";
import type { ConnectorCall, ConnectorResult } from "./types";

export interface WebhookConfig {
  url: string;
  secret: string;
  timeoutMs?: number;
}

export const SIGNATURE_HEADER = "x-autopilot-signature";
export const TIMESTAMP_HEADER = "x-autopilot-timestamp";
export const IDEMPOTENCY_HEADER = "idempotency-key";

const DEFAULT_TIMEOUT_MS = 10_000;
const PREVIEW_CHARS = 500;
const ERROR_PREVIEW_CHARS = 200;
// Printable ASCII only: the key travels in an HTTP header, where CR/LF would be header injection.
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;

/**
 * The `x-autopilot-signature` value for a delivery: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
 * The timestamp is inside the MAC so a captured delivery cannot be replayed later with a fresh timestamp.
 */
export function signWebhook(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const mac = createHmac("sha256", secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest("hex")}`;
}

/**
 * Receiver side of {@link signWebhook}: true only for a well-formed signature over exactly this raw
 * body, made with `secret`, whose timestamp is within `toleranceSeconds` of `nowSeconds`.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | readonly string[] | null | undefined,
  timestampHeader: string | readonly string[] | null | undefined,
  body: string | Uint8Array,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  if (typeof header !== "string" || typeof timestampHeader !== "string") return false;
  if (!/^\d{1,15}$/.test(timestampHeader)) return false;
  if (Math.abs(nowSeconds - Number(timestampHeader)) > toleranceSeconds) return false;
  if (!/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const expected = Buffer.from(signWebhook(secret, timestampHeader, body).slice("sha256=".length), "hex");
  const given = Buffer.from(header.slice("sha256=".length), "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** POST the action to the tenant's webhook, signed, with the tool call's idempotency key. */
export function deliverWebhook(
  call: ConnectorCall,
  cfg: WebhookConfig,
  fetchImpl: typeof fetch = fetch,
  now: () => Date = () => new Date(),
): Promise<ConnectorResult> {
  return deliverSignedJson(
    cfg,
    call.idempotencyKey,
    (sentAt) => ({
      event: "action.execute",
      action_type: call.actionType,
      tenant_id: call.tenantId,
      account_id: call.accountId,
      execution_id: call.executionId,
      correlation_id: call.correlationId,
      parameters: call.parameters,
      target: call.target,
      sent_at: sentAt.toISOString(),
    }),
    fetchImpl,
    now,
  );
}

/**
 * POST a JSON body to the tenant's webhook with the connector's signing, timeout, redirect and
 * redaction rules: the action deliveries above and other messages to the same endpoint (the
 * approval request, server/services/approvals/webhook.ts) share one way of leaving the product.
 */
export async function deliverSignedJson(
  cfg: WebhookConfig,
  idempotencyKey: string,
  payload: (sentAt: Date) => unknown,
  fetchImpl: typeof fetch = fetch,
  now: () => Date = () => new Date(),
): Promise<ConnectorResult> {
  const timeoutMs = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  let url: URL;
  try {
    url = new URL(cfg.url);
  } catch {
    return permanent("Webhook URL is not a valid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return permanent(`Webhook URL must use http: or https: (got ${url.protocol})`);
  }
  if (!cfg.secret) return permanent("Webhook signing secret is not configured");
  if (!HEADER_SAFE.test(idempotencyKey)) {
    return permanent("Idempotency key must be 1-255 printable ASCII characters without surrounding spaces");
  }

  const secrets = [cfg.secret];
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "autopilot-webhooks/1",
    [IDEMPOTENCY_HEADER]: idempotencyKey,
  };
  // fetch refuses URLs with credentials, so `https://user:pass@host/` becomes Basic auth.
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    secrets.push(url.password, pass);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  // The path or query of a webhook URL may be its credential: errors name the host and a fingerprint.
  const where = displayUrl(url.toString());
  const clean = (text: string) => scrub(text, secrets);

  const sentAt = now();
  const timestamp = Math.floor(sentAt.getTime() / 1000);
  let body: string;
  try {
    body = JSON.stringify(payload(sentAt));
  } catch (err) {
    return permanent(clean(`Webhook payload is not serialisable as JSON: ${errorMessage(err)}`));
  }
  headers[TIMESTAMP_HEADER] = String(timestamp);
  headers[SIGNATURE_HEADER] = signWebhook(cfg.secret, timestamp, body);

  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    // Redirects are not followed: a 30x would re-send the signed payload to a host nobody configured.
    res = await fetchImpl(url, { method: "POST", headers, body, redirect: "manual", signal });
  } catch (err) {
    // fetch refuses some ports outright (e.g. 1, 25, 6000); that will never change on retry.
    if (err instanceof Error && err.cause instanceof Error && err.cause.message === "bad port") {
      return permanent(`Webhook URL ${where} uses a port that fetch refuses to connect to`);
    }
    const reason = isTimeout(err) ? `timed out after ${timeoutMs} ms` : `failed: ${errorMessage(err)}`;
    return { ok: false, retryable: true, error: clean(`Webhook delivery to ${where} ${reason}`) };
  }

  if (res.status >= 200 && res.status < 300) {
    // The receiver has accepted the delivery; a body that stalls or breaks does not undo that.
    const text = await readPreview(res, PREVIEW_CHARS).catch(() => "");
    return { ok: true, response: { status: res.status, body: clean(text) } };
  }

  const text = await readPreview(res, ERROR_PREVIEW_CHARS).catch(() => "");
  const detail = text.trim() ? `: ${text.trim()}` : "";
  if (res.status >= 300 && res.status < 400) {
    return permanent(clean(`Webhook endpoint ${where} answered with a redirect (HTTP ${res.status}); configure the final URL`));
  }
  const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
  return { ok: false, retryable, error: clean(`Webhook endpoint ${where} answered HTTP ${res.status}${detail}`) };
}

function permanent(error: string): ConnectorResult {
  return { ok: false, retryable: false, error };
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : "";
  return cause && cause !== err.message ? `${err.message} (${cause})` : err.message;
}

/** Removes this delivery's secrets, then anything credential-like (the one redactor), from text that leaves the connector. */
function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join(REDACTED);
  return redactText(out);
}

/** Reads at most about `maxChars` of the body, so a huge or endless response cannot exhaust memory. */
async function readPreview(res: Response, maxChars: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < maxChars) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    text += decoder.decode();
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, maxChars);
}
