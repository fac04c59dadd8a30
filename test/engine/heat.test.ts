import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  computeHeat,
  DEFAULT_HEAT_SETTINGS,
  type HeatComputation,
  type HeatSignal,
  type HeatTier,
  heatSignalsFrom,
  isQualifying,
  parseRecent,
  readHeat,
  type StoredHeat,
  type TierChange,
} from "@/server/engine/heat";

const S = DEFAULT_HEAT_SETTINGS;
const H = 3_600_000;
const t0 = new Date("2026-03-02T00:00:00Z");
const at = (hours: number) => new Date(t0.getTime() + hours * H);
const sig = (hours: number, severity = "high"): HeatSignal => ({ severity, occurredAt: at(hours), receivedAt: at(hours) });

/** The stored row a computation leaves behind (what the job writes), dirty flag cleared. */
function stored(c: HeatComputation): StoredHeat {
  return {
    score: c.score,
    tier: c.tier,
    since: c.since,
    mass: c.mass,
    recent: c.recent,
    pendingTier: c.pendingTier,
    pendingSince: c.pendingSince,
    computedAt: c.computedAt,
    dirtyAt: null,
  };
}

const compute = (previous: StoredHeat | null, signals: HeatSignal[], nowHours: number, posture = "OK") =>
  computeHeat({ previous, posture, accountCreatedAt: t0, signals, now: at(nowHours), settings: S });

describe("heat score", () => {
  it("an account with no row and no signals is COLD, 0-ish (posture base), since it was created", () => {
    const c = compute(null, [], 5);
    expect(c.tier).toBe("COLD");
    expect(c.score).toBeCloseTo(S.posture.OK?.base ?? 0, 6);
    expect(c.since).toEqual(t0);
    expect(c.changes).toEqual([]);
    expect(c.recheckAt).toBeNull();
    expect(readHeat(null, t0)).toEqual({ score: 0, tier: "COLD", since: t0 });
  });

  it("posture weighs: AT_RISK and EXPAND above OK above DORMANT for the same signals", () => {
    const sigs = [sig(0, "medium"), sig(1, "medium")];
    const by = (p: string) => compute(null, sigs, 2, p).score;
    expect(by("AT_RISK")).toBeGreaterThan(by("OK"));
    expect(by("EXPAND")).toBeGreaterThan(by("OK"));
    expect(by("OK")).toBeGreaterThan(by("DORMANT"));
    // An unknown posture reads as OK.
    expect(by("SOMETHING")).toBe(by("OK"));
  });

  it("severity, volume and recency each raise the score", () => {
    expect(compute(null, [sig(0, "high")], 0).score).toBeGreaterThan(compute(null, [sig(0, "medium")], 0).score);
    expect(compute(null, [sig(0), sig(0.1)], 0.1).score).toBeGreaterThan(compute(null, [sig(0.1)], 0.1).score);
    expect(compute(null, [sig(0)], 1).score).toBeGreaterThan(compute(null, [sig(0)], 30).score);
    // The mass halves every half-life.
    const a = compute(null, [sig(0)], 0).mass;
    expect(compute(null, [sig(0)], S.halfLifeHours).mass).toBeCloseTo(a / 2, 9);
    // A backfilled fact counts from when it occurred, not when it arrived.
    const late: HeatSignal = { severity: "high", occurredAt: at(-S.halfLifeHours), receivedAt: at(0) };
    expect(compute(null, [late], 0).mass).toBeCloseTo(a / 2, 9);
  });

  it("qualifying means above low severity", () => {
    expect(["low", "medium", "high", "critical"].map(isQualifying)).toEqual([false, true, true, true]);
  });
});

