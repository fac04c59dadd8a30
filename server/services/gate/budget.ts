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
import { type CounterKey, lockBudgetCounter, setBudgetCounter, usageFor } from "../../repos/autonomy";

export type BudgetOutcome = ConsumptionOutcome & { dateKey: string };

/**
 * The budget counters one admission group takes units from. Each counter is read and locked the
 * first time a member needs it (repos/autonomy.ts lockBudgetCounter), units are taken in memory
 * in arrival order — exactly what one conditional `consumed < cap` UPDATE per unit would do, as
 * nobody else can move a locked counter — and the totals are written back once, before the group
 * commits. A group of 64 admissions on one account costs two statements for its budget, not 64.
 */
export class GroupBudget {
  private readonly counters = new Map<string, { id: string; consumed: number; start: number }>();

  constructor(
    private readonly tx: Tx,
    private readonly tenantId: string,
  ) {}

  private async counter(k: CounterKey) {
    const key = `${k.accountId}|${k.dateKey}|${k.actionType}`;
    let c = this.counters.get(key);
    if (!c) {
      const row = await lockBudgetCounter(this.tx, this.tenantId, k);
      c = { ...row, start: row.consumed };
      this.counters.set(key, c);
    }
    return c;
  }

  /** Take one unit if under the cap: the new count, or null when the cap is reached. */
  async take(k: CounterKey, cap: number): Promise<number | null> {
    if (cap <= 0) return null;
    const c = await this.counter(k);
    if (c.consumed >= cap) return null;
    c.consumed += 1;
    return c.consumed;
  }

  async giveBack(k: CounterKey) {
    const c = await this.counter(k);
    if (c.consumed > 0) c.consumed -= 1;
  }

  /** A counter's level as this group's members see it: its units taken so far included. */
  async level(k: CounterKey): Promise<number> {
    const c = this.counters.get(`${k.accountId}|${k.dateKey}|${k.actionType}`);
    if (c) return c.consumed;
    return (await usageFor(this.tx, this.tenantId, k.accountId, [k.dateKey])).find((u) => u.actionType === k.actionType)?.consumed ?? 0;
  }

  /** Write the counters that moved; call once, after every member took its units. */
  async flush() {
    for (const c of this.counters.values()) if (c.consumed !== c.start) await setBudgetCounter(this.tx, this.tenantId, c.id, c.consumed);
  }
}

/**
 * Policy said AUTO_EXECUTE: take today's budget unit, or turn the answer into BUDGET_EXHAUSTED.
 * The rules (caps, decay, which counter, refund) are the engine's; this only moves the counters
 * it asks for.
 */
export async function settleBudget(
  tx: Tx,
  counters: GroupBudget,
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
  const typeKey = { accountId, dateKey, actionType };
  const typeConsumed = plan.typeCap === null ? undefined : await counters.take(typeKey, plan.typeCap);
  const accountConsumed =
    plan.typeCap !== null && typeConsumed === null
      ? undefined
      : await counters.take({ accountId, dateKey, actionType: "" }, plan.accountCap);
  const outcome = settleConsumption(plan, typeConsumed, accountConsumed);
  if (!outcome.ok && outcome.refundType) await counters.giveBack(typeKey);
  const budget = { ...outcome, dateKey };
  return { result: outcome.ok ? result : budgetExhausted(result, { cap: outcome.cap, scope: outcome.scope }), budget };
}
