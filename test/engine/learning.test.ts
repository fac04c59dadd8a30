import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  calibrationCurve,
  DEFAULT_FIT,
  displayConfidence,
  evaluate,
  type FeatureSnapshot,
  type FitOptions,
  feedGroup,
  fitRanking as fitModel,
  type GuardSettings,
  guardVerdict,
  predict,
  type RankingModel,
  type ReliabilityBin,
  reliability,
  type Scored,
  SellerRates,
  type ShadowSettings,
  shadowGate,
  type TrainingRow,
  topKAgreement,
  unitHash,
} from "@/server/engine/learning";

/**
 * The pure calibration engine (SPEC §4.5): deterministic fitting, IRLS against a case with a known
 * answer, the calibration curve, top-K agreement, and the shadow gate's and the guard's
 * boundaries. (`fit` is imported as `fitModel`: the linter reads a bare `fit(` as a focused test.)
 */

const t0 = new Date("2026-03-02T09:00:00Z");
const snapshot = (owner: string | null, patch: Partial<FeatureSnapshot> = {}): FeatureSnapshot => ({
  v: 1,
  tier: "WARM",
  posture: "OK",
  lifecycle: "CUSTOMER",
  owner_id: owner,
  signal_types: ["USAGE_DROP"],
  trigger: "TIME_RITUAL_DAILY_BRIEF",
  ...patch,
});

function row(id: string, actionType: string, label: 0 | 1, patch: Partial<TrainingRow> = {}): TrainingRow {
  const at = patch.at ?? t0;
  const features = patch.features === undefined ? snapshot("u1") : patch.features;
  return {
    id,
    actionType,
    confidence: 0.8,
    features,
    sellerRejectRate: 0.5,
    sellerEditRate: 0.5,
    at,
    label,
    rulesRank: 0.5,
    group: feedGroup(features?.owner_id ?? null, at),
    ...patch,
  };
}

/** `n` rows of one action type, `positives` of them labelled 1. */
const rowsOf = (prefix: string, actionType: string, n: number, positives: number) =>
  Array.from({ length: n }, (_, i) => row(`${prefix}${i}`, actionType, i < positives ? 1 : 0));

const opts = (patch: Partial<FitOptions> = {}): FitOptions => ({ ...DEFAULT_FIT, seed: 1, ...patch });

const ACTIONS = ["CREATE_INTERNAL_TASK", "FLAG_FOR_REVIEW", "DRAFT_EMAIL", "SEND_EMAIL"];
const arbRow = fc
  .record({
    action: fc.constantFrom(...ACTIONS),
    label: fc.constantFrom(0 as const, 1 as const),
    confidence: fc.constantFrom(0.3, 0.6, 0.75, 0.9),
    owner: fc.constantFrom("u1", "u2", "u3"),
    tier: fc.constantFrom("HOT", "WARM", "COLD"),
    reject: fc.constantFrom(0.2, 0.5, 0.8),
    day: fc.integer({ min: 0, max: 4 }),
  })
  .map((r) => ({
    action: r.action,
    label: r.label,
    patch: {
      confidence: r.confidence,
      sellerRejectRate: r.reject,
      features: snapshot(r.owner, { tier: r.tier }),
      at: new Date(t0.getTime() + r.day * 86_400_000),
    },
  }));
const arbRows = fc
  .array(arbRow, { minLength: 1, maxLength: 120 })
  .map((rs) => rs.map((r, i) => row(`r${i}`, r.action, r.label, { ...r.patch, group: feedGroup(r.patch.features.owner_id, r.patch.at) })));

describe("fit: determinism", () => {
  it("the same rows and seed give the same model, bit for bit (canonical JSON equal)", () => {
    fc.assert(
      fc.property(arbRows, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (rows, seed) => {
        const a = fitModel(rows, opts({ seed }));
        const b = fitModel(
          rows.map((r) => ({ ...r })),
          opts({ seed }),
        );
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      }),
      { numRuns: 40 },
    );
  });

  it("the holdout split is a function of (seed, id) only: same share in every run, another seed another split", () => {
    const rows = rowsOf("h", "FLAG_FOR_REVIEW", 400, 200);
    const r1 = fitModel(rows, opts({ seed: 1 }));
    expect(fitModel(rows, opts({ seed: 1 })).holdoutRows).toBe(r1.holdoutRows);
    expect(r1.holdoutRows).toBe(rows.filter((r) => unitHash(1, r.id) < 0.2).length);
    expect(r1.holdoutRows + r1.trainRows).toBe(400);
    const held = (seed: number) => rows.filter((r) => unitHash(seed, r.id) < 0.2).map((r) => r.id);
    expect(held(2)).not.toEqual(held(1));
    for (const seed of [0, 1, 99, 2 ** 31 - 1]) for (const r of rows) expect(unitHash(seed, r.id)).toBeGreaterThanOrEqual(0);
  });

  it("with too few rows to hold any out it trains and evaluates on all of them, uncalibrated", () => {
    const rows = [row("a", "X", 1), row("b", "X", 0)];
    const res = fitModel(rows, opts({ holdout: 0 }));
    expect(res).toMatchObject({ trainRows: 2, holdoutRows: 0, positives: 1, negatives: 1 });
    expect(res.model.curve).toEqual([]);
    expect(res.metrics.rows).toBe(2);
    const all = fitModel(rows, opts({ holdout: 1 }));
    expect(all).toMatchObject({ trainRows: 2, holdoutRows: 0 });
  });
});