describe("promotion needs N qualifying signals in M hours and the score", () => {
  it("a burst of three high signals makes a COLD account HOT at the third signal, with the numbers", () => {
    const c = compute(null, [sig(0), sig(0.5), sig(1)], 1.5);
    expect(c.tier).toBe("HOT");
    expect(c.since).toEqual(at(1));
    expect(c.changes).toHaveLength(1);
    const ch = c.changes[0] as TierChange;
    expect(ch).toMatchObject({ from: "COLD", to: "HOT", rule: "PROMOTION", signalsInWindow: 3, at: at(1) });
    expect(ch.score).toBeGreaterThanOrEqual(S.thresholds.HOT.enter);
    // Two critical signals already score HOT, but N = 3 holds the promotion back.
    const two = compute(null, [sig(0, "critical"), sig(0.5, "critical")], 0.5);
    expect(two.score).toBeGreaterThanOrEqual(S.thresholds.HOT.enter);
    expect(two.tier).toBe("COLD");
    expect(two.pendingTier).toBe("HOT");
    // Held since the first signal: alone it already pointed above COLD (to WARM).
    expect(two.pendingSince).toEqual(at(0));
    expect(two.trace).toContain("PROMOTION_HELD");
    // ... and the third signal promotes with the hold's start recorded.
    const three = compute(stored(two), [sig(0.7)], 0.7);
    expect(three.changes[0]).toMatchObject({ to: "HOT", heldSince: at(0) });
  });

  it("one low signal does not promote a COLD account; many low signals do not either (they do not qualify)", () => {
    expect(compute(null, [sig(0, "low")], 0.1).tier).toBe("COLD");
    const lows = Array.from({ length: 40 }, (_, i) => sig(i * 0.01, "low"));
    const c = compute(null, lows, 0.5);
    expect(c.score).toBeGreaterThanOrEqual(S.thresholds.HOT.enter);
    expect(c.tier).toBe("COLD");
  });

  it("signals spread wider than M hours do not count together", () => {
    const spread = compute(null, [sig(0), sig(S.promotionWindowHours), sig(2 * S.promotionWindowHours)], 2 * S.promotionWindowHours);
    expect(spread.tier).toBe("COLD");
    const inside = compute(null, [sig(0), sig(S.promotionWindowHours / 2), sig(S.promotionWindowHours - 0.01)], S.promotionWindowHours);
    expect(inside.tier).not.toBe("COLD");
  });

  it("three medium signals make it WARM, not HOT", () => {
    const c = compute(null, [sig(0, "medium"), sig(0.1, "medium"), sig(0.2, "medium")], 0.2);
    expect(c.tier).toBe("WARM");
  });
});

describe("demotion waits the cooldown below the exit threshold", () => {
  const hot = compute(null, [sig(0), sig(0.5), sig(1)], 1);

  it("recheckAt is when the decaying score crosses the exit threshold plus the cooldown, and it demotes exactly then", () => {
    expect(hot.tier).toBe("HOT");
    const due = hot.recheckAt as Date;
    expect(due).not.toBeNull();
    const hours = (due.getTime() - t0.getTime()) / H;
    // Just before: still HOT (pending); at the instant: WARM.
    const before = compute(stored(hot), [], hours - 0.001);
    expect(before.tier).toBe("HOT");
    expect(before.pendingTier).toBe("WARM");
    expect(before.pendingSince?.getTime()).toBe(due.getTime() - S.cooldownHours * H);
    const after = compute(stored(hot), [], hours);
    expect(after.tier).toBe("WARM");
    expect(after.changes[0]).toMatchObject({ from: "HOT", to: "WARM", rule: "DEMOTION", heldSince: before.pendingSince });
    expect(after.changes[0]?.score).toBeLessThan(S.thresholds.HOT.exit);
    // The score at the crossing instant is the exit threshold.
    const crossing = compute(stored(hot), [], (before.pendingSince?.getTime() ?? 0) / H - t0.getTime() / H);
    expect(Math.abs(crossing.score - S.thresholds.HOT.exit)).toBeLessThan(1e-3);
  });

  it("a signal that lifts the score back above the exit threshold cancels the pending demotion", () => {
    const dueH = ((hot.recheckAt as Date).getTime() - t0.getTime()) / H;
    const pending = compute(stored(hot), [], dueH - 2);
    expect(pending.pendingTier).toBe("WARM");
    const lifted = compute(stored(pending), [sig(dueH - 1.5, "critical")], dueH + 1);
    expect(lifted.pendingTier).toBeNull();
    expect(lifted.tier).toBe("HOT");
    expect(lifted.trace).toContain("DEMOTION_CANCELLED");
  });

  it("left alone, HOT steps down to WARM and then COLD, each step after its own cooldown, whenever the job looks", () => {
    const c = compute(stored(hot), [], 400);
    expect(c.tier).toBe("COLD");
    expect(c.changes.map((x) => `${x.from}>${x.to}`)).toEqual(["HOT>WARM", "WARM>COLD"]);
    const [a, b] = c.changes as [TierChange, TierChange];
    expect(a.at.getTime() - (a.heldSince?.getTime() ?? 0)).toBe(S.cooldownHours * H);
    expect(b.at.getTime() - (b.heldSince?.getTime() ?? 0)).toBe(S.cooldownHours * H);
    expect(c.recheckAt).toBeNull();
  });

  it("a score below both exit thresholds when the cooldown ends drops straight to COLD", () => {
    // With a 2 h half-life the score is near the posture's base long before a 12 h cooldown ends.
    const fast = { ...S, halfLifeHours: 2 };
    const run = (previous: StoredHeat | null, signals: HeatSignal[], h: number) =>
      computeHeat({ previous, posture: "OK", accountCreatedAt: t0, signals, now: at(h), settings: fast });
    const hotFast = run(null, [sig(0), sig(0.5), sig(1)], 1);
    expect(hotFast.tier).toBe("HOT");
    const c = run(stored(hotFast), [], 30);
    expect(c.changes.map((x) => `${x.from}>${x.to}`)).toEqual(["HOT>COLD"]);
    expect(c.changes[0]?.score).toBeLessThan(S.thresholds.WARM.exit);
  });

  it("a demoted tier is not re-entered within the cooldown, even by a fresh burst; the held promotion happens when the hold ends", () => {
    const due = (hot.recheckAt as Date).getTime();
    const demotedH = (due - t0.getTime()) / H;
    const warm = compute(stored(hot), [], demotedH);
    expect(warm.tier).toBe("WARM");
    const burst = compute(stored(warm), [sig(demotedH + 1), sig(demotedH + 1.1), sig(demotedH + 1.2)], demotedH + 1.3);
    expect(burst.tier).toBe("WARM");
    expect(burst.pendingTier).toBe("HOT");
    expect(burst.recheckAt?.getTime()).toBe(due + S.cooldownHours * H);
    const later = compute(stored(burst), [], demotedH + S.cooldownHours);
    expect(later.tier).toBe("HOT");
    expect(later.changes[0]).toMatchObject({
      from: "WARM",
      to: "HOT",
      at: new Date(due + S.cooldownHours * H),
      heldSince: at(demotedH + 1.1),
    });
  });

  it("a posture that alone holds the score above the exit threshold means no recheck", () => {
    const settings = { ...S, posture: { ...S.posture, AT_RISK: { base: 0.3, gain: 1 } } };
    const c = computeHeat({
      previous: null,
      posture: "AT_RISK",
      accountCreatedAt: t0,
      signals: [sig(0, "medium"), sig(0.1, "medium"), sig(0.2, "medium")],
      now: at(1),
      settings,
    });
    expect(c.tier).not.toBe("COLD");
    expect(c.recheckAt).toBeNull();
  });
});

