import { canonicalJson } from "../../engine/canonical";
import type { PolicyInput, PolicyResult } from "../../engine/policy";
import type { BudgetOutcome } from "./budget";
import { GATE, type LedgerDraft } from "./types";

/** The stored policy evaluation: the full input snapshot, so later changes never rewrite history. */
export function evaluationRow(
  tenantId: string,
  intentId: string,
  input: PolicyInput,
  result: PolicyResult,
  modeSource: string,
  account: Record<string, unknown>,
  budget: BudgetOutcome | null,
  /** what always-on lacked, when its rule applied ([] = all held); null when it did not apply */
  alwaysOnMissing: readonly string[] | null = null,
) {
  return {
    tenantId,
    intentId,
    decision: result.decision,
    reason: result.reason,
    explanation: result.explanation,
    policyVersion: result.policyVersion,
    clauses: canonicalJson(result.clauses),
    input: canonicalJson({ ...input, modeSource, account, budget, ...(alwaysOnMissing ? { alwaysOnMissing } : {}) }),
  };
}

/** POLICY_EVALUATED, then BUDGET_CONSUMED when a unit was taken, then APPROVAL_REQUESTED if a human must act. */
export function decisionEntries(
  base: { accountId: string; correlationId: string },
  intentId: string,
  actionType: string,
  input: PolicyInput,
  result: PolicyResult,
  modeSource: string,
  budget: BudgetOutcome | null,
  alwaysOnMissing: readonly string[] | null = null,
): LedgerDraft[] {
  const out: LedgerDraft[] = [
    {
      ...base,
      type: "POLICY_EVALUATED",
      actor: GATE,
      payload: {
        action_intent_id: intentId,
        action_type: actionType,
        decision: result.decision,
        reason: result.reason,
        explanation: result.explanation,
        policy_version: result.policyVersion,
        policy_clause: result.policyClause,
        clauses: result.clauses,
        mode: input.mode,
        mode_source: modeSource,
        allowlisted: input.allowlisted,
        kill_switch: input.killSwitch,
        ...(alwaysOnMissing ? { always_on_missing: alwaysOnMissing } : {}),
      },
    },
  ];
  if (budget?.ok) {
    out.push({
      ...base,
      type: "BUDGET_CONSUMED",
      actor: GATE,
      payload: {
        action_intent_id: intentId,
        date_key: budget.dateKey,
        cap: budget.cap,
        consumed: budget.consumed,
        remaining: budget.cap - budget.consumed,
      },
    });
  }
  if (result.decision === "REQUIRE_APPROVAL") {
    out.push({
      ...base,
      type: "APPROVAL_REQUESTED",
      actor: GATE,
      payload: { action_intent_id: intentId, reason: result.reason, explanation: result.explanation },
    });
  }
  return out;
}
