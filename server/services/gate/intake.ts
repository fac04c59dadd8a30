import { createHash, randomUUID } from "node:crypto";
import { renderInternalArtifact } from "../../connectors/internal";
import type { Tx } from "../../db";
import { actionSpec } from "../../engine/actions";
import { canonicalJson } from "../../engine/canonical";
import { AppError } from "../../errors";
import { loadArtifactContext } from "../../repos/artifacts";
import { assertConfigUnchanged, ConfigChangedError, configVersion, findVisibleAccount } from "../../repos/autonomy";
import { insertArtifact, insertExecution, insertOutcome, insertToolCall } from "../../repos/executions";
import { heatOf } from "../../repos/heat";
import { findIntentByKey, insertIntent, insertPolicyEvaluation } from "../../repos/intents";
import { appendLedgerBatch } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import { enqueueApprovalNotice } from "../approvals/webhook";
import { settleBudget } from "./budget";
import { evaluate } from "./evaluate";
import { admitFailClosed } from "./failClosed";
import { recordLogOnly } from "./logOnly";
import { decisionEntries, evaluationRow } from "./records";
import {
  AUTOPILOT,
  decisionFields,
  featureSnapshot,
  type GateDeps,
  type GateView,
  type IntentInput,
  intentRow,
  type LedgerDraft,
  STATUS_FOR,
} from "./types";
import { intentView } from "./view";

/**
 * The auto-execute gate (SPEC §4.2), in order: kill switches → allowlist → mode → policy (one
 * pure evaluation covers these) → idempotency guard → budget → execute. It is the one door for
 * intents: `POST /api/v1/intents` and decision runs both come through `submitIntent`. Anything
 * that goes wrong while deciding leaves the intent waiting for a human (GATE_ERROR), never
 * executing.
 */

function isUniqueViolation(err: unknown) {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "P2002";
}

/** What an idempotency key stands for: the canonical request, so a different body under it is caught. */
function requestHash(input: IntentInput) {
  const { idempotencyKey: _k, correlationId: _c, source: _s, signalTypes: _t, trigger: _g, ...body } = input;
  return createHash("sha256")
    .update(canonicalJson({ ...body, rankScore: body.rankScore ?? null }))
    .digest("hex");
}

/**
 * A repeated idempotency key answers with the first intent — but only for the same request
 * (the Stripe convention): an API caller who reuses a key for a different body gets a CONFLICT
 * naming the field instead of silently receiving someone else's result.
 */
async function existingFor(deps: GateDeps, viewer: Viewer, input: IntentInput, hash: string) {
  if (!input.idempotencyKey) return null;
  const existing = await findIntentByKey(deps.db, viewer.tenantId, input.idempotencyKey);
  if (!existing) return null;
  if (input.source === "API" && existing.requestHash !== null && existing.requestHash !== hash)
    throw new AppError("CONFLICT", "This idempotency_key was already used with a different request body", "idempotency_key");
  return { ...(await intentView(deps.db, viewer.tenantId, existing.id)), duplicate: true };
}

/** Enter an intent (from the decision layer or `POST /api/v1/intents`) and run it through the gate. */
export async function submitIntent(deps: GateDeps, viewer: Viewer, input: IntentInput): Promise<GateView & { duplicate: boolean }> {
  const hash = requestHash(input);
  const seen = await existingFor(deps, viewer, input, hash);
  if (seen) return seen;
  try {
    // One transaction from intake to outcome for the autonomous path: the decision, the budget
    // unit, the execution and the ledger commit together or not at all.
    return { ...(await admitOnCurrentConfig(deps, viewer, input, hash)), duplicate: false };
  } catch (err) {
    // Two callers raced on one idempotency key: the unique index let exactly one create it, and
    // the loser's whole transaction (including any budget it took) rolled back.
    if (input.idempotencyKey && isUniqueViolation(err)) {
      const raced = await existingFor(deps, viewer, input, hash);
      if (raced) return raced;
    }
    if (err instanceof AppError) throw err;
    return admitFailClosed(deps, viewer, input, err);
  }
}

/**
 * Admit, and if a configuration write committed while deciding (a kill switch, a narrowed mode),
 * decide again on the new configuration. Past a few tries the caller fails closed.
 */
async function admitOnCurrentConfig(deps: GateDeps, viewer: Viewer, input: IntentInput, hash: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(deps.db, (tx) => admit(tx, deps, viewer, input, hash));
    } catch (err) {
      if (!(err instanceof ConfigChangedError) || attempt >= 3) throw err;
    }
  }
}

