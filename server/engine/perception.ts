import { DEPTH_UNITS, type PullDepth } from "./cadence";

/**
 * Pull admission (SPEC §4.4), the pure half. The order is fixed: eligibility → rate limit →
 * reserve the pull-job id → consume budget → run. The database performs the three middle steps
 * as conditional writes in one transaction (server/repos/perception.ts); this module names the
 * outcomes, decides eligibility, and computes when a deferred pull may be tried again.
 */

export const PULL_RESULTS = ["RUN", "DEFER", "SKIP"] as const;
export type PullResult = (typeof PULL_RESULTS)[number];

export const PULL_REASONS = [
  /** admitted: the connector runs */
  "ADMITTED",
  /** no pull runner is registered under this connector name */
  "NO_PULL_RUNNER",
  /** the runner exists but this tenant has not configured it (no CRM settings; demo outside the demo tenant) */
  "CONNECTOR_NOT_CONFIGURED",
  /** configured but switched off by an admin */
  "CONNECTOR_DISABLED",
  /** a CONNECTOR kill switch for this connector is on (tenant or global) */
  "KILL_SWITCH",
  /** this tenant+connector or this connector globally used its requests for the current minute */
  "RATE_LIMITED",
  /** this pull-job id was already admitted */
  "DUPLICATE_PULL_JOB_ID",
  /** the tenant's daily units or the connector's daily cap cannot pay for this depth */
  "BUDGET_EXHAUSTED",
  /** the connector's circuit breaker is open (or its one probe is in flight): try again after retry_after_seconds */
  "BREAKER_OPEN",
] as const;
export type PullReason = (typeof PULL_REASONS)[number];

export interface PullDecision {
  result: PullResult;
  reason: PullReason;
  /** seconds until trying again can succeed; only for DEFER */
  retryAfterSeconds?: number;
}

/** The pull connectors the product knows (a runner may not be registered for each yet). */
export const KNOWN_PULL_CONNECTORS = ["crm", "demo"] as const;

export type RunnerAvailability = "READY" | "NOT_CONFIGURED" | "DISABLED";

/** Step 1: may this connector be asked at all? null = eligible. Ineligibility is final (SKIP). */
export function eligibility(input: {
  hasRunner: boolean;
  availability: RunnerAvailability | null;
  connectorKillSwitchOn: boolean;
}): PullDecision | null {
  if (!input.hasRunner) return { result: "SKIP", reason: "NO_PULL_RUNNER" };
  if (input.connectorKillSwitchOn) return { result: "SKIP", reason: "KILL_SWITCH" };
  if (input.availability === "DISABLED") return { result: "SKIP", reason: "CONNECTOR_DISABLED" };
  if (input.availability !== "READY") return { result: "SKIP", reason: "CONNECTOR_NOT_CONFIGURED" };
  return null;
}

/** Rate windows are fixed, one per epoch minute: the key every instance counts in. */
export function rateWindow(now: Date): number {
  return Math.floor(now.getTime() / 60_000);
}

/** A rate-limited pull may succeed when the next window opens. */
export function rateLimitedRetryAfter(now: Date): number {
  return Math.max(1, Math.ceil(((rateWindow(now) + 1) * 60_000 - now.getTime()) / 1000));
}

/** Budgets are per UTC day: an exhausted budget refills at the next UTC midnight. */
export function budgetRetryAfter(now: Date): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}

export const rateKeys = (tenantId: string, connector: string) => ({ tenant: `t:${tenantId}:${connector}`, global: `g:${connector}` });

export function unitsFor(depth: PullDepth) {
  return DEPTH_UNITS[depth];
}

export interface PullBudgetSettings {
  unitsPerDay: number;
  /** per-connector daily caps; a connector without an entry has only the tenant total */
  perConnector: Record<string, number>;
}

export const DEFAULT_UNITS_PER_DAY = 500;
export const MAX_UNITS_PER_DAY = 10_000_000;

/** Stored per-connector caps (JSON already parsed); unreadable entries are dropped, never trusted. */
export function readPerConnector(stored: unknown): Record<string, number> {
  if (stored === null || typeof stored !== "object" || Array.isArray(stored)) return {};
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stored)) {
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) Object.defineProperty(out, k, { value: v, enumerable: true });
  }
  return out;
}

/**
 * What is left today for one connector: the smaller of the tenant's and the connector's
 * remaining units. Used to plan a tick; the conditional increments stay the authority.
 */
export function remainingFor(
  settings: PullBudgetSettings,
  used: { total: number; byConnector: Record<string, number> },
  connector: string,
) {
  const total = Math.max(0, settings.unitsPerDay - used.total);
  const cap = settings.perConnector[connector];
  return cap === undefined ? total : Math.min(total, Math.max(0, cap - (used.byConnector[connector] ?? 0)));
}

/** One pull of a batch, as the database answered for it. */
export interface BatchAsk {
  /** this batch reserved its pull-job id (false: the id was already reserved) */
  fresh: boolean;
  units: number;
}

/**
 * The admission rules over a batch of asks, in the order given — exactly what asking them one by
 * one would decide: a pull needs a rate slot first (none left: DEFER RATE_LIMITED), then its own
 * pull-job id (taken: SKIP DUPLICATE_PULL_JOB_ID, which spends neither slot nor units), then the
 * units (the tenant's and the connector's remaining; short: DEFER BUDGET_EXHAUSTED). A DEFER ends
 * the batch: the caller stops asking this connector, so the asks after it are not decided at all
 * (the result is shorter than `asks`). `connectorLeft` null = the connector has no cap of its own.
 */
export function admitInOrder(
  asks: BatchAsk[],
  limits: { slots: number; totalLeft: number; connectorLeft: number | null },
  now: Date,
): PullDecision[] {
  const out: PullDecision[] = [];
  let slots = limits.slots;
  let total = limits.totalLeft;
  let own = limits.connectorLeft ?? Number.POSITIVE_INFINITY;
  for (const a of asks) {
    if (slots <= 0) {
      out.push({ result: "DEFER", reason: "RATE_LIMITED", retryAfterSeconds: rateLimitedRetryAfter(now) });
      return out;
    }
    if (!a.fresh) {
      out.push({ result: "SKIP", reason: "DUPLICATE_PULL_JOB_ID" });
      continue;
    }
    if (a.units > total || a.units > own) {
      out.push({ result: "DEFER", reason: "BUDGET_EXHAUSTED", retryAfterSeconds: budgetRetryAfter(now) });
      return out;
    }
    slots -= 1;
    total -= a.units;
    own -= a.units;
    out.push({ result: "RUN", reason: "ADMITTED" });
  }
  return out;
}
