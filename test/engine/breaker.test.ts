import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adminMove,
  admit,
  type BreakerRow,
  breakerConfig,
  breakerState,
  DEFAULT_BREAKER,
  onFailure,
  onProbeResult,
} from "@/server/engine/breaker";
import { DEFAULT_SLO, jitteredBackoffMs, percentile, sloStatus, sloTarget } from "@/server/engine/slo";
import { SloSettings } from "@/server/schemas/connectors";

const T0 = new Date("2026-11-26T12:00:00Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const cfg = { failureThreshold: 3, windowSeconds: 60, cooldownSeconds: 30 };
const closed = (failures = 0, windowStart: Date | null = null): BreakerRow => ({
  phase: "CLOSED",
  failures,
  windowStart,
  retryAt: null,
  probeOwner: null,
  probeUntil: null,
});
const open = (retryAt: Date, probe: { owner: string; until: Date } | null = null): BreakerRow => ({
  phase: "OPEN",
  failures: 3,
  windowStart: T0,
  retryAt,
  probeOwner: probe?.owner ?? null,
  probeUntil: probe?.until ?? null,
});

describe("breaker state is computed from the row and now", () => {
  it("no row and CLOSED read CLOSED; OPEN reads OPEN until retryAt, HALF_OPEN from retryAt on; FORCED_OPEN stays", () => {
    expect(breakerState(null, T0)).toBe("CLOSED");
    expect(breakerState(closed(2, T0), T0)).toBe("CLOSED");
    expect(breakerState(open(at(30)), at(29.999))).toBe("OPEN");
    expect(breakerState(open(at(30)), at(30))).toBe("HALF_OPEN");
    expect(breakerState({ ...closed(), phase: "FORCED_OPEN" }, at(1e6))).toBe("FORCED_OPEN");
  });

  it("admission: CLOSED passes; OPEN rejects with the seconds left; HALF_OPEN claims the probe unless a live claim holds it; FORCED_OPEN rejects", () => {
    expect(admit(null, cfg, T0)).toEqual({ kind: "PASS" });
    expect(admit(open(at(30)), cfg, at(10))).toEqual({ kind: "REJECT", state: "OPEN", retryAfterSeconds: 20 });
    expect(admit(open(at(30)), cfg, at(29.5))).toEqual({ kind: "REJECT", state: "OPEN", retryAfterSeconds: 1 });
    expect(admit(open(at(30)), cfg, at(31))).toEqual({ kind: "CLAIM_PROBE" });
    expect(admit(open(at(30), { owner: "x", until: at(90) }), cfg, at(31))).toEqual({
      kind: "REJECT",
      state: "HALF_OPEN",
      retryAfterSeconds: 59,
    });
    // a dead probe's claim expired: claimable again
    expect(admit(open(at(30), { owner: "x", until: at(90) }), cfg, at(90))).toEqual({ kind: "CLAIM_PROBE" });
    expect(admit({ ...closed(), phase: "FORCED_OPEN" }, cfg, T0)).toEqual({ kind: "REJECT", state: "FORCED_OPEN", retryAfterSeconds: 30 });
  });

  it("failures count within the window, start over after it, and trip at the threshold with retryAt = now + cooldown", () => {
    expect(onFailure(null, cfg, T0)).toEqual({ kind: "COUNT", failures: 1, windowStart: T0, trip: false });
    expect(onFailure(closed(1, T0), cfg, at(59))).toEqual({ kind: "COUNT", failures: 2, windowStart: T0, trip: false });
    expect(onFailure(closed(2, T0), cfg, at(59))).toEqual({ kind: "COUNT", failures: 3, windowStart: T0, trip: true, retryAt: at(89) });
    expect(onFailure(closed(2, T0), cfg, at(60))).toEqual({ kind: "COUNT", failures: 1, windowStart: at(60), trip: false });
    expect(onFailure(open(at(30)), cfg, at(1))).toEqual({ kind: "NONE" });
    expect(onFailure({ ...closed(), phase: "FORCED_OPEN" }, cfg, at(1))).toEqual({ kind: "NONE" });
  });

  it("the probe's result closes or re-opens; an admin forces open or closes, a no-op when already so", () => {
    expect(onProbeResult(true, cfg, T0)).toEqual({ to: "CLOSED" });
    expect(onProbeResult(false, cfg, T0)).toEqual({ to: "OPEN", retryAt: at(30) });
    expect(adminMove(null, true, T0)).toEqual({ from: "CLOSED", to: "FORCED_OPEN", changed: true });
    expect(adminMove({ ...closed(), phase: "FORCED_OPEN" }, true, T0)).toMatchObject({ changed: false });
    expect(adminMove(open(at(30)), false, at(40))).toEqual({ from: "HALF_OPEN", to: "CLOSED", changed: true });
    expect(adminMove(null, false, T0)).toMatchObject({ changed: false });
  });

  it("settings: stored values when valid, the defaults for each unset or unreadable one", () => {
    expect(breakerConfig(null)).toEqual(DEFAULT_BREAKER);
    expect(breakerConfig({ failure_threshold: 2, window_seconds: 0, cooldown_seconds: "9" })).toEqual({
      failureThreshold: 2,
      windowSeconds: DEFAULT_BREAKER.windowSeconds,
      cooldownSeconds: DEFAULT_BREAKER.cooldownSeconds,
    });
  });
});

/**
 * A model run: random sequences of call results, probe claims and clock moves, applied to a row
 * the way the repo does. Invariants: the breaker opens exactly when `threshold` faults fell within
 * one window; while OPEN before retryAt nothing is admitted; after it at most one probe is live.
 */
describe("breaker model (property)", () => {
  type Step = { kind: "fail" | "ok" | "tick" | "admit"; dt: number };
  const step = fc.record({
    kind: fc.constantFrom("fail", "ok", "tick", "admit"),
    dt: fc.integer({ min: 0, max: 40 }),
  }) as fc.Arbitrary<Step>;

  it("holds its invariants and reaches every branch", () => {
    const reached = new Set<string>();
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (steps, threshold) => {
        const c = { failureThreshold: threshold, windowSeconds: 60, cooldownSeconds: 30 };
        let now = T0;
        let row: BreakerRow | null = null;
        let probe: string | null = null;
        let n = 0;
        for (const s of steps) {
          now = new Date(now.getTime() + s.dt * 1000);
          const a = admit(row, c, now);
          reached.add(`admit:${a.kind}:${breakerState(row, now)}`);
          if (a.kind === "REJECT") {
            expect(a.retryAfterSeconds).toBeGreaterThanOrEqual(1);
            expect(breakerState(row, now)).not.toBe("CLOSED");
            continue;
          }
          if (s.kind === "tick") continue;
          if (a.kind === "CLAIM_PROBE") {
            // the repo's conditional claim: only when no live claim — admit said there is none
            probe = `p${n++}`;
            row = { ...(row as BreakerRow), probeOwner: probe, probeUntil: new Date(now.getTime() + 60_000) };
            expect(admit(row, c, now).kind).toBe("REJECT"); // a second claimer is refused
            if (s.kind === "admit") continue; // the probe is in flight across later steps
            const r = onProbeResult(s.kind === "ok", c, now);
            reached.add(`probe:${r.to}`);
            row = r.to === "CLOSED" ? closed() : { ...(row as BreakerRow), retryAt: r.retryAt, probeOwner: null, probeUntil: null };
            probe = null;
            continue;
          }
          if (s.kind !== "fail") continue;
          const before = row;
          const m = onFailure(row, c, now);
          if (m.kind === "NONE") {
            reached.add("fail:NONE");
            continue;
          }
          reached.add(`fail:${m.trip ? "TRIP" : "COUNT"}`);
          const inWindow = before?.windowStart && now.getTime() - before.windowStart.getTime() < 60_000;
          expect(m.failures).toBe(inWindow ? (before?.failures ?? 0) + 1 : 1);
          expect(m.trip).toBe(m.failures >= threshold);
          row = m.trip
            ? { phase: "OPEN", failures: m.failures, windowStart: m.windowStart, retryAt: m.retryAt, probeOwner: null, probeUntil: null }
            : { ...closed(m.failures, m.windowStart) };
          if (m.trip) expect(admit(row, c, now).kind).toBe("REJECT");
        }
      }),
      { numRuns: 400 },
    );
    for (const branch of [
      "admit:PASS:CLOSED",
      "admit:REJECT:OPEN",
      "admit:CLAIM_PROBE:HALF_OPEN",
      "admit:REJECT:HALF_OPEN",
      "fail:COUNT",
      "fail:TRIP",
      "probe:CLOSED",
      "probe:OPEN",
    ])
      expect(reached, branch).toContain(branch);
  });
});

