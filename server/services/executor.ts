import type { Clock } from "../clock";
import { type SmtpConfig, sendEmail } from "../connectors/email";
import { renderInternalArtifact } from "../connectors/internal";
import type { SecretKey } from "../connectors/secretBox";
import type { ConnectorCall, ConnectorResult } from "../connectors/types";
import { deliverWebhook } from "../connectors/webhook";
import type { Db } from "../db";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import { replayEndEntry, toolIdempotencyKey } from "../engine/replay";
import { loadArtifactContext } from "../repos/artifacts";
import {
  accountName,
  connectorConfig,
  findExecution,
  finishExecution,
  finishToolCall,
  insertArtifact,
  insertExecution,
  insertOutcome,
  insertToolCall,
  originalExecution,
  succeededToolCall,
  toolCallByKey,
} from "../repos/executions";
import { findIntent, transitionIntent } from "../repos/intents";
import { appendLedger } from "../repos/ledger";
import { inTransaction } from "../repos/tx";
import { emailConnectorDisabled } from "./connectors";
import { executeCrmWrite, resolveConnector } from "./crmWrites";

/** Outbound configuration that comes from the environment (the edge builds it; services never read env). */
export interface ConnectorDeps {
  smtp: SmtpConfig | null;
  fetch?: typeof fetch;
  /** opens the CRM token sealed in the connector's row (CONNECTOR_SECRET_KEY); null/absent → no CRM */
  secretKey?: SecretKey | null;
  /**
   * The product's public origin (APP_URL), for links sent out of it: one-time approval links in
   * digests and approval messages, the alert hook's URL. Links are signed with a key derived
   * from `secretKey`; without one, no link can be made.
   */
  publicUrl?: string;
  /** waits out the CRM's rate limit; tests pass one that moves their clock */
  sleep?: (ms: number) => Promise<void>;
  /** longest CRM throttle wait a caller sleeps through before stopping (default 15 s) */
  crmMaxWaitMs?: number;
  /** CRM list/search page size (default 100, HubSpot's maximum) */
  crmPageSize?: number;
  /** HubSpot's search result cap (10,000); lowered in tests */
  crmSearchCap?: number;
}

interface ExecDeps {
  db: Db;
  clock: Clock;
  connectors: ConnectorDeps;
}

/**
 * Carry out an intent a human approved (autonomous executions complete inside the gate's
 * intake transaction, see services/gate/intake.ts). Start (reservation → execution row) and finish (tool result →
 * outcome) are two transactions around the connector call, which must not hold a database
 * transaction open while it waits on the network.
 */
export async function runExecution(
  deps: ExecDeps,
  tenantId: string,
  intentId: string,
  opts: { approvalSource: "HUMAN"; actor: Actor },
): Promise<{ executionId: string | null; status: string }> {
  const { db, clock } = deps;
  const started = await inTransaction(db, async (tx) => {
    const now = clock.now();
    const intent = await findIntent(tx, tenantId, intentId);
    if (!intent) return null;
    if (!(await transitionIntent(tx, tenantId, intentId, "APPROVED", { status: "EXECUTING" }, now))) return null;
    const execution = await insertExecution(tx, { tenantId, intentId, approvalSource: opts.approvalSource, autoExecuted: false }, now);
    await appendLedger(
      tx,
      {
        tenantId,
        accountId: intent.accountId,
        correlationId: intent.correlationId,
        type: "EXECUTION_STARTED",
        actor: opts.actor,
        payload: {
          execution_id: execution.id,
          action_intent_id: intentId,
          action_type: intent.actionType,
          approval_source: opts.approvalSource,
          auto_executed: execution.autoExecuted,
        },
      },
      now,
    );
    return { intent, execution };
  });
  if (!started) {
    const current = await findIntent(db, tenantId, intentId);
    const existing = await originalExecution(db, tenantId, intentId);
    return { executionId: existing?.id ?? null, status: current?.status ?? "UNKNOWN" };
  }
  return completeExecution(deps, started.intent, started.execution, opts.actor);
}

type IntentRow = NonNullable<Awaited<ReturnType<typeof findIntent>>>;

/** The intent's one non-replay execution: a replay of a replay still sends that one's key. */
async function originalExecutionId(db: Db, intent: IntentRow, replayOf: string): Promise<string> {
  return (await originalExecution(db, intent.tenantId, intent.id))?.id ?? replayOf;
}

