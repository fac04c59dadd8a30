/**
 * Decision triggers (SPEC §4.3): when is an account worth a decision run? Pure state machines;
 * the caller loads and stores the state and supplies `now`.
 *
 * Debounce with a maximum wait: the first event of a burst opens a window; later events in the
 * window are coalesced (suppressed with DEBOUNCE) and push the quiet deadline out, but the window
 * fires no later than `maxWait` after it opened — a steady drizzle cannot postpone a run forever.
 */
export const TRIGGER_TYPES = [
  "SIGNAL_ARRIVED",
  "LIFECYCLE_STATE_CHANGE",
  "POSTURE_CHANGE",
  "TIME_RITUAL_DAILY_BRIEF",
  "TIME_RITUAL_WEEKLY_REVIEW",
  "TIME_RITUAL_RENEWAL_RUNWAY",
] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

/** The time rituals (SPEC §4.3) and their default cadences (cron, in the tenant's time zone). */
export const RITUALS = ["TIME_RITUAL_DAILY_BRIEF", "TIME_RITUAL_WEEKLY_REVIEW", "TIME_RITUAL_RENEWAL_RUNWAY"] as const;
export type Ritual = (typeof RITUALS)[number];

export const DEFAULT_CADENCES: Record<Ritual, string> = {
  TIME_RITUAL_DAILY_BRIEF: "0 8 * * 1-5",
  TIME_RITUAL_WEEKLY_REVIEW: "0 9 * * 1",
  TIME_RITUAL_RENEWAL_RUNWAY: "0 7 1 * *",
};

export const SUPPRESSION_REASONS = ["DEBOUNCE", "COOLDOWN", "HOURLY_CAP"] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface TriggerSettings {
  /** quiet period per trigger type before a window fires */
  debounceSeconds: Record<TriggerType, number>;
  /** a window fires at the latest this long after it opened */
  maxWaitSeconds: Record<TriggerType, number>;
  /** minimum gap between two decision runs of one account, whatever triggered them */
  cooldownSeconds: number;
  perAccountHourlyCap: number;
  perTenantHourlyCap: number;
}

const per = (signal: number, change: number, ritual: number): Record<TriggerType, number> => ({
  SIGNAL_ARRIVED: signal,
  LIFECYCLE_STATE_CHANGE: change,
  POSTURE_CHANGE: change,
  TIME_RITUAL_DAILY_BRIEF: ritual,
  TIME_RITUAL_WEEKLY_REVIEW: ritual,
  TIME_RITUAL_RENEWAL_RUNWAY: ritual,
});

export const DEFAULT_TRIGGER_SETTINGS: TriggerSettings = {
  debounceSeconds: per(60, 30, 0),
  maxWaitSeconds: per(300, 120, 0),
  cooldownSeconds: 600,
  perAccountHourlyCap: 4,
  perTenantHourlyCap: 200,
};

/**
 * A window names at most this many of its signals (the first ones); a storm beyond it is still
 * counted (`events`) but does not grow the run's record and its ledger entries without bound.
 */
export const MAX_WINDOW_SIGNALS = 200;

/** One open debounce window per (account, trigger type). */
export interface TriggerWindow {
  openedAt: Date;
  lastEventAt: Date;
  events: number;
}

export function fireAt(w: TriggerWindow, type: TriggerType, s: TriggerSettings): Date {
  const quiet = w.lastEventAt.getTime() + s.debounceSeconds[type] * 1000;
  const cap = w.openedAt.getTime() + s.maxWaitSeconds[type] * 1000;
  return new Date(Math.min(quiet, cap));
}

export type EventOutcome =
  | { kind: "OPENED"; window: TriggerWindow; fireAt: Date }
  | { kind: "COALESCED"; window: TriggerWindow; fireAt: Date };

/** An event arrives for (account, type). Returns the new window and when it is due. */
export function onTriggerEvent(window: TriggerWindow | null, type: TriggerType, now: Date, s: TriggerSettings): EventOutcome {
  if (!window) {
    const w = { openedAt: now, lastEventAt: now, events: 1 };
    return { kind: "OPENED", window: w, fireAt: fireAt(w, type, s) };
  }
  const w = { openedAt: window.openedAt, lastEventAt: now, events: window.events + 1 };
  return { kind: "COALESCED", window: w, fireAt: fireAt(w, type, s) };
}

/** Rolling counters the caller keeps per UTC hour. */
export interface RunCounters {
  /** last decision run of this account (any trigger) */
  accountLastRunAt: Date | null;
  accountRunsThisHour: number;
  tenantRunsThisHour: number;
}

export type FireDecision =
  | { kind: "WAIT"; until: Date }
  | { kind: "FIRE"; caps: { account: number; tenant: number }; hourKey: string }
  | { kind: "SUPPRESS"; reason: Exclude<SuppressionReason, "DEBOUNCE">; explanation: string; retryAt: Date | null };

/**
 * Is a due window allowed to become a decision run now? Debounce and cooldown are decided here
 * from the counters read; a FIRE hands the hourly caps to the caller, which must take a unit with
 * conditional updates (a storm of concurrent fires cannot exceed them) and, when a cap refuses,
 * report it with `hourlyCapExceeded`.
 */
export function decideFire(window: TriggerWindow, type: TriggerType, now: Date, c: RunCounters, s: TriggerSettings): FireDecision {
  const due = fireAt(window, type, s);
  if (now < due) return { kind: "WAIT", until: due };
  if (c.accountLastRunAt && now.getTime() - c.accountLastRunAt.getTime() < s.cooldownSeconds * 1000) {
    const retryAt = new Date(c.accountLastRunAt.getTime() + s.cooldownSeconds * 1000);
    return {
      kind: "SUPPRESS",
      reason: "COOLDOWN",
      explanation: `This account had a decision run less than ${Math.round(s.cooldownSeconds / 60)} minutes ago.`,
      retryAt,
    };
  }
  if (c.accountRunsThisHour >= s.perAccountHourlyCap) return hourlyCapExceeded("ACCOUNT", now, s);
  if (c.tenantRunsThisHour >= s.perTenantHourlyCap) return hourlyCapExceeded("TENANT", now, s);
  return { kind: "FIRE", caps: { account: s.perAccountHourlyCap, tenant: s.perTenantHourlyCap }, hourKey: hourKey(now) };
}

/** The suppression for a fire that a per-account or per-tenant hourly cap refused. */
export function hourlyCapExceeded(scope: "ACCOUNT" | "TENANT", now: Date, s: TriggerSettings): FireDecision & { kind: "SUPPRESS" } {
  const cap = scope === "ACCOUNT" ? s.perAccountHourlyCap : s.perTenantHourlyCap;
  return {
    kind: "SUPPRESS",
    reason: "HOURLY_CAP",
    explanation: `${scope === "ACCOUNT" ? "This account" : "Your workspace"} already had ${cap} decision runs this hour.`,
    retryAt: nextHour(now),
  };
}

export function hourKey(now: Date) {
  return now.toISOString().slice(0, 13);
}

export function nextHour(now: Date) {
  const d = new Date(now);
  d.setUTCMinutes(0, 0, 0);
  return new Date(d.getTime() + 3_600_000);
}

/**
 * The RUN_DECISION idempotency key: tenant, account, trigger and a time bucket. Two deliveries
 * of the same trigger in the same bucket are one run; the bucket is the trigger's window start
 * (signals) or the ritual's scheduled slot.
 */
export function runIdempotencyKey(tenantId: string, accountId: string, type: TriggerType, bucket: Date) {
  return `${tenantId}:${accountId}:${type}:${bucket.toISOString()}`;
}
