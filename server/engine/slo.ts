/**
 * Per-connector service levels (SPEC §4.7): latency percentiles and error rate over a window of the
 * calls the resilience wrapper made, against a target. Pure: the samples come in, `now` is not
 * needed (the caller chose the window).
 */

export interface SloTarget {
  p99Ms: number;
  /** 0..1 */
  errorRate: number;
  windowSeconds: number;
  /** fewer real calls than this in the window: too little evidence to alert on */
  minSamples: number;
}

/** The same target for every connector unless one is given: 2 s p99, 5 % errors, over 15 minutes. */
export const DEFAULT_SLO: SloTarget = { p99Ms: 2000, errorRate: 0.05, windowSeconds: 15 * 60, minSamples: 20 };

/**
 * A connector's own target from its stored settings (`slo` of `PUT /api/v1/connectors/:name`,
 * snake_case as stored), field by field falling back to DEFAULT_SLO: a missing or damaged value
 * never disables alerting, it reads as the default.
 */
export function sloTarget(
  stored: { p99_ms?: unknown; error_rate?: unknown; window_seconds?: unknown; min_samples?: unknown } | null | undefined,
): SloTarget {
  const whole = (v: unknown, d: number) => (typeof v === "number" && Number.isInteger(v) && v >= 1 ? v : d);
  const rate = stored?.error_rate;
  return {
    p99Ms: whole(stored?.p99_ms, DEFAULT_SLO.p99Ms),
    errorRate: typeof rate === "number" && Number.isFinite(rate) && rate >= 0 && rate <= 1 ? rate : DEFAULT_SLO.errorRate,
    windowSeconds: whole(stored?.window_seconds, DEFAULT_SLO.windowSeconds),
    minSamples: whole(stored?.min_samples, DEFAULT_SLO.minSamples),
  };
}

/** Outcomes a sample can record; only SUCCESS, ERROR and TIMEOUT were calls that reached the connector. */
export const CALL_OUTCOMES = ["SUCCESS", "ERROR", "TIMEOUT", "FAIL_FAST", "DEFERRED"] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];
export const isRealCall = (o: string) => o === "SUCCESS" || o === "ERROR" || o === "TIMEOUT";

/** Nearest-rank percentile of an ascending list; null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

export interface SloStatus {
  calls: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errorRate: number | null;
  /** which targets are breached (empty = none, or not enough calls to say) */
  breached: ("P99" | "ERROR_RATE")[];
  alert: boolean;
}

export function sloStatus(samples: readonly { outcome: string; durationMs: number }[], target: SloTarget): SloStatus {
  const calls = samples.filter((s) => isRealCall(s.outcome));
  const durations = calls.map((s) => s.durationMs).sort((a, b) => a - b);
  const errors = calls.filter((s) => s.outcome !== "SUCCESS").length;
  const p99 = percentile(durations, 99);
  const errorRate = calls.length > 0 ? errors / calls.length : null;
  const breached: SloStatus["breached"] = [];
  if (calls.length >= target.minSamples) {
    if (p99 !== null && p99 > target.p99Ms) breached.push("P99");
    if (errorRate !== null && errorRate > target.errorRate) breached.push("ERROR_RATE");
  }
  return { calls: calls.length, p50Ms: percentile(durations, 50), p99Ms: p99, errorRate, breached, alert: breached.length > 0 };
}

/** Full jitter (AWS's "exponential backoff and jitter"): a random wait in [0, min(cap, base·2^attempt)). */
export function jitteredBackoffMs(attempt: number, random: number, baseMs = 100, capMs = 2000): number {
  return Math.floor(Math.min(capMs, baseMs * 2 ** Math.max(0, attempt)) * Math.min(Math.max(random, 0), 0.999999));
}
