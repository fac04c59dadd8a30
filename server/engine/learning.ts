import { CholeskyDecomposition, Matrix, solve } from "ml-matrix";
import type { GuardSettings, ShadowSettings } from "./learningSettings";

export * from "./learningSettings";

/**
 * Ranking calibration (SPEC §4.5). Pure: rows in, model and numbers out; the clock and the data
 * are arguments.
 *
 * The model is an L2-regularised logistic regression over a handful of categorical features of a
 * proposal as it was made (action type, the signal types that led to it, heat tier, lifecycle,
 * posture, trigger, a confidence band) and two numeric ones (its owner's past reject and edit
 * rates). It predicts whether the idea was worth doing (`trainingLabel` in ./outcomes.ts). Fitted
 * by Newton's method (IRLS) — a few exact steps, no learning rate to tune — on rows grouped by
 * identical encodings, so 100,000 outcomes cost a few thousand distinct rows. The same data and
 * seed give the same model, bit for bit: the vocabulary is sorted, the holdout split is a hash of
 * (seed, id), and nothing is sampled.
 *
 * The display confidence is the model's probability passed through a calibration curve fitted on
 * the holdout (reliability bins made monotone by pool-adjacent-violators). Neither number is ever
 * a policy input: policy reads the proposal's own confidence.
 */
export const FEATURES_VERSION = "f1";

/** What the gate snapshots onto each intent (`ActionIntent.features`) for the learning loop. */
export interface FeatureSnapshot {
  v: 1;
  tier: string | null;
  posture: string | null;
  lifecycle: string | null;
  owner_id: string | null;
  signal_types: string[];
  trigger: string | null;
}

/** One proposal as the ranker sees it. */
export interface RankInput {
  id: string;
  actionType: string;
  confidence: number;
  features: FeatureSnapshot | null;
  /** the owner's past reject and edit rates among human-judged proposals (see `SellerRates`) */
  sellerRejectRate: number;
  sellerEditRate: number;
}

export interface TrainingRow extends RankInput {
  at: Date;
  label: 0 | 1;
  /** the rules ranking it was given when proposed: the baseline every candidate is compared with */
  rulesRank: number;
  /** who the feed would show it to, and when: the groups top-K agreement ranks within */
  group: string;
}

export interface RankingModel {
  featuresVersion: string;
  /** feature name → coefficient; `bias` is the intercept (never regularised) */
  coefficients: Record<string, number>;
  /** (raw probability, display confidence) knots, raw ascending; empty = identity */
  curve: [number, number][];
  /** each owner's reject and edit rates as of the end of training: what live proposals are scored with */
  sellers: Record<string, { reject: number; edit: number }>;
}

/** A proposal as stored: what every ranker (weights or rules) scores. */
export interface Proposal {
  id: string;
  actionType: string;
  confidence: number;
  features: FeatureSnapshot | null;
}

/** The model's view of a live proposal: its owner's rates are the ones frozen in the model. */
export function rankInputFor(model: RankingModel, p: Proposal): RankInput {
  const owner = p.features?.owner_id ?? null;
  const rates = (owner && model.sellers[owner]) || SellerRates.PRIOR;
  return { ...p, sellerRejectRate: rates.reject, sellerEditRate: rates.edit };
}

const CONFIDENCE_BANDS: [number, string][] = [
  [0.85, "0.85+"],
  [0.7, "0.70-0.85"],
  [0.5, "0.50-0.70"],
  [Number.NEGATIVE_INFINITY, "<0.50"],
];

export function confidenceBand(c: number): string {
  return CONFIDENCE_BANDS.find(([min]) => c >= min)?.[1] ?? "<0.50";
}

/** The top-K group of a proposal: its owner's proposals of one UTC day. */
export function feedGroup(ownerId: string | null, at: Date): string {
  return `${ownerId ?? "-"}:${at.toISOString().slice(0, 10)}`;
}

