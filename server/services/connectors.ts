import { randomBytes } from "node:crypto";
import type { Clock } from "../clock";
import { openSecret, type SecretKey, sealSecret } from "../connectors/secretBox";
import type { Db, DbOrTx } from "../db";
import { displayUrl } from "../engine/redact";
import { storedObject } from "../engine/storedJson";
import { AppError, badRequest } from "../errors";
import { withConfigWrite } from "../repos/autonomy";
import { findConnectorState } from "../repos/connectorState";
import { findConnectorConfig, saveConnectorConfig } from "../repos/connectors";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import type { BreakerSettings, ConnectorName, SloSettings } from "../schemas/connectors";
import { waitOutLeases } from "./admissionLeases";

/**
 * Per-tenant connector settings (SPEC §5.1 `GET/PUT /api/v1/connectors/:name`). Secrets are
 * write-only: generated or set here, never read back.
 *  - A webhook URL often is a credential itself (Slack's `hooks.slack.com/services/T/B/XYZ`, a
 *    `?token=`): the full URL lives only in the connector's config row, for delivery; everything a
 *    person or a read key can see shows the host plus a fingerprint (`displayUrl`).
 *  - The CRM's private-app token is sealed with AES-256-GCM (connectors/secretBox.ts) under a key
 *    the edge passes in; answers say only `token_set`, CONFIG_CHANGED only `token_changed`.
 * Connector settings change behaviour (where approved CRM writes go), so they are configuration:
 * written through withConfigWrite, read fresh by every execution and sync.
 * `rate_limit_per_minute` feeds the perception scheduler's rate windows; `max_concurrency` (the
 * tenant's cap on calls in flight) and `breaker` are enforced by the resilience wrapper
 * (services/resilience.ts) on every call, with its defaults when unset; `slo` is the target the
 * reliability read side (page, REST, charts) measures the connector's calls against.
 */

const KIND: Record<ConnectorName, string> = { internal: "INTERNAL", webhook: "WEBHOOK", email: "EMAIL", crm: "CRM" };

export interface ConnectorSettingsInput {
  enabled: boolean;
  baseUrl?: string;
  token?: string;
  rateLimitPerMinute?: number | null;
  maxConcurrency?: number | null;
  breaker?: BreakerSettings | null;
  slo?: SloSettings | null;
  reason?: string;
}

export interface ConnectorSettingsDeps {
  db: Db;
  clock: Clock;
  /** seals/opens the CRM token; null when the environment provides no key (then no token can be set) */
  secretKey: SecretKey | null;
  smtpConfigured: boolean;
}

interface StoredConfig {
  url?: string;
  base_url?: string;
  rate_limit_per_minute?: number | null;
  max_concurrency?: number | null;
  breaker?: BreakerSettings | null;
  slo?: SloSettings | null;
}