describe("fit: IRLS against a known answer", () => {
  // Two action types, everything else equal: the saturated model's maximum-likelihood
  // probabilities are the observed rates per type (0.75 and 0.25); a vanishing L2 penalty leaves
  // them there.
  const rows = [...rowsOf("a", "CREATE_INTERNAL_TASK", 40, 30), ...rowsOf("b", "FLAG_FOR_REVIEW", 40, 10)];

  it("converges in a few Newton steps to the observed rates", () => {
    const res = fitModel(rows, opts({ lambda: 1e-6, holdout: 0, maxIterations: 50 }));
    expect(res.converged).toBe(true);
    expect(res.iterations).toBeLessThan(15);
    expect(predict(res.model, row("q1", "CREATE_INTERNAL_TASK", 1))).toBeCloseTo(0.75, 4);
    expect(predict(res.model, row("q2", "FLAG_FOR_REVIEW", 1))).toBeCloseTo(0.25, 4);
    // The bias is not penalised: an unseen action type gets the pooled log-odds spread by the penalty.
    expect(res.model.coefficients.bias).toEqual(expect.any(Number));
  });

  it("a stronger penalty shrinks the two types towards each other, never past", () => {
    const gap = (lambda: number) => {
      const m = fitModel(rows, opts({ lambda, holdout: 0 })).model;
      return predict(m, row("q1", "CREATE_INTERNAL_TASK", 1)) - predict(m, row("q2", "FLAG_FOR_REVIEW", 1));
    };
    const gaps = [1e-6, 1, 10, 100].map(gap);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeLessThan(gaps[i - 1] as number);
    expect(gaps.at(-1)).toBeGreaterThan(0);
  });

  it("features seen in fewer than minFeatureCount training rows stay out of the vocabulary", () => {
    const rare = [...rows, row("rare", "DRAFT_EMAIL", 1)];
    const res = fitModel(rare, opts({ holdout: 0, minFeatureCount: 3 }));
    expect(Object.keys(res.model.coefficients)).not.toContain("action=DRAFT_EMAIL");
    expect(Object.keys(res.model.coefficients)[0]).toBe("bias");
    const names = Object.keys(res.model.coefficients).slice(1);
    expect(names).toEqual([...names].sort());
  });

  it("reports progress through FITTING to EVALUATING, ending at 1", () => {
    const seen: [string, number][] = [];
    fitModel(rows, opts({ onProgress: (phase, f) => seen.push([phase, f]) }));
    expect(seen.at(-1)).toEqual(["EVALUATING", 1]);
    expect(seen.filter(([p]) => p === "FITTING").at(-1)).toEqual(["FITTING", 1]);
    const fitting = seen.filter(([p]) => p === "FITTING").map(([, f]) => f);
    expect(fitting).toEqual([...fitting].sort((a, b) => a - b));
  });

  it("the candidate and the rules ranking are evaluated on the same holdout rows; reliability bins count them", () => {
    const res = fitModel(rows, opts({ seed: 3 }));
    expect(res.metrics.rows).toBe(res.holdoutRows);
    expect(res.baseline.rows).toBe(res.holdoutRows);
    expect(res.reliability.reduce((s, b) => s + b.count, 0)).toBe(res.holdoutRows);
  });
});