async function admit(tx: Tx, deps: GateDeps, viewer: Viewer, input: IntentInput, hash: string): Promise<GateView> {
  const now = deps.clock.now();
  const version = await configVersion(tx, viewer.tenantId);
  const account = await findVisibleAccount(tx, viewer, input.accountId);
  if (!account || version === null) throw new AppError("NOT_FOUND", "Account not found", "account_id");
  const correlationId = input.correlationId ?? randomUUID();
  const ev = await evaluate(tx, viewer.tenantId, { ...input, lifecycle: account.lifecycle, ownerId: account.ownerId }, version);
  const { result, budget } = await settleBudget(tx, viewer.tenantId, input.accountId, input.actionType, ev.result, ev.budget, now);

  const spec = actionSpec(input.actionType);
  // Autonomy only ever reaches internal actions (external and CRM types can never pass policy),
  // and those run locally, so the execution can complete inside this transaction.
  const artifact =
    result.decision === "AUTO_EXECUTE" && spec?.connector === "internal"
      ? renderInternalArtifact(
          input.actionType,
          input.parameters,
          await loadArtifactContext(
            tx,
            viewer.tenantId,
            input.accountId,
            input.actionType,
            { accountName: account.name, why: input.why },
            now,
          ),
        )
      : null;
  const runsNow = result.decision === "AUTO_EXECUTE" && artifact !== null;
  const status = runsNow ? "SUCCEEDED" : STATUS_FOR[result.decision];

  const heat = (await heatOf(tx, viewer.tenantId, [input.accountId])).get(input.accountId);
  const intent = await insertIntent(
    tx,
    {
      ...intentRow(viewer, input, correlationId),
      features: canonicalJson(featureSnapshot(input, account, heat?.tier ?? null)),
      idempotencyKey: input.idempotencyKey ?? null,
      requestHash: input.idempotencyKey ? hash : null,
      status,
      ...decisionFields(result, now),
    },
    now,
  );
  await insertPolicyEvaluation(
    tx,
    evaluationRow(viewer.tenantId, intent.id, ev.input, result, ev.modeSource, account, budget, ev.alwaysOnMissing),
    now,
  );
  await recordLogOnly(
    tx,
    viewer.tenantId,
    {
      intentId: intent.id,
      accountId: input.accountId,
      actionType: input.actionType,
      source: input.source,
      ownerId: account.ownerId,
      input: ev.input,
      modeSource: ev.modeSource,
      result,
      budget,
      alwaysOnMissing: ev.alwaysOnMissing,
      allowlist: ev.allowlist,
      settings: ev.budget,
      proposals: ev.proposals,
    },
    now,
  );
  const base = { accountId: intent.accountId, correlationId };
  const entries: LedgerDraft[] = [
    {
      ...base,
      type: "INTENT_PROPOSED",
      actor: viewer.actor,
      payload: {
        action_intent_id: intent.id,
        action_type: input.actionType,
        confidence: input.confidence,
        risk_level: input.riskLevel,
        why: input.why,
        parameters: input.parameters,
        target: input.target,
        blocking_unknowns: input.blockingUnknowns,
        source: input.source,
        idempotency_key: input.idempotencyKey ?? null,
      },
    },
    ...decisionEntries(base, intent.id, input.actionType, ev.input, result, ev.modeSource, budget, ev.alwaysOnMissing),
  ];
  let executionId: string | null = null;
  if (runsNow && artifact) {
    const execution = await insertExecution(
      tx,
      {
        tenantId: viewer.tenantId,
        intentId: intent.id,
        approvalSource: "POLICY",
        autoExecuted: true,
        status: "SUCCEEDED",
        finishedAt: now,
      },
      now,
    );
    executionId = execution.id;
    const toolCall = await insertToolCall(
      tx,
      {
        tenantId: viewer.tenantId,
        executionId: execution.id,
        connector: "internal",
        operation: input.actionType,
        idempotencyKey: `${execution.id}:internal`,
        request: canonicalJson({ parameters: input.parameters, target: input.target }),
        status: "SUCCEEDED",
        response: canonicalJson({ kind: artifact.kind, title: artifact.title }),
        finishedAt: now,
      },
      now,
    );
    await insertArtifact(tx, { tenantId: viewer.tenantId, accountId: input.accountId, executionId: execution.id, ...artifact }, now);
    await insertOutcome(
      tx,
      {
        tenantId: viewer.tenantId,
        intentId: intent.id,
        executionId: execution.id,
        label: "EXECUTION_SUCCEEDED",
        details: canonicalJson({ kind: artifact.kind, title: artifact.title }),
      },
      now,
    );
    entries.push(
      {
        ...base,
        type: "EXECUTION_STARTED",
        actor: AUTOPILOT,
        payload: {
          execution_id: execution.id,
          action_intent_id: intent.id,
          action_type: input.actionType,
          approval_source: "POLICY",
          auto_executed: true,
        },
      },
      {
        ...base,
        type: "EXECUTION_SUCCEEDED",
        actor: AUTOPILOT,
        payload: {
          execution_id: execution.id,
          action_intent_id: intent.id,
          connector: "internal",
          tool_call_id: toolCall.id,
          auto_executed: true,
          response: { kind: artifact.kind, title: artifact.title },
        },
      },
      {
        ...base,
        type: "OUTCOME_RECORDED",
        actor: AUTOPILOT,
        payload: { action_intent_id: intent.id, execution_id: execution.id, label: "EXECUTION_SUCCEEDED" },
      },
    );
  }
  if (status === "PENDING_APPROVAL") await enqueueApprovalNotice(tx, deps.clock, viewer.tenantId, intent.id);
  await appendLedgerBatch(tx, viewer.tenantId, entries, now);
  // Now holding the ledger head lock: no configuration write can commit before this admission
  // does, and one that committed while it was deciding is seen here (see withConfigWrite).
  await assertConfigUnchanged(tx, viewer.tenantId, version);
  return {
    actionIntentId: intent.id,
    status,
    decision: result.decision,
    reason: result.reason,
    explanation: result.explanation,
    policyVersion: result.policyVersion,
    policyClause: result.policyClause,
    executionId,
  };
}
