/** Autonomy budget arithmetic (SPEC §4.1). Days are UTC calendar days. */

export function utcDateKey(now: Date): string {
  return now.toISOString().slice(0, 10);
}

export interface BudgetSettings {
  maxPerDay: number;
  perTypeCaps: Record<string, number>;
  decayIfUnused: boolean;
}

/** Without a configured budget an account gets none: autonomy is opt-in, never implied. */
export const NO_BUDGET: BudgetSettings = { maxPerDay: 0, perTypeCaps: {}, decayIfUnused: false };

/**
 * Today's cap. With decay on, an account that used none of its autonomy over the previous seven
 * days gets half of it (rounded up): unused trust shrinks until autopilot earns it back.
 */
export function effectiveDailyCap(b: BudgetSettings, consumedPrevious7Days: number): number {
  if (b.decayIfUnused && consumedPrevious7Days === 0) return Math.ceil(b.maxPerDay / 2);
  return b.maxPerDay;
}

export function typeCap(b: BudgetSettings, actionType: string): number | null {
  // Own properties only: a type named like an Object.prototype member must not find a function.
  if (!Object.hasOwn(b.perTypeCaps, actionType)) return null;
  const cap = b.perTypeCaps[actionType];
  return typeof cap === "number" ? cap : null;
}

/** A budget as stored: the per-type caps are a JSON text. */
export interface StoredBudget {
  maxPerDay: number;
  perTypeCaps: string;
  decayIfUnused: boolean;
}

export type ReadBudget = { ok: true; settings: BudgetSettings } | { ok: false; problem: string };

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;

/**
 * Read stored budget settings. Caps only ever restrict, so an unreadable cap map must never be
 * read as "no caps": it is reported, and the gate fails closed (asks a human) on it.
 */
export function readBudgetSettings(row: StoredBudget | null): ReadBudget {
  if (!row) return { ok: true, settings: NO_BUDGET };
  if (!isCount(row.maxPerDay)) return { ok: false, problem: "the daily budget is not a whole number" };
  let caps: unknown;
  try {
    caps = JSON.parse(row.perTypeCaps);
  } catch {
    return { ok: false, problem: "the per-action-type caps are unreadable" };
  }
  if (typeof caps !== "object" || caps === null || Array.isArray(caps))
    return { ok: false, problem: "the per-action-type caps are not a map of action type to count" };
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(caps)) {
    if (!isCount(v)) return { ok: false, problem: `the per-action-type cap for ${k} is not a whole number` };
    out[k] = v;
  }
  return { ok: true, settings: { maxPerDay: row.maxPerDay, perTypeCaps: out, decayIfUnused: row.decayIfUnused } };
}

/** The counters an autonomous action must take today: the account's cap, and its type's if any. */
export interface BudgetPlan {
  accountCap: number;
  typeCap: number | null;
}

export function planConsumption(b: BudgetSettings, actionType: string, consumedPrevious7Days: number): BudgetPlan {
  return { accountCap: effectiveDailyCap(b, consumedPrevious7Days), typeCap: typeCap(b, actionType) };
}

export type ConsumptionOutcome =
  | { ok: true; cap: number; consumed: number; perType: number | null }
  | { ok: false; scope: "ACCOUNT" | "ACTION_TYPE"; cap: number; refundType: boolean };

/**
 * Settle the conditional counter updates (null = the cap was reached, undefined = not tried):
 * the type counter is taken first; if the account counter then refuses, the type unit just
 * taken must be given back, so an exhausted answer never costs anything.
 */
export function settleConsumption(
  plan: BudgetPlan,
  typeConsumed: number | null | undefined,
  accountConsumed: number | null | undefined,
): ConsumptionOutcome {
  if (plan.typeCap !== null && (typeConsumed === null || typeConsumed === undefined))
    return { ok: false, scope: "ACTION_TYPE", cap: plan.typeCap, refundType: false };
  if (accountConsumed === null || accountConsumed === undefined)
    return { ok: false, scope: "ACCOUNT", cap: plan.accountCap, refundType: plan.typeCap !== null };
  return { ok: true, cap: plan.accountCap, consumed: accountConsumed, perType: plan.typeCap };
}

export function remaining(cap: number, consumed: number) {
  return Math.max(0, cap - consumed);
}

export function previousDays(now: Date, n: number): string[] {
  return Array.from({ length: n }, (_, i) => utcDateKey(new Date(now.getTime() - (i + 1) * 86_400_000)));
}
