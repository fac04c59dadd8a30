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
import { type JobContext, JobError } from "./jobQueue";
import {
  acquirePermit,
  type CallTarget,
  ConnectorTimeoutError,
  callWithPermit,
  connectorVerdict,
  type Permit,
  type Refusal,
  refusalError,
  releasePermit,
  resilienceDeps,
} from "./resilience";

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
  /** the resilience wrapper's process settings (services/resilience.ts) */
  resilience?: {
    /** names this process in probe claims and slot leases (the worker id) */
    instanceId?: string;
    /** calls in flight per connector across every tenant */
    globalMaxConcurrency?: Partial<Record<"internal" | "webhook" | "email" | "crm", number>>;
  };
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
): Promise<{ executionId: string | null; status: string; retryAfterSeconds?: number }> {
  const { db, clock } = deps;
  // Admission comes before the execution starts: over the connector's concurrency cap the intent
  // stays APPROVED and the caller (the EXECUTE_APPROVED job) waits `retryAfterSeconds` — deferred,
  // never failed. An open breaker still starts the execution, which then fails fast (no call).
  const approved = await findIntent(db, tenantId, intentId);
  let admission: Admission | undefined;
  if (approved?.status === "APPROVED") {
    const connector = await resolveConnector(db, tenantId, approved.actionType);
    const permit = await acquirePermit(resilienceDeps(deps), executionTarget(deps, tenantId, connector, approved.actionType));
    if (permit.kind === "DEFER") return { executionId: null, status: "DEFERRED", retryAfterSeconds: permit.retryAfterSeconds };
    admission = { connector, permit };
  }
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
    if (admission?.permit.kind === "PERMIT") await releasePermit(resilienceDeps(deps), admission.permit);
    const current = await findIntent(db, tenantId, intentId);
    const existing = await originalExecution(db, tenantId, intentId);
    return { executionId: existing?.id ?? null, status: current?.status ?? "UNKNOWN" };
  }
  return completeExecution(deps, started.intent, started.execution, opts.actor, admission);
}

/** A connector admission made before the execution started: the connector it resolved and the wrapper's answer. */
export interface Admission {
  connector: string;
  permit: Permit | Exclude<Refusal, { kind: "DEFER" }>;
}

/**
 * Ask the wrapper for a slot for an execution that has not started yet (a queued replay's job):
 * DEFER means "start nothing, come back after retry_after"; anything else is the admission to hand
 * to `completeExecution` once the execution has started.
 */
export function admitExecution(deps: ExecDeps, tenantId: string, connector: string, actionType: string) {
  return acquirePermit(resilienceDeps(deps), executionTarget(deps, tenantId, connector, actionType));
}

/**
 * How an execution's call goes through the wrapper. Never retried inside it: an execution's retry
 * is the sweeper's (or a replay's), with the same idempotency key and its own ledger entries. The
 * CRM's timeout covers the client's own waits for the CRM's rate limit.
 */