describe("SLO math", () => {
  it("nearest-rank percentiles; error rate over real calls only; alerts need enough calls and a breach", () => {
    expect(percentile([], 99)).toBeNull();
    const d = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(d, 50)).toBe(50);
    expect(percentile(d, 99)).toBe(99);
    const target = { p99Ms: 50, errorRate: 0.05, windowSeconds: 60, minSamples: 10 };
    const samples = [
      ...d.slice(0, 19).map((ms) => ({ outcome: "SUCCESS", durationMs: ms })),
      { outcome: "TIMEOUT", durationMs: 10_000 },
      { outcome: "FAIL_FAST", durationMs: 0 },
      { outcome: "DEFERRED", durationMs: 0 },
    ];
    expect(sloStatus(samples, target)).toMatchObject({ calls: 20, errorRate: 0.05, p99Ms: 10_000, breached: ["P99"], alert: true });
    expect(sloStatus(samples.slice(0, 5), target)).toMatchObject({ calls: 5, alert: false, breached: [] });
  });

  it("a connector's stored slo is its target; unset, missing or damaged fields read as the default, never as 'no alerting'", () => {
    expect(sloTarget(null)).toEqual(DEFAULT_SLO);
    expect(sloTarget(undefined)).toEqual(DEFAULT_SLO);
    expect(sloTarget({ p99_ms: 300, error_rate: 0, window_seconds: 60, min_samples: 5 })).toEqual({
      p99Ms: 300,
      errorRate: 0,
      windowSeconds: 60,
      minSamples: 5,
    });
    expect(sloTarget({ p99_ms: 300, error_rate: 0.01, window_seconds: 60 })).toEqual({
      ...DEFAULT_SLO,
      p99Ms: 300,
      errorRate: 0.01,
      windowSeconds: 60,
    });
    expect(sloTarget({ p99_ms: Number.NaN, error_rate: 2, window_seconds: 0, min_samples: 1.5 })).toEqual(DEFAULT_SLO);
    expect(sloTarget({ p99_ms: "300", error_rate: null, window_seconds: -60 })).toEqual(DEFAULT_SLO);
  });

  it("every slo the connector schema accepts is read back as exactly that target", () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            p99_ms: fc.integer({ min: 1, max: 600_000 }),
            error_rate: fc.double({ min: 0, max: 1, noNaN: true }),
            window_seconds: fc.integer({ min: 60, max: 86_400 }),
            min_samples: fc.integer({ min: 1, max: 100_000 }),
          },
          { requiredKeys: ["p99_ms", "error_rate", "window_seconds"] },
        ),
        (raw) => {
          const stored = SloSettings.parse(raw);
          expect(sloTarget(JSON.parse(JSON.stringify(stored)))).toEqual({
            p99Ms: stored.p99_ms,
            errorRate: stored.error_rate + 0, // JSON has no -0
            windowSeconds: stored.window_seconds,
            minSamples: stored.min_samples ?? DEFAULT_SLO.minSamples,
          });
        },
      ),
    );
  });

  it("full-jitter backoff stays within [0, min(cap, base·2^attempt))", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const ms = jitteredBackoffMs(attempt, r);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(Math.min(2000, 100 * 2 ** attempt));
      }),
    );
  });
});
