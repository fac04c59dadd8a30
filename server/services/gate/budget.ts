import type { Tx } from "../../db";
import {
  type BudgetSettings,
  type ConsumptionOutcome,
  planConsumption,
  previousDays,
  settleConsumption,
  utcDateKey,
} from "../../engine/budget";
import { budgetExhausted, type PolicyResult } from "../../engine/policy";
import { refund, tryConsume, usageFor } from "../../repos/autonomy";

export type BudgetOutcome = ConsumptionOutcome & { dateKey: string };

/**
 * Policy said AUTO_EXECUTE: take today's budget unit, or turn the answer into BUDGET_EXHAUSTED.
 * The rules (caps, decay, which counter, refund) are the engine's; this only runs the
 * conditional counter updates it asks for.
 */
export async function settleBudget(
  tx: Tx,
  tenantId: string,
  accountId: string,
  actionType: string,
  result: PolicyResult,
  settings: BudgetSettings,
  now: Date,
): Promise<{ result: PolicyResult; budget: BudgetOutcome | null }> {
  if (result.decision !== "AUTO_EXECUTE") return { result, budget: null };
  const dateKey = utcDateKey(now);
  let previous = 0;
  if (settings.decayIfUnused) {
    const used = await usageFor(tx, tenantId, accountId, previousDays(now, 7));
    previous = used.filter((u) => u.actionType === "").reduce((s, u) => s + u.consumed, 0);
  }
  const plan = planConsumption(settings, actionType, previous);
  const typeConsumed = plan.typeCap === null ? undefined : await tryConsume(tx, tenantId, accountId, dateKey, actionType, plan.typeCap);
  const accountConsumed =
    plan.typeCap !== null && typeConsumed === null ? undefined : await tryConsume(tx, tenantId, accountId, dateKey, "", plan.accountCap);
  const outcome = settleConsumption(plan, typeConsumed, accountConsumed);
  if (!outcome.ok && outcome.refundType) await refund(tx, tenantId, accountId, dateKey, actionType);
  const budget = { ...outcome, dateKey };
  return { result: outcome.ok ? result : budgetExhausted(result, { cap: outcome.cap, scope: outcome.scope }), budget };
}
