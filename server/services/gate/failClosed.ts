import { randomUUID } from "node:crypto";
import { gateError, type PolicyResult, policyVersion } from "../../engine/policy";
import { insertIntent } from "../../repos/intents";
import { appendLedgerBatch } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import { decisionFields, GATE, GateConfigError, type GateDeps, type GateView, type IntentInput, intentRow } from "./types";
import { intentView } from "./view";

/**
 * The intake transaction failed for a reason that is not the caller's (a database fault, a bug,
 * unreadable stored configuration). Its whole transaction rolled back — no budget unit, no
 * execution — so record the intent as waiting for a human (GATE_ERROR), ledgered, and answer.
 */
export async function admitFailClosed(
  deps: Pick<GateDeps, "db" | "clock">,
  viewer: Viewer,
  input: IntentInput,
  err: unknown,
): Promise<GateView & { duplicate: boolean }> {
  // Only the error class goes to the log and ledger: messages can carry inputs or secrets.
  const kind = err instanceof Error ? err.name : "Error";
  console.error(`gate: intake of a ${input.actionType} intent failed (${kind}); left for a human`);
  const generic = gateError(policyVersion({ minConfidence: 0, prospectMinConfidence: 0, version: 0 }));
  const result: PolicyResult = err instanceof GateConfigError ? { ...generic, explanation: err.explanation } : generic;
  const id = await inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const correlationId = input.correlationId ?? randomUUID();
    const intent = await insertIntent(
      tx,
      {
        ...intentRow(viewer, input, correlationId),
        // The key stays free: the failed intake left nothing behind that a retry would collide with.
        idempotencyKey: null,
        requestHash: null,
        status: "PENDING_APPROVAL",
        ...decisionFields(result, now),
      },
      now,
    );
    const base = { accountId: input.accountId, correlationId };
    await appendLedgerBatch(
      tx,
      viewer.tenantId,
      [
        {
          ...base,
          type: "INTENT_PROPOSED",
          actor: viewer.actor,
          payload: { action_intent_id: intent.id, action_type: input.actionType, source: input.source },
        },
        {
          ...base,
          type: "POLICY_EVALUATED",
          actor: GATE,
          payload: {
            action_intent_id: intent.id,
            decision: result.decision,
            reason: result.reason,
            explanation: result.explanation,
            error_kind: kind,
          },
        },
        { ...base, type: "APPROVAL_REQUESTED", actor: GATE, payload: { action_intent_id: intent.id, reason: result.reason } },
      ],
      now,
    );
    return intent.id;
  });
  return { ...(await intentView(deps.db, viewer.tenantId, id)), duplicate: false };
}
