import { createHash } from "node:crypto";
import nodemailer, { type Address, type NodemailerError, type SendMailOptions } from "nodemailer";
import { REDACTED, redactText } from "../engine/redact";
import type { ConnectorCall, ConnectorResult } from "./types";

export interface SmtpConfig {
  host: string;
  port: number;
  secure?: boolean;
  user?: string;
  pass?: string;
  from: string;
  ignoreTLS?: boolean;
}

export const IDEMPOTENCY_HEADER = "X-Autopilot-Idempotency-Key";

const TIMEOUT_MS = 10_000;
const MAX_RECIPIENTS = 50;
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;
const ADDR_SPEC = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:".]+(?:\.[^\s@<>()[\]\\,;:".]+)+$/u;
const NAMED_ADDRESS = /^(.*)<([^<>]+)>$/s;
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const TRANSIENT_CODES = new Set([
  "ECONNECTION",
  "ETIMEDOUT",
  "ESOCKET",
  "EDNS",
  "EPROXY",
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "EAI_AGAIN",
]);

/**
 * Parses `smtp://user:pass@host:port` or `smtps://…` (optionally `?ignoreTLS=true` for a local
 * plain-text server). Errors never repeat the URL, which would leak the password.
 */
export function smtpConfigFromUrl(url: string, from: string): SmtpConfig {
  const fail = (why: string) => new Error(`Invalid SMTP URL: ${why}. Expected smtp://user:pass@host:port or smtps://user:pass@host:port`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail("it cannot be parsed (check the port and that special characters in the password are percent-encoded)");
  }
  if (u.protocol !== "smtp:" && u.protocol !== "smtps:") throw fail(`unsupported scheme "${u.protocol}"`);
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw fail("the host is missing");
  const secure = u.protocol === "smtps:";
  const port = u.port ? Number(u.port) : secure ? 465 : 587;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw fail("the port must be between 1 and 65535");

  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(u.username);
    pass = decodeURIComponent(u.password);
  } catch {
    throw fail("the user name or password is not valid percent-encoding");
  }
  if (pass && !user) throw fail("a password is given without a user name");
  if (user && !pass) throw fail("a user name is given without a password");

  const ignoreTLS = ["true", "1"].includes(u.searchParams.get("ignoreTLS") ?? "");
  if (ignoreTLS && secure) throw fail("ignoreTLS cannot be combined with smtps:");
  if (!parseAddress(from)) throw new Error(`Invalid SMTP sender address "${from}"`);

  return { host, port, secure, from, ...(user ? { user, pass } : {}), ...(ignoreTLS ? { ignoreTLS } : {}) };
}

/** The Message-ID a tool call's email carries: the same key always yields the same id. */
export function messageIdFor(idempotencyKey: string): string {
  const local =
    DOT_ATOM.test(idempotencyKey) && idempotencyKey.length <= 200
      ? idempotencyKey
      : `sha256-${createHash("sha256").update(idempotencyKey).digest("hex")}`;
  return `<${local}@autopilot.local>`;
}

/**
 * Sends the SEND_EMAIL action. parameters: `to` (address or list), `subject`, `body` (plain text),
 * optional `cc` and `reply_to`.
 */
export async function sendEmail(call: ConnectorCall, cfg: SmtpConfig): Promise<ConnectorResult> {
  const p = call.parameters;
  let mail: SendMailOptions;
  try {
    const to = recipients(p.to, "to", true);
    const cc = recipients(p.cc, "cc", false);
    const replyTo = recipients(p.reply_to, "reply_to", false);
    if (to.length + cc.length > MAX_RECIPIENTS) {
      throw new InvalidParameter(`Parameters "to" and "cc" together name more than ${MAX_RECIPIENTS} recipients`);
    }
    mail = {
      to,
      ...(cc.length ? { cc } : {}),
      ...(replyTo.length ? { replyTo } : {}),
      subject: subjectLine(p.subject, "subject"),
      text: requiredText(p.body, "body"),
    };
  } catch (err) {
    if (err instanceof InvalidParameter) return permanent(err.message);
    throw err;
  }
  if (!HEADER_SAFE.test(call.idempotencyKey)) {
    return permanent("Idempotency key must be 1-255 printable ASCII characters without surrounding spaces");
  }
  return transmit(cfg, {
    ...mail,
    messageId: messageIdFor(call.idempotencyKey),
    headers: { [IDEMPOTENCY_HEADER]: call.idempotencyKey },
  });
}