export async function completeExecution(
  deps: ExecDeps,
  intent: IntentRow,
  execution: { id: string; autoExecuted: boolean; replayOf: string | null },
  actor: Actor,
): Promise<{ executionId: string; status: string }> {
  const { db, clock } = deps;
  const tenantId = intent.tenantId;
  // CRM writes go to the native crm connector once the tenant enabled it, else (as before) to the
  // signed webhook; read fresh, so a disable applies to the very next approved write.
  const connector = await resolveConnector(db, tenantId, intent.actionType);
  const call: ConnectorCall = {
    tenantId,
    accountId: intent.accountId,
    executionId: execution.id,
    actionType: intent.actionType,
    parameters: JSON.parse(intent.parameters) as Record<string, unknown>,
    target: JSON.parse(intent.target) as Record<string, unknown>,
    // Stable per (intent, tool): a retried delivery of this call, or a replay of it, is
    // recognisable downstream (engine/replay.ts).
    idempotencyKey: toolIdempotencyKey(
      execution.replayOf ? await originalExecutionId(db, intent, execution.replayOf) : execution.id,
      connector,
    ),
    correlationId: intent.correlationId,
  };
  // The row's own key: a replay's ToolCall cannot reuse the original's (the column is unique).
  const rowKey = toolIdempotencyKey(execution.id, connector);
  // A sweeper's retry re-sends the call a dead process left STARTED: same row, same key.
  const existingCall = await toolCallByKey(db, tenantId, rowKey);
  const toolCall =
    existingCall ??
    (await inTransaction(db, (tx) =>
      insertToolCall(
        tx,
        {
          tenantId,
          executionId: execution.id,
          connector,
          operation: intent.actionType,
          idempotencyKey: rowKey,
          request: canonicalJson({ parameters: call.parameters, target: call.target }),
        },
        clock.now(),
      ),
    ));

  // A CRM write is never sent twice for one key (see below); a replay's key is the original's,
  // so any execution of the intent that already succeeded on the crm connector counts.
  const crmDone =
    toolCall.status === "SUCCEEDED"
      ? toolCall
      : execution.replayOf && connector === "crm"
        ? await succeededToolCall(db, tenantId, intent.id, connector)
        : null;

  let result: ConnectorResult;
  let artifact: { kind: string; title: string; body: string } | null = null;
  try {
    if (connector === "crm") {
      // HubSpot may ignore Idempotency-Key, so the key is also honoured here: a call that already
      // SUCCEEDED for it is never sent again (a duplicate delivery reuses its recorded response).
      result = crmDone?.response
        ? { ok: true, response: { ...(JSON.parse(crmDone.response) as Record<string, unknown>), deduplicated: true } }
        : await executeCrmWrite(deps, call, { retry: existingCall?.status === "STARTED" });
    } else if (connector === "internal") {
      const account = await accountName(db, tenantId, intent.accountId);
      artifact = renderInternalArtifact(
        intent.actionType,
        call.parameters,
        await loadArtifactContext(
          db,
          tenantId,
          intent.accountId,
          intent.actionType,
          { accountName: account?.name ?? "this account", why: JSON.parse(intent.why) as string[] },
          clock.now(),
        ),
      );
      result = artifact
        ? { ok: true, response: { kind: artifact.kind, title: artifact.title } }
        : { ok: false, error: `No internal handler for ${intent.actionType}`, retryable: false };
    } else if (connector === "webhook") {
      const cfg = await connectorConfig(db, tenantId, "WEBHOOK");
      const url = cfg?.enabled ? (JSON.parse(cfg.config) as { url?: string }).url : undefined;
      result =
        url && cfg?.secret
          ? await deliverWebhook(call, { url, secret: cfg.secret }, deps.connectors.fetch)
          : { ok: false, error: "No webhook connector is configured for this tenant", retryable: false };
    } else if (await emailConnectorDisabled(db, tenantId)) {
      result = { ok: false, error: "The email connector is disabled for this tenant", retryable: false };
    } else {
      result = deps.connectors.smtp
        ? await sendEmail(call, deps.connectors.smtp)
        : { ok: false, error: "No SMTP server is configured (SMTP_URL)", retryable: false };
    }
  } catch (err) {
    result = { ok: false, error: `Connector failed: ${err instanceof Error ? err.name : "error"}`, retryable: true };
  }

  const status = result.ok ? "SUCCEEDED" : "FAILED";
  const recorded = await inTransaction(db, async (tx) => {
    const now = clock.now();
    // Only the holder of the EXECUTING row records a result: if a sweeper already ended or
    // re-took this execution (the lease ran out), this late finish must not write a second one.
    const ended = await finishExecution(
      tx,
      tenantId,
      execution.id,
      result.ok ? { status, outcome: canonicalJson(result.response) } : { status, error: result.error },
      now,
    );
    if (!ended) return false;
    await finishToolCall(
      tx,
      toolCall.id,
      result.ok ? { status, response: canonicalJson(result.response) } : { status, error: result.error },
      now,
    );
    if (result.ok && artifact) {
      await insertArtifact(tx, { tenantId, accountId: intent.accountId, executionId: execution.id, ...artifact }, now);
    }
    if (!execution.replayOf) await transitionIntent(tx, tenantId, intent.id, "EXECUTING", { status }, now);
    const label = result.ok ? "EXECUTION_SUCCEEDED" : "EXECUTION_FAILED";
    await insertOutcome(
      tx,
      {
        tenantId,
        intentId: intent.id,
        executionId: execution.id,
        label,
        details: canonicalJson(result.ok ? result.response : { error: result.error }),
      },
      now,
    );
    const base = { tenantId, accountId: intent.accountId, correlationId: intent.correlationId, actor };
    await appendLedger(
      tx,
      {
        ...base,
        type: result.ok ? "EXECUTION_SUCCEEDED" : "EXECUTION_FAILED",
        payload: {
          execution_id: execution.id,
          action_intent_id: intent.id,
          connector,
          tool_call_id: toolCall.id,
          auto_executed: execution.autoExecuted,
          ...(result.ok ? { response: result.response } : { error: result.error, retryable: result.retryable }),
        },
      },
      now,
    );
    await appendLedger(
      tx,
      { ...base, type: "OUTCOME_RECORDED", payload: { action_intent_id: intent.id, execution_id: execution.id, label } },
      now,
    );
    if (execution.replayOf) {
      const ids = { actionIntentId: intent.id, originalExecutionId: execution.replayOf, executionId: execution.id };
      await appendLedger(tx, { ...base, ...replayEndEntry(ids, result) }, now);
    }
    return true;
  });
  if (!recorded) return { executionId: execution.id, status: (await findExecution(db, tenantId, execution.id))?.status ?? "UNKNOWN" };
  return { executionId: execution.id, status };
}