function parseHttpUrl(raw: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest(field, `${field} must be an absolute http(s) URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw badRequest(field, `${field} must use http or https`);
  if (url.username || url.password) throw badRequest(field, `${field} must not contain credentials`);
  return url;
}

function readConfig(raw: string | undefined): StoredConfig {
  const o = raw ? storedObject(raw) : {};
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const b = o.breaker as Record<string, unknown> | null | undefined;
  const slo = o.slo as Record<string, unknown> | null | undefined;
  return {
    url: typeof o.url === "string" ? o.url : undefined,
    base_url: typeof o.base_url === "string" ? o.base_url : undefined,
    rate_limit_per_minute: num(o.rate_limit_per_minute),
    max_concurrency: num(o.max_concurrency),
    breaker:
      b && typeof b === "object"
        ? {
            failure_threshold: Number(b.failure_threshold),
            window_seconds: Number(b.window_seconds),
            cooldown_seconds: Number(b.cooldown_seconds),
          }
        : null,
    slo:
      slo && typeof slo === "object"
        ? {
            p99_ms: Number(slo.p99_ms),
            error_rate: Number(slo.error_rate),
            window_seconds: Number(slo.window_seconds),
            ...(slo.min_samples !== undefined ? { min_samples: Number(slo.min_samples) } : {}),
          }
        : null,
  };
}

export interface ConnectorView {
  name: ConnectorName;
  enabled: boolean;
  configured: boolean;
  baseUrl: string | null;
  tokenSet: boolean;
  rateLimitPerMinute: number | null;
  maxConcurrency: number | null;
  breaker: BreakerSettings | null;
  /** the resilience wrapper enforces the breaker (defaults when `breaker` is unset) on every call */
  breakerEnforced: true;
  /** the SLO target as set; null = the default (engine/slo.ts DEFAULT_SLO) */
  slo: SloSettings | null;
  detail: string;
  updatedAt: Date | null;
  sync: {
    lastSyncAt: Date | null;
    lastStatus: string | null;
    lastError: string | null;
    counts: Record<string, unknown>;
    throttles: number;
    lastThrottleAt: Date | null;
    blockedUntil: Date | null;
    cursor: string | null;
  } | null;
}

async function connectorView(db: DbOrTx, tenantId: string, name: ConnectorName, smtpConfigured: boolean): Promise<ConnectorView> {
  const row = await findConnectorConfig(db, tenantId, KIND[name]);
  const cfg = readConfig(row?.config);
  const state = name === "crm" ? await findConnectorState(db, tenantId, "crm") : null;
  const base = {
    name,
    rateLimitPerMinute: cfg.rate_limit_per_minute ?? null,
    maxConcurrency: cfg.max_concurrency ?? null,
    breaker: cfg.breaker ?? null,
    breakerEnforced: true as const,
    slo: cfg.slo ?? null,
    updatedAt: row?.updatedAt ?? null,
    sync: state
      ? {
          lastSyncAt: state.lastSyncAt,
          lastStatus: state.lastStatus,
          lastError: state.lastError,
          counts: storedObject(state.lastCounts),
          throttles: state.throttles,
          lastThrottleAt: state.lastThrottleAt,
          blockedUntil: state.blockedUntil,
          cursor: state.cursor,
        }
      : null,
  };
  switch (name) {
    case "internal":
      return {
        ...base,
        enabled: true,
        configured: true,
        baseUrl: null,
        tokenSet: false,
        detail: "Notes, tasks, flags, briefs and drafts stored in the app",
      };
    case "email":
      return {
        ...base,
        enabled: smtpConfigured && (row?.enabled ?? true),
        configured: smtpConfigured,
        baseUrl: null,
        tokenSet: false,
        detail: smtpConfigured ? "SMTP (SMTP_URL)" : "set SMTP_URL to send email",
      };
    case "webhook":
      return {
        ...base,
        enabled: row?.enabled ?? false,
        configured: !!row?.secret && typeof cfg.url === "string",
        baseUrl: cfg.url ? displayUrl(cfg.url) : null,
        tokenSet: !!row?.secret,
        detail: cfg.url ? displayUrl(cfg.url) : "not configured",
      };
    case "crm":
      return {
        ...base,
        enabled: row?.enabled ?? false,
        configured: !!row?.secret && typeof cfg.base_url === "string",
        baseUrl: cfg.base_url ? displayUrl(cfg.base_url) : null,
        tokenSet: !!row?.secret,
        detail: cfg.base_url ? `HubSpot CRM v3 at ${displayUrl(cfg.base_url)}` : "HubSpot CRM v3: set base URL and private-app token",
      };
  }
}

export async function listConnectors(db: Db, viewer: Viewer, smtpConfigured: boolean) {
  const out: (ConnectorView & { kind: ConnectorName })[] = [];
  for (const name of ["internal", "webhook", "email", "crm"] as const) {
    out.push({ ...(await connectorView(db, viewer.tenantId, name, smtpConfigured)), kind: name });
  }
  return out;
}

export function getConnector(deps: Pick<ConnectorSettingsDeps, "db" | "smtpConfigured">, viewer: Viewer, name: ConnectorName) {
  return connectorView(deps.db, viewer.tenantId, name, deps.smtpConfigured);
}

/** The ledger's view of a connector's settings: never a token, a URL only as origin + fingerprint. */
function ledgerView(enabled: boolean, cfg: StoredConfig) {
  const url = cfg.base_url ?? cfg.url;
  return {
    enabled,
    base_url: url ? displayUrl(url) : null,
    rate_limit_per_minute: cfg.rate_limit_per_minute ?? null,
    max_concurrency: cfg.max_concurrency ?? null,
    breaker: cfg.breaker ?? null,
    slo: cfg.slo ?? null,
  };
}

export async function putConnector(deps: ConnectorSettingsDeps, viewer: Viewer, name: ConnectorName, input: ConnectorSettingsInput) {
  if (name === "internal" && !input.enabled)
    throw new AppError("UNPROCESSABLE", "The internal connector cannot be disabled; use a CONNECTOR kill switch to stop it", "enabled");
  if (name !== "crm" && input.token !== undefined)
    throw badRequest("token", `the ${name} connector takes no token${name === "webhook" ? " (its signing secret is generated)" : ""}`);
  if ((name === "internal" || name === "email") && input.baseUrl !== undefined)
    throw badRequest("base_url", `the ${name} connector has no base URL${name === "email" ? " (set SMTP_URL)" : ""}`);
  const url = input.baseUrl !== undefined ? parseHttpUrl(input.baseUrl, "base_url").toString() : undefined;
  let sealed: string | undefined;
  if (input.token !== undefined) {
    if (!deps.secretKey)
      throw new AppError("UNPROCESSABLE", "No key to encrypt connector tokens: set CONNECTOR_SECRET_KEY (or BETTER_AUTH_SECRET)", "token");
    sealed = sealSecret(deps.secretKey, input.token);
  }
  const kind = KIND[name];
  let newWebhookSecret: string | null = null;
  await withConfigWrite(deps.db, viewer.tenantId, async (tx) => {
    const now = deps.clock.now();
    const before = await findConnectorConfig(tx, viewer.tenantId, kind);
    const prev = readConfig(before?.config);
    const next: StoredConfig = {
      ...(name === "webhook" ? { url: url ?? prev.url } : {}),
      ...(name === "crm" ? { base_url: url ?? prev.base_url } : {}),
      rate_limit_per_minute: input.rateLimitPerMinute !== undefined ? input.rateLimitPerMinute : (prev.rate_limit_per_minute ?? null),
      max_concurrency: input.maxConcurrency !== undefined ? input.maxConcurrency : (prev.max_concurrency ?? null),
      breaker: input.breaker !== undefined ? input.breaker : (prev.breaker ?? null),
      slo: input.slo !== undefined ? input.slo : (prev.slo ?? null),
    };
    if (input.enabled && name === "crm") {
      if (!next.base_url) throw badRequest("base_url", "base_url is required to enable the crm connector");
      if (!sealed && !before?.secret) throw badRequest("token", "token is required to enable the crm connector");
    }
    if (input.enabled && name === "webhook" && !next.url)
      throw badRequest("base_url", "base_url (the webhook URL) is required to enable it");
    if (name === "webhook" && next.url && !before?.secret) newWebhookSecret = `whsec_${randomBytes(32).toString("base64url")}`;
    await saveConnectorConfig(
      tx,
      { tenantId: viewer.tenantId, kind },
      { enabled: input.enabled, config: JSON.stringify(next), secret: sealed ?? newWebhookSecret ?? undefined },
      now,
    );
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: {
          change: `connector_${name}`,
          before: before ? ledgerView(before.enabled, prev) : null,
          after: ledgerView(input.enabled, next),
          ...(name === "crm" ? { token_changed: sealed !== undefined } : {}),
          ...(name === "webhook" ? { secret_rotated: newWebhookSecret !== null } : {}),
          reason: input.reason ?? null,
        },
      },
      now,
    );
  });
  // A cap or breaker setting applies to the very next call on every instance: the resilience
  // wrapper's kept admission state runs out before this returns (services/admissionLeases.ts).
  // Whenever the request sets them, changed or not: a repeat of a request still waiting (a retry,
  // a double click) must not answer "done" before the first one's change is in force.
  if (input.maxConcurrency !== undefined || input.breaker !== undefined) await waitOutLeases(deps.db, viewer.tenantId, name);
  const view = await connectorView(deps.db, viewer.tenantId, name, deps.smtpConfigured);
  // A webhook's signing secret is shown once, when created, like an API key.
  return { ...view, signingSecret: newWebhookSecret as string | null };
}

export async function setWebhook(db: Db, viewer: Viewer, input: { url: string; enabled: boolean; rotateSecret?: boolean }, clock: Clock) {
  const url = parseHttpUrl(input.url, "url");
  if (url.username || url.password)
    throw new AppError("BAD_REQUEST", "url must not contain credentials; the HMAC secret authenticates deliveries", "url");
  return withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    const before = await findConnectorConfig(tx, viewer.tenantId, "WEBHOOK");
    const prev = readConfig(before?.config);
    const newSecret = !before?.secret || input.rotateSecret ? `whsec_${randomBytes(32).toString("base64url")}` : undefined;
    const next: StoredConfig = { ...prev, url: url.toString() };
    await saveConnectorConfig(
      tx,
      { tenantId: viewer.tenantId, kind: "WEBHOOK" },
      { enabled: input.enabled, config: JSON.stringify(next), secret: newSecret },
      now,
    );
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: {
          change: "connector_webhook",
          before: before ? { url: prev.url ? displayUrl(prev.url) : null, enabled: before.enabled } : null,
          after: { url: displayUrl(url.toString()), enabled: input.enabled },
          secret_rotated: !!newSecret,
        },
      },
      now,
    );
    // The signing secret is shown once, when created or rotated, like an API key.
    return { url: displayUrl(url.toString()), enabled: input.enabled, secret: newSecret ?? null };
  });
}

/**
 * The CRM connection an execution or a sync uses, read fresh (a disable applies to the very next
 * write). null when the connector is not enabled. Throws a clear, secret-free error when enabled
 * but the token cannot be opened (the key changed).
 */
export async function loadCrmConnection(
  db: DbOrTx,
  tenantId: string,
  secretKey: SecretKey | null,
): Promise<{ baseUrl: string; token: string; rateLimitPerMinute: number | null } | null> {
  const row = await findConnectorConfig(db, tenantId, "CRM");
  if (!row?.enabled) return null;
  const cfg = readConfig(row.config);
  if (!cfg.base_url || !row.secret) return null;
  const token = secretKey ? openSecret(secretKey, row.secret) : null;
  if (!token)
    throw new AppError("UNPROCESSABLE", "The stored CRM token cannot be decrypted with this server's key; set the token again", "token");
  return { baseUrl: cfg.base_url, token, rateLimitPerMinute: cfg.rate_limit_per_minute ?? null };
}

/** Whether the tenant's email connector is switched off (it is on by default when SMTP is set). */
export async function emailConnectorDisabled(db: DbOrTx, tenantId: string) {
  const row = await findConnectorConfig(db, tenantId, "EMAIL");
  return row ? !row.enabled : false;
}

/**
 * A connector's stored limits, for the perception scheduler's rate windows (rate_limit_per_minute)
 * and callers that bound parallel work (max_concurrency); null = no tenant-specific limit.
 */
export async function connectorLimits(db: DbOrTx, tenantId: string, name: ConnectorName) {
  const row = await findConnectorConfig(db, tenantId, KIND[name]);
  const cfg = readConfig(row?.config);
  return { rateLimitPerMinute: cfg.rate_limit_per_minute ?? null, maxConcurrency: cfg.max_concurrency ?? null };
}

/**
 * A connector's resilience settings as the reliability page shows them: its breaker settings and
 * concurrency cap, null when unset (the wrapper's defaults apply / no tenant cap), and its SLO
 * target (null: DEFAULT_SLO). The wrapper itself reads them with the breaker row (admissionState).
 */
export async function connectorResilienceSettings(db: DbOrTx, tenantId: string, name: ConnectorName) {
  const row = await findConnectorConfig(db, tenantId, KIND[name]);
  return resilienceSettingsOf(row?.config ?? null);
}

/** The same, from a stored config already read (the wrapper reads it together with the breaker). */
export function resilienceSettingsOf(stored: string | null) {
  const cfg = readConfig(stored ?? undefined);
  return { breaker: cfg.breaker ?? null, maxConcurrency: cfg.max_concurrency ?? null, slo: cfg.slo ?? null };
}

/** The ConnectorConfig kind a connector's settings are stored under. */
export const connectorKind = (name: ConnectorName) => KIND[name];