/** A plain message from the system itself (e.g. the daily digest), outside any action intent. */
export async function sendMail(
  cfg: SmtpConfig,
  msg: { to: string | string[]; subject: string; text: string; html?: string },
): Promise<ConnectorResult> {
  let mail: SendMailOptions;
  try {
    mail = {
      to: recipients(msg.to, "to", true),
      subject: subjectLine(msg.subject, "subject"),
      text: requiredText(msg.text, "text"),
      ...(msg.html ? { html: msg.html } : {}),
    };
  } catch (err) {
    if (err instanceof InvalidParameter) return permanent(err.message);
    throw err;
  }
  return transmit(cfg, mail);
}

async function transmit(cfg: SmtpConfig, mail: SendMailOptions): Promise<ConnectorResult> {
  const from = parseAddress(cfg.from);
  if (!from) return permanent("The configured SMTP sender address is not valid");
  const plain = cfg.ignoreTLS === true;
  const secure = plain ? false : (cfg.secure ?? cfg.port === 465);
  const auth = cfg.user ? { user: cfg.user, pass: cfg.pass ?? "" } : undefined;
  const transporter = nodemailer.createTransport({
    host: cfg.host,
    port: cfg.port,
    secure,
    ignoreTLS: plain,
    // Credentials never cross the wire in clear text unless plain SMTP was asked for explicitly.
    requireTLS: !plain && !secure && auth !== undefined,
    ...(auth ? { auth } : {}),
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
    dnsTimeout: TIMEOUT_MS,
    logger: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  try {
    const info = await transporter.sendMail({ ...mail, from });
    return {
      ok: true,
      response: { message_id: info.messageId, accepted: info.accepted.map(String), rejected: info.rejected.map(String) },
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const error = scrub(`SMTP delivery via ${cfg.host}:${cfg.port} failed: ${message}`, cfg.pass);
    return { ok: false, retryable: isRetryable(err), error };
  } finally {
    transporter.close();
  }
}

function isRetryable(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as NodemailerError;
  if (typeof e.permanent === "boolean") return !e.permanent;
  if (typeof e.responseCode === "number") return !(e.responseCode >= 500 && e.responseCode !== 503);
  return TRANSIENT_CODES.has(e.code ?? "") || TRANSIENT_CODES.has(e.originalCode ?? "");
}

function permanent(error: string): ConnectorResult {
  return { ok: false, retryable: false, error };
}

function scrub(text: string, secret: string | undefined): string {
  return redactText(secret ? text.split(secret).join(REDACTED) : text);
}

class InvalidParameter extends Error {}

/** Parsed here rather than by nodemailer, so `"Doe, Jane" <j@x.com>` cannot be split into two recipients. */
function parseAddress(raw: string): Address | null {
  if (raw.length > 320 || /[\r\n]/.test(raw)) return null;
  const text = raw.trim();
  const named = NAMED_ADDRESS.exec(text);
  const address = (named ? (named[2] ?? "") : text).trim();
  if (!ADDR_SPEC.test(address)) return null;
  const name = (named?.[1] ?? "").trim().replace(/^"(.*)"$/s, "$1");
  return { name, address };
}

function recipients(value: unknown, param: string, required: boolean): Address[] {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0) || value === "") {
    if (required) throw new InvalidParameter(`Parameter "${param}" is required: an email address or a list of them`);
    return [];
  }
  const list: unknown[] = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (typeof item !== "string") throw new InvalidParameter(`Parameter "${param}" must be an email address or a list of them`);
    const parsed = parseAddress(item);
    if (!parsed) throw new InvalidParameter(`Parameter "${param}" contains an invalid email address: "${item.slice(0, 100)}"`);
    return parsed;
  });
}

function requiredText(value: unknown, param: string): string {
  if (typeof value !== "string" || !value.trim()) throw new InvalidParameter(`Parameter "${param}" is required: non-empty text`);
  return value;
}

function subjectLine(value: unknown, param: string): string {
  const text = requiredText(value, param);
  if (/[\r\n]/.test(text)) throw new InvalidParameter(`Parameter "${param}" must be a single line`);
  return text.trim();
}