/** The named features of one proposal: categorical ones have value 1. */
export function featuresOf(r: RankInput): Map<string, number> {
  const f = new Map<string, number>();
  f.set(`action=${r.actionType}`, 1);
  f.set(`conf=${confidenceBand(r.confidence)}`, 1);
  const s = r.features;
  if (s) {
    if (s.tier) f.set(`tier=${s.tier}`, 1);
    if (s.lifecycle) f.set(`lifecycle=${s.lifecycle}`, 1);
    if (s.posture) f.set(`posture=${s.posture}`, 1);
    if (s.trigger) f.set(`trigger=${s.trigger}`, 1);
    for (const t of s.signal_types) f.set(`signal=${t}`, 1);
  }
  // Rounded so rows group: two decimals of a rate are all the signal there is.
  f.set("seller_reject_rate", round(r.sellerRejectRate, 2));
  f.set("seller_edit_rate", round(r.sellerEditRate, 2));
  return f;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** The model's probability that the proposal is worth doing. */
export function predict(model: RankingModel, r: RankInput): number {
  const c = model.coefficients;
  let z = c.bias ?? 0;
  for (const [name, value] of featuresOf(r)) z += (c[name] ?? 0) * value;
  return sigmoid(z);
}

/** The calibration curve: linear between knots, flat beyond them. */
export function displayConfidence(model: RankingModel, raw: number): number {
  let prev: [number, number] | null = null;
  for (const knot of model.curve) {
    const [x1, y1] = knot;
    if (raw <= x1) {
      if (!prev) return y1;
      const [x0, y0] = prev;
      return x1 === x0 ? y1 : y0 + ((raw - x0) / (x1 - x0)) * (y1 - y0);
    }
    prev = knot;
  }
  return prev ? prev[1] : raw;
}

/** How the feed ranks with a model: its probability; the rules rank only breaks exact ties. */
export function scoreWith(model: RankingModel, p: Proposal) {
  const raw = predict(model, rankInputFor(model, p));
  return { rankScore: round(raw, 4), displayConfidence: round(displayConfidence(model, raw), 3) };
}

// ---------------------------------------------------------------------------------------------
// Seller rates

/** Running reject / edit counts per owner. Smoothed towards ½ so one early reject is not 100 %. */
export class SellerRates {
  /** an owner with no history */
  static readonly PRIOR = { reject: 0.5, edit: 0.5 };
  private readonly counts = new Map<string, { n: number; rejected: number; edited: number }>();

  rates(ownerId: string | null): { reject: number; edit: number } {
    const c = ownerId ? this.counts.get(ownerId) : undefined;
    if (!c) return SellerRates.PRIOR;
    return { reject: round((c.rejected + 1) / (c.n + 2), 4), edit: round((c.edited + 1) / (c.n + 2), 4) };
  }

  /** Every owner's current rates (sorted keys, so the stored model is canonical). */
  snapshot(): Record<string, { reject: number; edit: number }> {
    const out: Record<string, { reject: number; edit: number }> = {};
    for (const owner of [...this.counts.keys()].sort()) out[owner] = this.rates(owner);
    return out;
  }

  /** Count one human-judged proposal (call in time order, after reading its own rates). */
  add(ownerId: string | null, rejected: boolean, edited: boolean) {
    if (!ownerId) return;
    const c = this.counts.get(ownerId) ?? { n: 0, rejected: 0, edited: 0 };
    c.n += 1;
    if (rejected) c.rejected += 1;
    if (edited) c.edited += 1;
    this.counts.set(ownerId, c);
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export interface ReliabilityBin {
  /** lower edge of the bin (bins are 0.1 wide) */
  bin: number;
  count: number;
  mean_predicted: number | null;
  observed: number | null;
}

export interface Metrics {
  rows: number;
  log_loss: number | null;
  brier: number | null;
  top_k_agreement: number | null;
}

export interface Scored {
  id: string;
  group: string;
  score: number;
  /** a probability, for log loss and Brier; null when the scorer has none (a rank only) */
  p: number | null;
  label: 0 | 1;
}

/**
 * Top-K agreement: within each group (an owner's proposals of one UTC day), the share of the K
 * highest-ranked that the seller (and recipient) judged worth doing. Only groups that can tell
 * rankings apart count — more than K proposals, and both kinds of outcome among them.
 */
export function topKAgreement(items: readonly Scored[], k: number): { value: number | null; groups: number } {
  const groups = new Map<string, Scored[]>();
  for (const s of items) groups.set(s.group, [...(groups.get(s.group) ?? []), s]);
  let hits = 0;
  let slots = 0;
  let informative = 0;
  for (const g of groups.values()) {
    const positives = g.filter((s) => s.label === 1).length;
    if (g.length <= k || positives === 0 || positives === g.length) continue;
    informative += 1;
    const top = [...g].sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, k);
    hits += top.filter((s) => s.label === 1).length;
    slots += k;
  }
  return { value: slots === 0 ? null : round(hits / slots, 4), groups: informative };
}

export function evaluate(items: readonly Scored[], k: number): Metrics {
  const probs = items.filter((s): s is Scored & { p: number } => s.p !== null);
  const eps = 1e-12;
  const ll = probs.reduce((a, s) => a - (s.label ? Math.log(Math.max(s.p, eps)) : Math.log(Math.max(1 - s.p, eps))), 0);
  const br = probs.reduce((a, s) => a + (s.p - s.label) ** 2, 0);
  return {
    rows: items.length,
    log_loss: probs.length ? round(ll / probs.length, 5) : null,
    brier: probs.length ? round(br / probs.length, 5) : null,
    top_k_agreement: topKAgreement(items, k).value,
  };
}

export function reliability(items: readonly { p: number; label: 0 | 1 }[]): ReliabilityBin[] {
  const bins = Array.from({ length: 10 }, (_, i) => ({ bin: i / 10, count: 0, sp: 0, sy: 0 }));
  for (const s of items) {
    const b = bins[Math.min(9, Math.max(0, Math.floor(s.p * 10)))];
    if (!b) continue;
    b.count += 1;
    b.sp += s.p;
    b.sy += s.label;
  }
  return bins.map((b) => ({
    bin: b.bin,
    count: b.count,
    mean_predicted: b.count ? round(b.sp / b.count, 4) : null,
    observed: b.count ? round(b.sy / b.count, 4) : null,
  }));
}

/** Pool-adjacent-violators over the reliability bins: a non-decreasing curve of knots. */
export function calibrationCurve(bins: readonly ReliabilityBin[], minRows: number): [number, number][] {
  const used = bins.filter((b) => b.count > 0 && b.mean_predicted !== null && b.observed !== null);
  if (used.reduce((a, b) => a + b.count, 0) < minRows) return [];
  type Block = { x: number; y: number; w: number };
  const blocks: Block[] = [];
  const rate = (b: Block) => b.y / b.w;
  for (const b of used) {
    let top: Block = { x: (b.mean_predicted ?? 0) * b.count, y: (b.observed ?? 0) * b.count, w: b.count };
    // Merge with the block below while it reads higher: the curve may never go down.
    for (let below = blocks.at(-1); below && rate(below) > rate(top); below = blocks.at(-1)) {
      blocks.pop();
      top = { x: below.x + top.x, y: below.y + top.y, w: below.w + top.w };
    }
    blocks.push(top);
  }
  return blocks.map((b) => [round(b.x / b.w, 4), round(b.y / b.w, 4)]);
}

// ---------------------------------------------------------------------------------------------
// Fitting

export interface FitOptions {
  /** L2 strength (on every coefficient but the bias) */
  lambda: number;
  /** share of rows held out for evaluation and the calibration curve */
  holdout: number;
  seed: number;
  /** K of top-K agreement */
  k: number;
  /** features seen in fewer training rows than this are left out of the vocabulary */
  minFeatureCount: number;
  maxIterations: number;
  /** the owners' rates at the end of the training range (stored with the model) */
  sellers?: Record<string, { reject: number; edit: number }>;
  onProgress?: (phase: "FITTING" | "EVALUATING", fraction: number) => void;
}

export const DEFAULT_FIT: Omit<FitOptions, "seed"> = { lambda: 1, holdout: 0.2, k: 3, minFeatureCount: 3, maxIterations: 25 };

export interface FitResult {
  model: RankingModel;
  trainRows: number;
  holdoutRows: number;
  positives: number;
  negatives: number;
  iterations: number;
  converged: boolean;
  /** the candidate and the rules ranking on the same holdout rows */
  metrics: Metrics;
  baseline: Metrics;
  reliability: ReliabilityBin[];
}

/** FNV-1a of (seed, id) → [0, 1): the deterministic holdout split. */
export function unitHash(seed: number, id: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}

export function fitRanking(rows: readonly TrainingRow[], opts: FitOptions): FitResult {
  const train: TrainingRow[] = [];
  const hold: TrainingRow[] = [];
  for (const r of rows) (unitHash(opts.seed, r.id) < opts.holdout ? hold : train).push(r);
  // Too few rows to hold any out honestly: train on all, and say so through holdoutRows = 0.
  if (train.length === 0) train.push(...hold.splice(0));

  const encoded = train.map((r) => ({ f: featuresOf(r), y: r.label }));
  const seen = new Map<string, number>();
  for (const e of encoded) for (const name of e.f.keys()) seen.set(name, (seen.get(name) ?? 0) + 1);
  const vocab = [
    "bias",
    ...[...seen]
      .filter(([, n]) => n >= opts.minFeatureCount)
      .map(([name]) => name)
      .sort(),
  ];
  const index = new Map(vocab.map((name, i) => [name, i]));

  // Identical encodings become one weighted row: the sufficient statistics of the likelihood.
  // A row is its non-zero terms [feature index, value], the bias first.
  const grouped = new Map<string, { terms: [number, number][]; n: number; pos: number }>();
  for (const e of encoded) {
    const terms: [number, number][] = [[0, 1]];
    for (const [name, v] of e.f) {
      const i = index.get(name);
      if (i !== undefined && v !== 0) terms.push([i, v]);
    }
    const key = terms.map(([i, v]) => `${i}:${v}`).join(",");
    const g = grouped.get(key) ?? { terms, n: 0, pos: 0 };
    g.n += 1;
    g.pos += e.y;
    grouped.set(key, g);
  }
  const groups = [...grouped.values()];

  const d = vocab.length;
  const beta = Matrix.zeros(d, 1);
  let iterations = 0;
  let converged = false;
  for (; iterations < opts.maxIterations && !converged; iterations++) {
    // Accumulated in flat typed arrays (Matrix get/set per term dominated the fit), then copied
    // into the matrices once per iteration.
    const h = new Float64Array(d * d);
    const gv = new Float64Array(d);
    const b0 = beta.getColumn(0);
    for (const row of groups) {
      const terms = row.terms;
      const m = terms.length;
      let z = 0;
      for (let t = 0; t < m; t++) {
        const term = terms[t] as [number, number];
        z += (b0[term[0]] as number) * term[1];
      }
      const p = sigmoid(z);
      const w = row.n * p * (1 - p);
      const resid = row.pos - row.n * p;
      for (let a = 0; a < m; a++) {
        const [ia, va] = terms[a] as [number, number];
        gv[ia] = (gv[ia] as number) + resid * va;
        // Upper triangle only, mirrored below: the solver checks symmetry exactly.
        for (let b = a; b < m; b++) {
          const [ib, vb] = terms[b] as [number, number];
          const k = ia <= ib ? ia * d + ib : ib * d + ia;
          h[k] = (h[k] as number) + w * va * vb;
        }
      }
    }
    const H = Matrix.zeros(d, d);
    const g = Matrix.zeros(d, 1);
    for (let i = 0; i < d; i++) {
      g.set(i, 0, gv[i] as number);
      for (let j = i; j < d; j++) H.set(i, j, h[i * d + j] as number);
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) H.set(i, j, H.get(j, i));
    for (let i = 1; i < d; i++) {
      H.set(i, i, H.get(i, i) + opts.lambda);
      g.set(i, 0, g.get(i, 0) - opts.lambda * beta.get(i, 0));
    }
    // The penalised Hessian is symmetric positive definite (λ > 0), so Cholesky is exact and fast;
    // the general solver is the fallback for λ = 0 with a singular design.
    const chol = new CholeskyDecomposition(H);
    const step = chol.isPositiveDefinite() ? chol.solve(g) : solve(H, g, true);
    beta.add(step);
    converged = step.abs().max() < 1e-7;
    opts.onProgress?.("FITTING", Math.min(1, (iterations + 1) / opts.maxIterations));
  }
  opts.onProgress?.("FITTING", 1);

  const coefficients: Record<string, number> = {};
  vocab.forEach((name, i) => {
    coefficients[name] = round(beta.get(i, 0), 8);
  });
  const uncalibrated: RankingModel = { featuresVersion: FEATURES_VERSION, coefficients, curve: [], sellers: opts.sellers ?? {} };

  const evalRows = hold.length > 0 ? hold : train;
  const candidate = evalRows.map((r) => ({
    id: r.id,
    group: r.group,
    score: predict(uncalibrated, r),
    p: predict(uncalibrated, r),
    label: r.label,
  }));
  const rules = evalRows.map((r) => ({ id: r.id, group: r.group, score: r.rulesRank, p: r.confidence, label: r.label }));
  const bins = reliability(candidate.map((s) => ({ p: s.p, label: s.label })));
  opts.onProgress?.("EVALUATING", 1);
  const positives = rows.filter((r) => r.label === 1).length;
  return {
    model: { ...uncalibrated, curve: hold.length > 0 ? calibrationCurve(bins, 50) : [] },
    trainRows: train.length,
    holdoutRows: hold.length,
    positives,
    negatives: rows.length - positives,
    iterations,
    converged,
    metrics: evaluate(candidate, opts.k),
    baseline: evaluate(rules, opts.k),
    reliability: bins,
  };
}

// ---------------------------------------------------------------------------------------------
// Shadow gate and guarded promotion

export interface ShadowResult {
  metric: string;
  window_days: number;
  min_sample: number;
  /** the value to reach: the incumbent's value on the same proposals plus `min_lift` */
  threshold: number | null;
  value: number | null;
  baseline_value: number | null;
  sample: number;
  passed: boolean;
}

/**
 * The shadow gate: the candidate and the incumbent (ACTIVE weights, or the rules ranking) score
 * the same live proposals, and the candidate passes only with enough of them and a top-K
 * agreement at least `min_lift` above the incumbent's.
 */
export function shadowGate(candidate: readonly Scored[], incumbent: readonly Scored[], s: ShadowSettings): ShadowResult {
  const value = topKAgreement(candidate, s.k).value;
  const baseline = topKAgreement(incumbent, s.k).value;
  const threshold = baseline === null ? null : round(baseline + s.min_lift, 4);
  return {
    metric: s.metric,
    window_days: s.window_days,
    min_sample: s.min_sample,
    threshold,
    value,
    baseline_value: baseline,
    sample: candidate.length,
    passed: candidate.length >= s.min_sample && value !== null && threshold !== null && value >= threshold,
  };
}

export type GuardVerdict =
  | { kind: "ROLLBACK"; value: number; baseline_value: number; drop: number; sample: number }
  | { kind: "WATCH"; value: number | null; baseline_value: number | null; sample: number }
  | { kind: "CLEAR"; value: number | null; baseline_value: number | null; sample: number };

/**
 * Guarded promotion: on proposals decided since the promotion, the promoted weights and the ranking
 * they replaced are compared; a drop beyond the tolerance (with enough sample) rolls back, the end
 * of the window clears the watch, anything else keeps watching.
 */
export function guardVerdict(
  promoted: readonly Scored[],
  replaced: readonly Scored[],
  s: GuardSettings,
  windowOver: boolean,
  k: number,
): GuardVerdict {
  const value = topKAgreement(promoted, k).value;
  const baseline = topKAgreement(replaced, k).value;
  const sample = promoted.length;
  // Rounded like the values themselves, so a drop of exactly the tolerance (0.6 → 0.4 against
  // 0.2) is within it whatever the floating-point residue of the subtraction.
  const drop = value !== null && baseline !== null ? round(baseline - value, 4) : null;
  if (value !== null && baseline !== null && drop !== null && sample >= s.min_sample && drop > s.tolerance)
    return { kind: "ROLLBACK", value, baseline_value: baseline, drop, sample };
  return { kind: windowOver ? "CLEAR" : "WATCH", value, baseline_value: baseline, sample };
}
