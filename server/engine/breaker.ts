/**
 * The circuit breaker's state machine (SPEC §4.7), the pure half. The database row
 * (ConnectorBreaker) stores only the phase CLOSED, OPEN or FORCED_OPEN; HALF_OPEN is what an OPEN
 * row past its `retryAt` reads as, so no timer has to flip it and any instance reading the row at
 * the same `now` sees the same state. The repo (server/repos/breaker.ts) applies the moves decided
 * here as conditional updates, so exactly one caller wins each of them.
 */

export type BreakerPhase = "CLOSED" | "OPEN" | "FORCED_OPEN";
export type BreakerState = "CLOSED" | "OPEN" | "HALF_OPEN" | "FORCED_OPEN";

export interface BreakerConfig {
  failureThreshold: number;
  windowSeconds: number;
  cooldownSeconds: number;
}

/** When a connector has no `breaker` settings: 5 failures within a minute open it for 30 s. */
export const DEFAULT_BREAKER: BreakerConfig = { failureThreshold: 5, windowSeconds: 60, cooldownSeconds: 30 };

/**
 * How long a claimed probe is its claimer's alone. Longer than any connector timeout (the wrapper's
 * default is 10 s); a claimer that dies mid-probe frees the claim when it runs out.
 */
export const PROBE_LEASE_MS = 60_000;

/** The stored row as the engine needs it; `null` (no row yet) is a CLOSED breaker without failures. */
export interface BreakerRow {
  phase: string;
  failures: number;
  windowStart: Date | null;
  retryAt: Date | null;
  probeOwner: string | null;
  probeUntil: Date | null;
}

/** The connector's stored `breaker` settings, with the defaults for what is unset or unreadable. */
export function breakerConfig(
  stored: { failure_threshold?: unknown; window_seconds?: unknown; cooldown_seconds?: unknown } | null | undefined,
): BreakerConfig {
  const pos = (v: unknown, d: number) => (typeof v === "number" && Number.isInteger(v) && v >= 1 ? v : d);
  return {
    failureThreshold: pos(stored?.failure_threshold, DEFAULT_BREAKER.failureThreshold),
    windowSeconds: pos(stored?.window_seconds, DEFAULT_BREAKER.windowSeconds),
    cooldownSeconds: pos(stored?.cooldown_seconds, DEFAULT_BREAKER.cooldownSeconds),
  };
}

const after = (d: Date | null, now: Date) => d !== null && d.getTime() > now.getTime();

/** The state a row reads as at `now`: an OPEN row whose cooldown ended is HALF_OPEN. */
export function breakerState(row: BreakerRow | null, now: Date): BreakerState {
  if (!row || row.phase === "CLOSED") return "CLOSED";
  if (row.phase === "FORCED_OPEN") return "FORCED_OPEN";
  return after(row.retryAt, now) ? "OPEN" : "HALF_OPEN";
}

/** Whole seconds until `until` (at least 1: a caller told "retry after 0 s" would spin). */
export const secondsUntil = (until: Date, now: Date) => Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));

export type Admission =
  /** CLOSED: call */
  | { kind: "PASS" }
  /** HALF_OPEN and no live probe: try to claim the probe (only the winner of the claim calls) */
  | { kind: "CLAIM_PROBE" }
  /** OPEN, FORCED_OPEN, or HALF_OPEN with a probe in flight: no call; `retryAfterSeconds` when it may change */
  | { kind: "REJECT"; state: BreakerState; retryAfterSeconds: number };

export function admit(row: BreakerRow | null, config: BreakerConfig, now: Date): Admission {
  const state = breakerState(row, now);
  if (state === "CLOSED" || !row) return { kind: "PASS" };
  // Forced open stays open until an admin closes it; "a cooldown from now" is only a polling hint.
  if (state === "FORCED_OPEN") return { kind: "REJECT", state, retryAfterSeconds: config.cooldownSeconds };
  if (state === "OPEN") return { kind: "REJECT", state, retryAfterSeconds: secondsUntil(row.retryAt as Date, now) };
  if (row.probeOwner !== null && after(row.probeUntil, now))
    return { kind: "REJECT", state, retryAfterSeconds: secondsUntil(row.probeUntil as Date, now) };
  return { kind: "CLAIM_PROBE" };
}

/**
 * What a failed call does to a CLOSED breaker: count it in the current window (a window that ended
 * starts over with this failure), and trip when the count reaches the threshold. `expect` is the
 * row as read — the repo's update is conditional on it, so a concurrent move makes it re-read.
 */
export type FailureMove =
  | { kind: "NONE" }
  | { kind: "COUNT"; failures: number; windowStart: Date; trip: false }
  | { kind: "COUNT"; failures: number; windowStart: Date; trip: true; retryAt: Date };

export function onFailure(row: BreakerRow | null, config: BreakerConfig, now: Date): FailureMove {
  // A call that was admitted before the breaker opened and fails afterwards changes nothing: the
  // breaker is already open (or forced), and the probe's own result is handled by onProbeResult.
  if (row && row.phase !== "CLOSED") return { kind: "NONE" };
  const windowOpen = row?.windowStart != null && now.getTime() - row.windowStart.getTime() < config.windowSeconds * 1000;
  const failures = windowOpen ? (row?.failures ?? 0) + 1 : 1;
  const windowStart = windowOpen ? (row?.windowStart as Date) : now;
  if (failures >= config.failureThreshold)
    return { kind: "COUNT", failures, windowStart, trip: true, retryAt: new Date(now.getTime() + config.cooldownSeconds * 1000) };
  return { kind: "COUNT", failures, windowStart, trip: false };
}

/** The probe's result: success closes the breaker, failure opens it for another cooldown. */
export function onProbeResult(ok: boolean, config: BreakerConfig, now: Date): { to: "CLOSED" } | { to: "OPEN"; retryAt: Date } {
  return ok ? { to: "CLOSED" } : { to: "OPEN", retryAt: new Date(now.getTime() + config.cooldownSeconds * 1000) };
}

/** When an admin closes a forced-open (or open) breaker it starts clean. */
export function adminMove(
  row: BreakerRow | null,
  forcedOpen: boolean,
  now: Date,
): { from: BreakerState; to: BreakerState; changed: boolean } {
  const from = breakerState(row, now);
  const to: BreakerState = forcedOpen ? "FORCED_OPEN" : "CLOSED";
  return { from, to, changed: from !== to };
}