describe("the calibration curve", () => {
  const arbBins = fc.array(fc.record({ count: fc.integer({ min: 0, max: 40 }), observed: fc.double({ min: 0, max: 1, noNaN: true }) }), {
    minLength: 10,
    maxLength: 10,
  });
  const toBins = (xs: { count: number; observed: number }[]): ReliabilityBin[] =>
    xs.map((x, i) => ({
      bin: i / 10,
      count: x.count,
      mean_predicted: x.count ? i / 10 + 0.05 : null,
      observed: x.count ? x.observed : null,
    }));

  it("is non-decreasing, inside [0, 1], with raw knots ascending — whatever the bins say", () => {
    fc.assert(
      fc.property(arbBins, (xs) => {
        const curve = calibrationCurve(toBins(xs), 0);
        for (let i = 1; i < curve.length; i++) {
          const [x0, y0] = curve[i - 1] as [number, number];
          const [x1, y1] = curve[i] as [number, number];
          expect(y1).toBeGreaterThanOrEqual(y0);
          expect(x1).toBeGreaterThanOrEqual(x0);
        }
        for (const [x, y] of curve) {
          expect(x).toBeGreaterThanOrEqual(0);
          expect(y).toBeGreaterThanOrEqual(0);
          expect(y).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it("pools a violating pair into their weighted mean and keeps monotone bins as they are", () => {
    const bins = toBins([
      { count: 0, observed: 0 },
      { count: 10, observed: 0.1 },
      { count: 30, observed: 0.5 },
      { count: 10, observed: 0.3 },
      ...Array.from({ length: 6 }, () => ({ count: 0, observed: 0 })),
    ]);
    expect(calibrationCurve(bins, 50)).toEqual([
      [0.15, 0.1],
      [0.275, 0.45], // (30·0.25 + 10·0.35) / 40, (30·0.5 + 10·0.3) / 40
    ]);
    expect(calibrationCurve(bins, 51)).toEqual([]); // fewer rows than asked for: identity
  });

  it("display confidence follows the curve: monotone in the raw probability, flat beyond the knots", () => {
    const model: RankingModel = {
      featuresVersion: "f1",
      coefficients: {},
      curve: [
        [0.2, 0.1],
        [0.6, 0.5],
        [0.8, 0.9],
      ],
      sellers: {},
    };
    expect(displayConfidence(model, 0.05)).toBe(0.1);
    expect(displayConfidence(model, 0.4)).toBeCloseTo(0.3, 10);
    expect(displayConfidence(model, 0.95)).toBe(0.9);
    expect(displayConfidence({ ...model, curve: [] }, 0.42)).toBe(0.42);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (p, q) => {
        const [lo, hi] = p <= q ? [p, q] : [q, p];
        expect(displayConfidence(model, hi)).toBeGreaterThanOrEqual(displayConfidence(model, lo));
      }),
    );
  });

  it("reliability puts p = 1 in the top bin and reports empty bins as null", () => {
    const bins = reliability([
      { p: 1, label: 1 },
      { p: 0, label: 0 },
      { p: 0.35, label: 1 },
    ]);
    expect(bins.map((b) => b.count)).toEqual([1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    expect(bins[1]).toMatchObject({ mean_predicted: null, observed: null });
    expect(bins[3]).toMatchObject({ mean_predicted: 0.35, observed: 1 });
  });
});

/** Scored items for one group: labels in the order given, scored so the first ranks highest. */
const group = (name: string, labels: (0 | 1)[], scores?: number[]): Scored[] =>
  labels.map((label, i) => ({ id: `${name}-${i}`, group: name, score: scores?.[i] ?? labels.length - i, p: null, label }));

describe("top-K agreement", () => {
  it("counts only groups with more than K items and both outcomes", () => {
    const items = [
      ...group("small", [1, 0, 1]), // = K items: cannot tell rankings apart
      ...group("all-yes", [1, 1, 1, 1]),
      ...group("all-no", [0, 0, 0, 0]),
      ...group("g1", [1, 0, 1, 0]), // top 3: 1, 0, 1 → 2 hits
      ...group("g2", [0, 0, 0, 1, 1]), // top 3: 0, 0, 0 → 0 hits
    ];
    expect(topKAgreement(items, 3)).toEqual({ value: round4(2 / 6), groups: 2 });
    expect(topKAgreement(group("small", [1, 0, 1]), 3)).toEqual({ value: null, groups: 0 });
  });

  it("ties break by id, so the answer does not depend on input order", () => {
    const tied = group("t", [0, 1, 0, 1], [1, 1, 1, 1]);
    const k1 = topKAgreement(tied, 1);
    expect(k1).toEqual({ value: 0, groups: 1 }); // t-0 first by id, label 0
    expect(topKAgreement([...tied].reverse(), 1)).toEqual(k1);
  });

  it("evaluate: log loss and Brier only over items with a probability; top-K over all", () => {
    const items: Scored[] = [
      { id: "a", group: "g", score: 0.9, p: 0.9, label: 1 },
      { id: "b", group: "g", score: 0.2, p: 0.2, label: 0 },
      { id: "c", group: "g", score: 0.1, p: null, label: 1 },
    ];
    const m = evaluate(items, 1);
    expect(m.rows).toBe(3);
    expect(m.log_loss).toBeCloseTo((-Math.log(0.9) - Math.log(0.8)) / 2, 5);
    expect(m.brier).toBeCloseTo((0.01 + 0.04) / 2, 5);
    expect(m.top_k_agreement).toBe(1);
    expect(evaluate([], 3)).toEqual({ rows: 0, log_loss: null, brier: null, top_k_agreement: null });
  });
});

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * `n` groups of two (one positive, one negative), K = 1: the ranking puts the positive first in
 * the first `right` groups, so its top-1 agreement is right / n.
 */
function ranking(n: number, right: number): Scored[] {
  return Array.from({ length: n }, (_, g) => group(`g${g}`, g < right ? [1, 0] : [0, 1])).flat();
}

describe("the shadow gate's boundaries", () => {
  const s: ShadowSettings = { metric: "TOP_K_AGREEMENT", k: 1, window_days: 7, min_sample: 20, min_lift: 0.1 };

  it("passes exactly at the threshold (incumbent + min_lift) with exactly the minimum sample", () => {
    const res = shadowGate(ranking(10, 6), ranking(10, 5), s);
    expect(res).toMatchObject({ value: 0.6, baseline_value: 0.5, threshold: 0.6, sample: 20, passed: true });
  });

  it("fails just below the threshold, or one short of the sample", () => {
    expect(shadowGate(ranking(10, 5), ranking(10, 5), s).passed).toBe(false);
    expect(shadowGate(ranking(10, 6), ranking(10, 5), { ...s, min_sample: 21 })).toMatchObject({ sample: 20, passed: false });
  });

  it("fails when either side has no informative group (nothing to compare)", () => {
    const flat = group("only", [1, 1, 1, 1]);
    expect(shadowGate(flat, ranking(10, 5), { ...s, min_sample: 1 })).toMatchObject({ value: null, passed: false });
    expect(shadowGate(ranking(10, 10), flat, { ...s, min_sample: 1 })).toMatchObject({ threshold: null, passed: false });
  });

  it("a negative min_lift lets a candidate through that is no worse than the incumbent by more than that", () => {
    expect(shadowGate(ranking(10, 4), ranking(10, 5), { ...s, min_lift: -0.1 }).passed).toBe(true);
    expect(shadowGate(ranking(10, 3), ranking(10, 5), { ...s, min_lift: -0.1 }).passed).toBe(false);
  });
});

describe("the guard's boundaries", () => {
  const g: GuardSettings = { window_days: 7, min_sample: 20, tolerance: 0.2 };

  it("rolls back on a drop beyond the tolerance with enough sample, with the numbers", () => {
    expect(guardVerdict(ranking(10, 3), ranking(10, 6), g, false, 1)).toEqual({
      kind: "ROLLBACK",
      value: 0.3,
      baseline_value: 0.6,
      drop: 0.3,
      sample: 20,
    });
  });

  it("keeps watching a drop within the tolerance, or with too small a sample; clears when the window is over", () => {
    expect(guardVerdict(ranking(10, 5), ranking(10, 6), g, false, 1)).toMatchObject({ kind: "WATCH", value: 0.5 });
    expect(guardVerdict(ranking(10, 3), ranking(10, 6), { ...g, min_sample: 21 }, false, 1).kind).toBe("WATCH");
    expect(guardVerdict(ranking(10, 5), ranking(10, 6), g, true, 1).kind).toBe("CLEAR");
    // Even at the end of the window, a regression rolls back rather than clearing.
    expect(guardVerdict(ranking(10, 3), ranking(10, 6), g, true, 1).kind).toBe("ROLLBACK");
    expect(guardVerdict(group("only", [1, 1, 1]), ranking(10, 6), g, true, 1)).toMatchObject({ kind: "CLEAR", value: null });
  });

  it("a drop of exactly the tolerance is within it, whatever the two values are", () => {
    // 0.6 → 0.4 and 0.8 → 0.6 are both drops of exactly 0.2.
    expect(guardVerdict(ranking(10, 4), ranking(10, 6), g, false, 1).kind).toBe("WATCH");
    expect(guardVerdict(ranking(10, 6), ranking(10, 8), g, false, 1).kind).toBe("WATCH");
  });
});

describe("seller rates", () => {
  it("start at the prior, are smoothed towards ½, and snapshot with sorted owners", () => {
    const r = new SellerRates();
    expect(r.rates("u1")).toEqual(SellerRates.PRIOR);
    r.add("u2", true, false);
    r.add("u1", false, true);
    r.add("u1", true, false);
    r.add(null, true, true);
    expect(r.rates("u1")).toEqual({ reject: 0.5, edit: 0.5 });
    expect(r.rates("u2")).toEqual({ reject: round4(2 / 3), edit: round4(1 / 3) });
    expect(Object.keys(r.snapshot())).toEqual(["u1", "u2"]);
  });
});
