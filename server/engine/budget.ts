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
  const cap = b.perTypeCaps[actionType];
  return typeof cap === "number" ? cap : null;
}

export function remaining(cap: number, consumed: number) {
  return Math.max(0, cap - consumed);
}

export function previousDays(now: Date, n: number): string[] {
  return Array.from({ length: n }, (_, i) => utcDateKey(new Date(now.getTime() - (i + 1) * 86_400_000)));
}