describe("incremental folding", () => {
  it("loads only signals received since the last computation, unless the row needs a rebuild", () => {
    const now = at(10);
    expect(heatSignalsFrom({ computedAt: at(5), dirtyAt: at(6) }, now, S)).toEqual(at(5));
    // Marked at/before the last computation: a signal committed after the job read past it.
    expect(heatSignalsFrom({ computedAt: at(5), dirtyAt: at(4) }, now, S).getTime()).toBeLessThan(at(5).getTime() - S.halfLifeHours * H);
    expect(heatSignalsFrom({ computedAt: null, dirtyAt: at(4) }, now, S).getTime()).toBeLessThan(now.getTime() - S.halfLifeHours * H);
  });

  it("a rebuild counts a late-committed signal exactly once", () => {
    const first = compute(null, [sig(1, "medium")], 5);
    // A signal received at 4 h committed after the computation at 5 h: the row is re-marked at 4 h.
    const late = { ...stored(first), dirtyAt: at(4) };
    const rebuilt = compute(late, [sig(1, "medium"), sig(4, "medium")], 6);
    const oneShot = compute(null, [sig(1, "medium"), sig(4, "medium")], 6);
    expect(rebuilt.mass).toBeCloseTo(oneShot.mass, 9);
  });

  it("the stored window accepts a fresh row's bare array and survives damage", () => {
    expect(parseRecent("[1,2]")).toEqual({ q: [1, 2], d: null });
    expect(parseRecent('{"q":[3],"d":7}')).toEqual({ q: [3], d: 7 });
    expect(parseRecent("not json")).toEqual({ q: [], d: null });
  });
});

// ---------------------------------------------------------------------------------------------
// Property: noisy random streams never flap, and the tiers do not depend on when the job runs.

const SEV = ["low", "low", "low", "medium", "medium", "high", "critical"] as const;
const stream = fc.array(
  fc.record({
    gapMinutes: fc.integer({ min: 0, max: 20 * 60 }),
    sev: fc.constantFrom(...SEV),
    backdateMinutes: fc.integer({ min: 0, max: 120 }),
  }),
  { minLength: 1, maxLength: 60 },
);

function toSignals(xs: { gapMinutes: number; sev: string; backdateMinutes: number }[]): HeatSignal[] {
  let t = 0;
  return xs.map((x) => {
    t += x.gapMinutes * 60_000;
    const receivedAt = new Date(t0.getTime() + t);
    return { severity: x.sev, receivedAt, occurredAt: new Date(receivedAt.getTime() - x.backdateMinutes * 60_000) };
  });
}