function executionTarget(deps: ExecDeps, tenantId: string, connector: string, actionType: string): CallTarget {
  return {
    tenantId,
    connector: connector as CallTarget["connector"],
    operation: actionType,
    idempotent: false,
    ...(connector === "crm" ? { timeoutMs: (deps.connectors.crmMaxWaitMs ?? 15_000) + 15_000 } : {}),
  };
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
  admission?: Admission,
): Promise<{ executionId: string; status: string }> {
  const { db, clock } = deps;
  const tenantId = intent.tenantId;
  // CRM writes go to the native crm connector once the tenant enabled it, else (as before) to the
  // signed webhook; read fresh, so a disable applies to the very next approved write.
  const connector = admission?.connector ?? (await resolveConnector(db, tenantId, intent.actionType));
  const rdeps = resilienceDeps(deps);
  // A sweeper's retry is admitted here; over the cap it leaves the row EXECUTING for its next sweep.
  const permit = admission?.permit ?? (await acquirePermit(rdeps, executionTarget(deps, tenantId, connector, intent.actionType)));
  if (permit.kind === "DEFER") return { executionId: execution.id, status: "EXECUTING" };
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
  let result: ConnectorResult;
  let artifact: { kind: string; title: string; body: string } | null = null;
  let toolCall: { id: string } | null = null;
  if (permit.kind === "FAIL_FAST") {
    // The breaker is open: nothing is sent, so there is no tool call to record.
    result = { ok: false, error: refusalError(connector, permit), retryable: true };
  } else {
    // The row's own key: a replay's ToolCall cannot reuse the original's (the column is unique).
    const rowKey = toolIdempotencyKey(execution.id, connector);
    const sent = await callConnector(deps, intent, { ...call, rowKey, replay: execution.replayOf !== null }, connector, permit);
    result = sent.result;
    artifact = sent.artifact;
    toolCall = sent.toolCall;
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
    if (toolCall)
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
          ...(toolCall ? { tool_call_id: toolCall.id } : { reason: "BREAKER_OPEN" }),
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

/**
 * Record the tool call and make it through the resilience wrapper (the permit was admitted by the
 * caller; it is released here whatever happens). A CRM call that already SUCCEEDED for this key is
 * not made again.
 */
async function callConnector(
  deps: ExecDeps,
  intent: IntentRow,
  sent: ConnectorCall & { rowKey: string; replay: boolean },
  connector: string,
  permit: Permit,
): Promise<{ result: ConnectorResult; artifact: { kind: string; title: string; body: string } | null; toolCall: { id: string } }> {
  const { db, clock } = deps;
  const tenantId = intent.tenantId;
  const rdeps = resilienceDeps(deps);
  const { rowKey, replay, ...call } = sent;
  let toolCall: Awaited<ReturnType<typeof toolCallByKey>>;
  let existingCall: typeof toolCall;
  try {
    // A sweeper's retry re-sends the call a dead process left STARTED: same row, same key.
    existingCall = await toolCallByKey(db, tenantId, rowKey);
    toolCall =
      existingCall ??
      (await inTransaction(db, (tx) =>
        insertToolCall(
          tx,
          {
            tenantId,
            executionId: call.executionId,
            connector,
            operation: intent.actionType,
            idempotencyKey: rowKey,
            request: canonicalJson({ parameters: call.parameters, target: call.target }),
          },
          clock.now(),
        ),
      ));
  } catch (err) {
    await releasePermit(rdeps, permit);
    throw err;
  }
  const recorded = toolCall as NonNullable<typeof toolCall>;
  // HubSpot may ignore Idempotency-Key, so the key is also honoured here: a call that already
  // SUCCEEDED for it is never sent again (a duplicate delivery reuses its recorded response). A
  // replay's key is the original's, so any execution of the intent that succeeded on crm counts.
  const crmDone =
    connector !== "crm"
      ? null
      : recorded.status === "SUCCEEDED"
        ? recorded
        : replay
          ? await succeededToolCall(db, tenantId, intent.id, connector)
          : null;
  if (crmDone?.response) {
    await releasePermit(rdeps, permit);
    const response = { ...(JSON.parse(crmDone.response) as Record<string, unknown>), deduplicated: true };
    return { result: { ok: true, response }, artifact: null, toolCall: recorded };
  }

  let artifact: { kind: string; title: string; body: string } | null = null;
  const send = async (): Promise<ConnectorResult> => {
    try {
      if (connector === "crm") return await executeCrmWrite(deps, call, { retry: existingCall?.status === "STARTED" });
      if (connector === "internal") {
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
        return artifact
          ? { ok: true, response: { kind: artifact.kind, title: artifact.title } }
          : { ok: false, error: `No internal handler for ${intent.actionType}`, retryable: false };
      }
      if (connector === "webhook") {
        const cfg = await connectorConfig(db, tenantId, "WEBHOOK");
        const url = cfg?.enabled ? (JSON.parse(cfg.config) as { url?: string }).url : undefined;
        return url && cfg?.secret
          ? await deliverWebhook(call, { url, secret: cfg.secret }, deps.connectors.fetch)
          : { ok: false, error: "No webhook connector is configured for this tenant", retryable: false };
      }
      if (await emailConnectorDisabled(db, tenantId))
        return { ok: false, error: "The email connector is disabled for this tenant", retryable: false };
      return deps.connectors.smtp
        ? await sendEmail(call, deps.connectors.smtp)
        : { ok: false, error: "No SMTP server is configured (SMTP_URL)", retryable: false };
    } catch (err) {
      return { ok: false, error: `Connector failed: ${err instanceof Error ? err.name : "error"}`, retryable: true };
    }
  };
  let result: ConnectorResult;
  try {
    result = await callWithPermit(rdeps, permit, send, connectorVerdict);
  } catch (err) {
    // Only the wrapper's own timeout reaches here (`send` turns every connector error into a result).
    result = {
      ok: false,
      error: err instanceof ConnectorTimeoutError ? err.message : `Connector failed: ${err instanceof Error ? err.name : "error"}`,
      retryable: true,
    };
  }
  return { result, artifact, toolCall: recorded };
}

/**
 * The durable-queue job that carries out a human-approved intent (payload `{ intentId, actor }`),
 * queued in the approving transaction (services/reviews.ts) so an approval can never be left
 * without its execution. Idempotent: only the run that moves the intent APPROVED → EXECUTING
 * executes; a repeat finds it moved and reports its status (a crash mid-call is the sweeper's).
 * Over the connector's concurrency cap it is deferred — re-queued after the wrapper's retry_after
 * without spending an attempt — never failed.
 */
export const EXECUTE_APPROVED = "EXECUTE_APPROVED";

const ACTOR_TYPES = ["USER", "API_KEY", "SYSTEM"] as const;

export async function handleExecuteApprovedJob(deps: ExecDeps, payload: unknown, ctx: JobContext) {
  const p = (payload ?? {}) as { intentId?: unknown; actor?: { type?: unknown; id?: unknown } };
  const actor = p.actor;
  if (typeof p.intentId !== "string" || !actor || !(ACTOR_TYPES as readonly unknown[]).includes(actor.type) || typeof actor.id !== "string")
    throw new JobError("EXECUTE_APPROVED needs { intentId, actor: { type, id } }", { permanent: true });
  const r = await runExecution(deps, ctx.job.tenantId, p.intentId, { approvalSource: "HUMAN", actor: actor as Actor });
  if (r.status === "DEFERRED")
    throw new JobError(`CONCURRENCY_LIMIT: the connector has no free slot; retrying in ${r.retryAfterSeconds ?? 1} s`, {
      deferred: true,
      retryAfterSeconds: r.retryAfterSeconds,
    });
  return { executionId: r.executionId, status: r.status };
}
