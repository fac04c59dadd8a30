import { randomBytes } from "node:crypto";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { displayUrl } from "../engine/redact";
import { storedObject } from "../engine/storedJson";
import { AppError } from "../errors";
import { findConnectorConfig, saveConnectorConfig } from "../repos/connectors";
import { connectorConfig } from "../repos/executions";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";

/**
 * Per-tenant connector settings. Secrets are write-only: generated or set here, never read back.
 * A webhook URL often is a credential itself (Slack's `hooks.slack.com/services/T/B/XYZ`, a
 * `?token=`): the full URL lives only in the connector's config row, for delivery; everything a
 * person or a read key can see — this listing, CONFIG_CHANGED, the answer to a write — shows the
 * host plus a fingerprint (`displayUrl`), enough to tell two configurations apart.
 */

export async function listConnectors(db: Db, viewer: Viewer, smtpConfigured: boolean) {
  const webhook = await connectorConfig(db, viewer.tenantId, "WEBHOOK");
  const url = webhook ? storedObject(webhook.config).url : undefined;
  return [
    {
      kind: "internal",
      configured: true,
      enabled: true,
      detail: "Notes, tasks, flags, briefs and drafts stored in the app",
      updatedAt: null,
    },
    {
      kind: "webhook",
      configured: !!webhook?.secret && typeof url === "string",
      enabled: webhook?.enabled ?? false,
      detail: typeof url === "string" ? displayUrl(url) : "not configured",
      updatedAt: webhook?.updatedAt ?? null,
    },
    {
      kind: "email",
      configured: smtpConfigured,
      enabled: smtpConfigured,
      detail: smtpConfigured ? "SMTP (SMTP_URL)" : "set SMTP_URL to send email",
      updatedAt: null,
    },
  ];
}

export async function setWebhook(db: Db, viewer: Viewer, input: { url: string; enabled: boolean; rotateSecret?: boolean }, clock: Clock) {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new AppError("BAD_REQUEST", "url must be an absolute http(s) URL", "url");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new AppError("BAD_REQUEST", "url must use http or https", "url");
  if (url.username || url.password)
    throw new AppError("BAD_REQUEST", "url must not contain credentials; the HMAC secret authenticates deliveries", "url");
  return inTransaction(db, async (tx) => {
    const now = clock.now();
    const before = await findConnectorConfig(tx, viewer.tenantId, "WEBHOOK");
    const newSecret = !before?.secret || input.rotateSecret ? `whsec_${randomBytes(32).toString("base64url")}` : undefined;
    await saveConnectorConfig(
      tx,
      { tenantId: viewer.tenantId, kind: "WEBHOOK" },
      { enabled: input.enabled, config: JSON.stringify({ url: url.toString() }), secret: newSecret },
      now,
    );
    const prevUrl = before ? storedObject(before.config).url : null;
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: {
          change: "connector_webhook",
          before: before ? { url: typeof prevUrl === "string" ? displayUrl(prevUrl) : null, enabled: before.enabled } : null,
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