/** Run the job at the given tick times, each folding only the signals received since the last. */
function runTicks(signals: HeatSignal[], ticks: number[], posture: string) {
  let prev: StoredHeat | null = null;
  const changes: TierChange[] = [];
  const trace: string[] = [];
  for (const tick of ticks) {
    const from = prev ? heatSignalsFrom(prev, new Date(tick), S).getTime() : Number.NEGATIVE_INFINITY;
    const batch = signals.filter((s) => s.receivedAt.getTime() > from && s.receivedAt.getTime() <= tick);
    const c = computeHeat({ previous: prev, posture, accountCreatedAt: t0, signals: batch, now: new Date(tick), settings: S });
    changes.push(...c.changes);
    trace.push(...c.trace);
    prev = stored(c);
  }
  return { changes, trace, last: prev };
}

describe("property: hysteresis", () => {
  it("no tier change is reversed within the cooldown, for any noisy stream and any tick schedule; every branch is reached", () => {
    const counts = { PROMOTION: 0, DEMOTION: 0, PROMOTION_HELD: 0, DEMOTION_PENDING: 0, DEMOTION_CANCELLED: 0 };
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.integer({ min: 1, max: 30 * 60 }), { minLength: 1, maxLength: 40 }),
        fc.constantFrom("OK", "AT_RISK", "EXPAND", "DORMANT"),
        (xs, tickGaps, posture) => {
          const signals = toSignals(xs);
          const end = (signals.at(-1)?.receivedAt.getTime() ?? t0.getTime()) + 5 * 86_400_000;
          const ticks: number[] = [];
          let t = t0.getTime();
          for (const g of tickGaps) {
            t += g * 60_000;
            ticks.push(t);
          }
          ticks.push(end);
          const { changes, trace } = runTicks(
            signals,
            ticks.filter((x) => x <= end),
            posture,
          );
          for (const k of trace) counts[k as keyof typeof counts] += 1;
          // Flapping, precisely: a change A→B at t1 followed by the next change B→A at t2 < t1 + cooldown.
          for (let i = 1; i < changes.length; i++) {
            const a = changes[i - 1] as TierChange;
            const b = changes[i] as TierChange;
            expect(b.from).toBe(a.to);
            expect(b.at.getTime()).toBeGreaterThanOrEqual(a.at.getTime());
            if (b.to === a.from) expect(b.at.getTime() - a.at.getTime()).toBeGreaterThanOrEqual(S.cooldownHours * H);
          }
          // Same stream, one job run at the end: the same tier history (the job's cadence does not matter).
          const once = runTicks(signals, [end], posture);
          expect(once.changes.map((c) => [c.from, c.to, c.at.getTime()])).toEqual(changes.map((c) => [c.from, c.to, c.at.getTime()]));
          expect(once.last?.tier).toBe(
            runTicks(
              signals,
              ticks.filter((x) => x <= end),
              posture,
            ).last?.tier,
          );
        },
      ),
      { numRuns: 300, seed: 8 },
    );
    // The branches were reached: promotions, demotions, and the hysteresis holding in both directions.
    expect(counts.PROMOTION).toBeGreaterThan(0);
    expect(counts.DEMOTION).toBeGreaterThan(0);
    expect(counts.PROMOTION_HELD).toBeGreaterThan(0);
    expect(counts.DEMOTION_PENDING).toBeGreaterThan(0);
    expect(counts.DEMOTION_CANCELLED).toBeGreaterThan(0);
  });

  it("a held account is revisited: recheckAt is never in the past and is set whenever the tier could still change", () => {
    fc.assert(
      fc.property(stream, (xs) => {
        const signals = toSignals(xs);
        const now = signals.at(-1)?.receivedAt ?? t0;
        const c = computeHeat({ previous: null, posture: "OK", accountCreatedAt: t0, signals, now, settings: S });
        if (c.recheckAt) expect(c.recheckAt.getTime()).toBeGreaterThanOrEqual(now.getTime());
        const tiers: HeatTier[] = ["WARM", "HOT"];
        // A non-COLD tier with the OK posture always decays out eventually: it must be revisited.
        if (tiers.includes(c.tier)) expect(c.recheckAt).not.toBeNull();
        // Nothing changes between now and just before recheckAt.
        if (c.recheckAt && c.recheckAt.getTime() - 1 > now.getTime()) {
          const just = computeHeat({
            previous: stored(c),
            posture: "OK",
            accountCreatedAt: t0,
            signals: [],
            now: new Date(c.recheckAt.getTime() - 1),
            settings: S,
          });
          expect(just.tier).toBe(c.tier);
        }
      }),
      { numRuns: 200, seed: 9 },
    );
  });
});
