import type { Clock } from "../../clock";
import { deliverSignedJson } from "../../connectors/webhook";
import type { Db, Tx } from "../../db";
import { readApprovalSettings } from "../../engine/approvals";
import { readStoredJson } from "../../engine/storedJson";
import { accountNames } from "../../repos/accounts";
import { approvalSettingsRow } from "../../repos/approvals";
import { connectorConfig } from "../../repos/executions";
import { findIntent } from "../../repos/intents";
import type { ConnectorDeps } from "../executor";
import { enqueue, JobError } from "../jobQueue";
import { mintApprovalLink } from "./links";

/**
 * The approval webhook message (SPEC §4.6): when an intent starts waiting for approval and the
 * tenant turned `notify_webhook` on, a durable job posts a Slack-compatible message with two
 * one-time links (approve, reject) through the tenant's webhook connector.
 */

export const APPROVAL_WEBHOOK = "APPROVAL_WEBHOOK";

/**
 * Called by the gate inside the admission transaction, so the request and its notice commit
 * together: an intent that waits always has its message queued, and a rolled-back one never does.
 */
export async function enqueueApprovalNotice(tx: Tx, clock: Clock, tenantId: string, intentId: string) {
  if (!readApprovalSettings(await approvalSettingsRow(tx, tenantId)).notifyWebhook) return;
  await enqueue(tx, { tenantId, kind: APPROVAL_WEBHOOK, payload: { intentId }, dedupeKey: `approval-webhook:${intentId}` }, clock);
}

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

/** The message: a plain `text` fallback, a section with the what and why, and two link buttons. */
export function approvalMessage(m: {
  accountName: string;
  actionType: string;
  why: string[];
  approveUrl: string;
  rejectUrl: string;
}): SlackMessage {
  const why = m.why.length ? m.why.join(", ") : "no reason given";
  const text = `Approval needed: ${m.actionType} on ${m.accountName} (why: ${why})`;
  return {
    text,
    blocks: [
      {
        type: "section",
        text: { type: "mrkdwn", text: `*Approval needed*\n*Account:* ${m.accountName}\n*Action:* ${m.actionType}\n*Why:* ${why}` },
      },
      {
        type: "actions",
        elements: [
          { type: "button", text: { type: "plain_text", text: "Approve" }, style: "primary", url: m.approveUrl, action_id: "approve" },
          { type: "button", text: { type: "plain_text", text: "Reject" }, style: "danger", url: m.rejectUrl, action_id: "reject" },
        ],
      },
    ],
  };
}

/**
 * The job. A retry mints a fresh link (an unused earlier one still works only once, and only
 * while the intent waits); the delivery's idempotency key is per intent, so a receiver that
 * de-duplicates shows one message.
 */
export async function handleApprovalWebhookJob(
  deps: { db: Db; clock: Clock; connectors: ConnectorDeps },
  payload: unknown,
  ctx: { job: { tenantId: string } },
) {
  const intentId = (payload as { intentId?: unknown } | null)?.intentId;
  if (typeof intentId !== "string") throw new JobError("payload.intentId is missing", { permanent: true });
  const tenantId = ctx.job.tenantId;
  const intent = await findIntent(deps.db, tenantId, intentId);
  // Decided (or gone) before the message went out: there is nothing left to ask.
  if (!intent || intent.status !== "PENDING_APPROVAL") return { sent: false, reason: "NOT_WAITING" };
  const cfg = await connectorConfig(deps.db, tenantId, "WEBHOOK");
  const url = cfg?.enabled ? (readStoredJson(cfg.config) as { url?: string } | null)?.url : undefined;
  if (!url || !cfg?.secret) return { sent: false, reason: "NO_WEBHOOK" };
  const link = await mintApprovalLink(
    deps.db,
    deps.connectors,
    { tenantId, intentId, purpose: "WEBHOOK", recipientUserId: null },
    deps.clock.now(),
  );
  if (!link) throw new JobError("No link signing key is configured (CONNECTOR_SECRET_KEY)", { permanent: true });
  const name = (await accountNames(deps.db, tenantId, [intent.accountId])).get(intent.accountId) ?? "an account";
  const why = readStoredJson(intent.why);
  const message = approvalMessage({
    accountName: name,
    actionType: intent.actionType,
    why: Array.isArray(why) ? why.map(String) : [],
    approveUrl: link.approveUrl,
    rejectUrl: link.rejectUrl,
  });
  const res = await deliverSignedJson(
    { url, secret: cfg.secret },
    `approval:${intentId}`,
    // Exactly Slack's incoming-webhook shape, so the URL may be a Slack webhook itself.
    () => message,
    deps.connectors.fetch,
    () => deps.clock.now(),
  );
  if (!res.ok) throw new JobError(res.error, { permanent: !res.retryable });
  return { sent: true };
}
