import { SEVERITIES, type Severity } from "./signals";

/**
 * Account heat (SPEC §4.4): a score 0..1 from posture, signal recency, volume and severity, and a
 * tier HOT | WARM | COLD with hysteresis. Pure: `now` and the settings are arguments.
 *
 * The model. Every signal adds its severity's weight to a decayed `mass` (exponential decay with
 * a half-life, counted from when the fact occurred, so a backfilled old fact adds little). The
 * score saturates with mass and is lifted and scaled by posture:
 *   score = base(posture) + (1 − base) · gain(posture) · (1 − e^(−mass / massScale))
 *
 * The tiers. Promotion to a tier needs BOTH the score at/above the tier's `enter` threshold AND at
 * least N qualifying signals (severity above low) that occurred within the last M hours. Demotion
 * happens only after the score has stayed below the tier's `exit` threshold (lower than `enter`)
 * for a cooldown. A tier left by demotion cannot be re-entered (nor anything above it) until the
 * cooldown has passed since the demotion. Together: after any tier change, the change back never
 * comes sooner than the cooldown — that is what "never flaps" means here, and the property test
 * checks exactly it.
 *
 * Time is folded event by event: between signals the state decays analytically (the instant the
 * score crosses a threshold is solved, not sampled), and each signal is applied at the moment it
 * was received. So the tiers do not depend on how often the job runs, and the job only has to fold
 * in the signals received since it last looked.
 */
export const HEAT_TIERS = ["HOT", "WARM", "COLD"] as const;
export type HeatTier = (typeof HEAT_TIERS)[number];

const RANK: Record<HeatTier, number> = { COLD: 0, WARM: 1, HOT: 2 };
const BY_RANK: HeatTier[] = ["COLD", "WARM", "HOT"];

export interface HeatSettings {
  /** signal mass halves every this many hours */
  halfLifeHours: number;
  /** mass a signal of each severity adds when it is fresh */
  severityWeight: Record<Severity, number>;
  /** mass at which the signal part of the score reaches 1 − 1/e */
  massScale: number;
  /** posture lifts (base) and scales (gain) the score; unknown postures read as OK */
  posture: Record<string, { base: number; gain: number }>;
  /** promotion to WARM / HOT needs the score at or above `enter`; demotion starts below `exit` */
  thresholds: { WARM: { enter: number; exit: number }; HOT: { enter: number; exit: number } };
  /** N: qualifying signals needed for a promotion … */
  promotionSignals: number;
  /** … within these M hours */
  promotionWindowHours: number;
  /** how long the score must stay below `exit` before a demotion; also the re-entry hold */
  cooldownHours: number;
}

export const DEFAULT_HEAT_SETTINGS: HeatSettings = {
  halfLifeHours: 24,
  severityWeight: { low: 0.25, medium: 1, high: 2.5, critical: 4 },
  massScale: 4,
  posture: {
    AT_RISK: { base: 0.2, gain: 1 },
    EXPAND: { base: 0.15, gain: 1 },
    OK: { base: 0.05, gain: 0.9 },
    DORMANT: { base: 0, gain: 0.6 },
  },
  thresholds: { WARM: { enter: 0.4, exit: 0.25 }, HOT: { enter: 0.7, exit: 0.55 } },
  promotionSignals: 3,
  promotionWindowHours: 24,
  cooldownHours: 12,
};

/** Qualifying for "N signals in M hours": any severity above low. */
export function isQualifying(severity: string): boolean {
  const i = SEVERITIES.indexOf(severity as Severity);
  return i > SEVERITIES.indexOf("low");
}

/** Words for the UI and the API docs: what each tier means and how an account moves. */
export function heatExplanation(s: HeatSettings = DEFAULT_HEAT_SETTINGS) {
  const t = s.thresholds;
  return {
    HOT: `Score ≥ ${t.HOT.enter} with ${s.promotionSignals}+ signals above low severity in ${s.promotionWindowHours} h; stays HOT until the score has been below ${t.HOT.exit} for ${s.cooldownHours} h.`,
    WARM: `Score ≥ ${t.WARM.enter} with ${s.promotionSignals}+ signals above low severity in ${s.promotionWindowHours} h; stays WARM until the score has been below ${t.WARM.exit} for ${s.cooldownHours} h.`,
    COLD: "Little recent activity. Every account starts COLD.",
    score: `Signals add weight by severity (low ${s.severityWeight.low}, medium ${s.severityWeight.medium}, high ${s.severityWeight.high}, critical ${s.severityWeight.critical}) that halves every ${s.halfLifeHours} h; posture AT_RISK and EXPAND lift the score, DORMANT damps it.`,
  };
}

export const HEAT_THRESHOLDS = DEFAULT_HEAT_SETTINGS.thresholds;

const HOUR = 3_600_000;

/** The state as stored in AccountHeat (recent is the JSON column's text). */
export interface StoredHeat {
  score: number;
  tier: string;
  since: Date;
  mass: number;
  recent: string;
  pendingTier: string | null;
  pendingSince: Date | null;
  computedAt: Date | null;
  dirtyAt: Date | null;
}

export interface HeatSignal {
  severity: string;
  occurredAt: Date;
  receivedAt: Date;
}

export interface TierChange {
  from: HeatTier;
  to: HeatTier;
  at: Date;
  score: number;
  rule: "PROMOTION" | "DEMOTION";
  signalsInWindow: number;
  /** since when the change was held back by hysteresis (pending), if it was */
  heldSince: Date | null;
}

/** What happened while folding; the property test counts these to prove each branch is reached. */
export type HeatTraceKind = "PROMOTION" | "DEMOTION" | "PROMOTION_HELD" | "DEMOTION_PENDING" | "DEMOTION_CANCELLED";

export interface HeatComputation {
  score: number;
  tier: HeatTier;
  since: Date;
  mass: number;
  recent: string;
  pendingTier: HeatTier | null;
  pendingSince: Date | null;
  computedAt: Date;
  /** absent new inputs, the earliest time the tier could change; null: never */
  recheckAt: Date | null;
  changes: TierChange[];
  /** UTC day → the highest score seen that day and the last score and tier */
  days: { day: string; maxScore: number; lastScore: number; tier: HeatTier }[];
  trace: HeatTraceKind[];
}

function asTier(x: string | null | undefined): HeatTier | null {
  return x === "HOT" || x === "WARM" || x === "COLD" ? x : null;
}

/**
 * Which signals the job must load for a row: those received after this instant (and up to now).
 * Normally the last computation (incremental). A row never computed, or one marked dirty at or
 * before its last computation — a signal whose transaction committed after the job had already
 * read past it — is rebuilt from a horizon of half-lives, beyond which a signal weighs < 0.1 %.
 */
export function heatSignalsFrom(row: Pick<StoredHeat, "computedAt" | "dirtyAt">, now: Date, s: HeatSettings): Date {
  const horizon = Math.max(10 * s.halfLifeHours, s.promotionWindowHours) * HOUR;
  if (row.computedAt && !needsRebuild(row)) return row.computedAt;
  return new Date((row.computedAt ?? now).getTime() - horizon);
}

function needsRebuild(row: Pick<StoredHeat, "computedAt" | "dirtyAt">) {
  return !row.computedAt || (row.dirtyAt !== null && row.dirtyAt.getTime() <= row.computedAt.getTime());
}

interface Recent {
  /** occurrence times (epoch ms) of qualifying signals inside the promotion window */
  q: number[];
  /** when the current tier was entered by a demotion (epoch ms), while its re-entry hold lasts */
  d: number | null;
}

/** The stored `recent` column: this object, or (a fresh row's default) a bare array of times. */
export function parseRecent(text: string): Recent {
  try {
    const v = JSON.parse(text) as unknown;
    const nums = (a: unknown) => (Array.isArray(a) ? a.filter((x): x is number => typeof x === "number" && Number.isFinite(x)) : []);
    if (Array.isArray(v)) return { q: nums(v), d: null };
    if (v && typeof v === "object") {
      const o = v as { q?: unknown; d?: unknown };
      return { q: nums(o.q), d: typeof o.d === "number" && Number.isFinite(o.d) ? o.d : null };
    }
  } catch {
    // A damaged column is rebuilt from empty rather than failing the whole batch.
  }
  return { q: [], d: null };
}

/** Bound on the stored list: beyond N·8 times, more only repeats "enough". */
const maxRecent = (s: HeatSettings) => Math.max(8, s.promotionSignals * 8);

interface State {
  at: number;
  mass: number;
  tier: HeatTier;
  since: number;
  pendingTier: HeatTier | null;
  pendingSince: number | null;
  recent: Recent;
}

class Fold {
  readonly changes: TierChange[] = [];
  readonly trace: HeatTraceKind[] = [];
  /** keyed by UTC day number (epoch days); formatted once at the end */
  readonly days = new Map<number, { maxScore: number; lastScore: number; tier: HeatTier }>();
  private readonly hl: number;
  private readonly window: number;
  private readonly cooldown: number;
  private readonly post: { base: number; gain: number };

  constructor(
    readonly st: State,
    readonly s: HeatSettings,
    posture: string,
  ) {
    this.hl = s.halfLifeHours * HOUR;
    this.window = s.promotionWindowHours * HOUR;
    this.cooldown = s.cooldownHours * HOUR;
    this.post = s.posture[posture] ?? s.posture.OK ?? { base: 0, gain: 1 };
  }

  scoreOfMass(mass: number) {
    const { base, gain } = this.post;
    return Math.min(1, Math.max(0, base + (1 - base) * gain * (1 - Math.exp(-Math.max(0, mass) / this.s.massScale))));
  }

  score() {
    return this.scoreOfMass(this.st.mass);
  }

  massAt(t: number) {
    return this.st.mass * 2 ** (-(t - this.st.at) / this.hl);
  }

  moveTo(t: number) {
    if (t <= this.st.at) return;
    this.st.mass = this.massAt(t);
    this.st.at = t;
  }

  /** Earliest t ≥ now at which the decaying score is below `thr`; null if it never gets there. */
  crossing(thr: number): number | null {
    if (this.score() < thr) return this.st.at;
    const { base, gain } = this.post;
    const frac = (thr - base) / ((1 - base) * gain);
    if (!(frac > 0)) return null; // posture alone keeps the score at or above thr
    const target = -this.s.massScale * Math.log(1 - Math.min(frac, 1));
    if (!(target > 0)) return this.st.at;
    // mass(t) = mass · 2^(−Δ/hl) < target  ⇔  Δ > hl · log2(mass / target); +1 ms lands strictly below.
    return this.st.at + Math.floor(this.hl * Math.log2(this.st.mass / target)) + 1;
  }

  inWindow(at: number) {
    return this.st.recent.q.filter((x) => x > at - this.window && x <= at).length;
  }

  private isDemotionPending() {
    return this.st.pendingTier !== null && RANK[this.st.pendingTier] < RANK[this.st.tier];
  }

  private isPromotionPending() {
    return this.st.pendingTier !== null && RANK[this.st.pendingTier] > RANK[this.st.tier];
  }

  /** The tier the score points to upwards (enter thresholds). */
  enterLevel(score: number): HeatTier {
    const t = this.s.thresholds;
    return score >= t.HOT.enter ? "HOT" : score >= t.WARM.enter ? "WARM" : "COLD";
  }

  /** The tier the score can still hold (exit thresholds): where a demotion lands. */
  exitLevel(score: number): HeatTier {
    const t = this.s.thresholds;
    return score >= t.HOT.exit ? "HOT" : score >= t.WARM.exit ? "WARM" : "COLD";
  }

  exitOf(tier: HeatTier) {
    return tier === "COLD" ? Number.NEGATIVE_INFINITY : this.s.thresholds[tier].exit;
  }

  blockEnd() {
    return this.st.recent.d === null ? null : this.st.recent.d + this.cooldown;
  }

  record(at: number) {
    const day = Math.floor(at / 86_400_000);
    const score = this.score();
    const prev = this.days.get(day);
    this.days.set(day, { maxScore: Math.max(prev?.maxScore ?? 0, score), lastScore: score, tier: this.st.tier });
  }

  private change(to: HeatTier, at: number, rule: TierChange["rule"], heldSince: number | null) {
    const from = this.st.tier;
    this.changes.push({
      from,
      to,
      at: new Date(at),
      score: this.score(),
      rule,
      signalsInWindow: this.inWindow(at),
      heldSince: heldSince === null ? null : new Date(heldSince),
    });
    this.trace.push(rule);
    this.st.tier = to;
    this.st.since = at;
    this.st.pendingTier = null;
    this.st.pendingSince = null;
    this.st.recent.d = rule === "DEMOTION" ? at : null;
    this.record(at);
  }

  /** Promote if the score and the N-in-M rule allow and no re-entry hold applies; else hold. */
  evaluatePromotion(at: number) {
    const target = this.enterLevel(this.score());
    if (RANK[target] <= RANK[this.st.tier]) {
      if (this.isPromotionPending()) {
        this.st.pendingTier = null;
        this.st.pendingSince = null;
      }
      return;
    }
    const block = this.blockEnd();
    if (this.inWindow(at) >= this.s.promotionSignals && (block === null || at >= block)) {
      this.change(target, at, "PROMOTION", this.isPromotionPending() ? this.st.pendingSince : null);
      return;
    }
    this.trace.push("PROMOTION_HELD");
    const held = this.isPromotionPending() ? this.st.pendingSince : null;
    this.st.pendingTier = target;
    this.st.pendingSince = held ?? at;
  }

  /** Let time pass to `t` with no new signal: pending demotions start and fire, holds end. */
  advance(t: number) {
    for (let guard = 0; guard < 16; guard++) {
      const events: { at: number; run: () => void }[] = [];
      if (this.isDemotionPending() && this.st.pendingSince !== null) {
        const pendingSince = this.st.pendingSince;
        events.push({
          at: pendingSince + this.cooldown,
          run: () => {
            // Only a posture change can have lifted the score back since the pending began.
            if (!this.reconcile()) return;
            const to = this.exitLevel(this.score());
            this.change(
              RANK[to] < RANK[this.st.tier] ? to : (BY_RANK[RANK[this.st.tier] - 1] as HeatTier),
              this.st.at,
              "DEMOTION",
              pendingSince,
            );
          },
        });
      } else if (this.st.tier !== "COLD") {
        const c = this.crossing(this.exitOf(this.st.tier));
        if (c !== null) {
          events.push({
            at: Math.max(c, this.st.at),
            run: () => {
              this.trace.push("DEMOTION_PENDING");
              this.st.pendingTier = BY_RANK[RANK[this.st.tier] - 1] as HeatTier;
              this.st.pendingSince = this.st.at;
            },
          });
        }
      }
      const block = this.blockEnd();
      if (block !== null) {
        events.push({
          at: Math.max(block, this.st.at),
          run: () => {
            // The hold is over: a promotion it held back happens now if it still qualifies.
            const wasHeld = this.isPromotionPending();
            this.st.recent.d = null;
            if (wasHeld) this.evaluatePromotion(this.st.at);
          },
        });
      }
      const next = events.sort((a, b) => a.at - b.at)[0];
      if (!next || next.at > t) break;
      this.moveTo(next.at);
      next.run();
    }
    this.moveTo(t);
  }

  addSignal(sig: HeatSignal) {
    const r = sig.receivedAt.getTime();
    this.advance(r);
    const occurred = Math.min(sig.occurredAt.getTime(), r);
    const weight = this.s.severityWeight[sig.severity as Severity] ?? this.s.severityWeight.medium;
    this.st.mass += weight * 2 ** (-(r - occurred) / this.hl);
    if (isQualifying(sig.severity) && occurred > r - this.window) this.pushRecent(occurred, r);
    this.reconcile();
    this.evaluatePromotion(r);
    this.record(r);
  }

  /** A pending demotion whose score is back at/above the exit threshold is cancelled; false then. */
  reconcile(): boolean {
    if (!this.isDemotionPending()) return true;
    if (this.score() < this.exitOf(this.st.tier)) return true;
    this.trace.push("DEMOTION_CANCELLED");
    this.st.pendingTier = null;
    this.st.pendingSince = null;
    return false;
  }

  pushRecent(occurred: number, at: number) {
    const q = [...this.st.recent.q, occurred].filter((x) => x > at - this.window).sort((a, b) => a - b);
    this.st.recent.q = q.slice(-maxRecent(this.s));
  }

  /** Absent new inputs, the earliest instant the tier could change. */
  recheckAt(): number | null {
    const candidates: number[] = [];
    if (this.isDemotionPending() && this.st.pendingSince !== null) candidates.push(this.st.pendingSince + this.cooldown);
    else if (this.st.tier !== "COLD") {
      const c = this.crossing(this.exitOf(this.st.tier));
      if (c !== null) candidates.push(Math.max(c, this.st.at) + this.cooldown);
    }
    const block = this.blockEnd();
    if (block !== null && this.isPromotionPending()) candidates.push(block);
    return candidates.length ? Math.min(...candidates) : null;
  }
}

export interface HeatInput {
  /** the stored row; null for an account that has none (COLD since it was created) */
  previous: StoredHeat | null;
  posture: string;
  accountCreatedAt: Date;
  /** signals received after `heatSignalsFrom(previous)` and up to `now`, any order */
  signals: HeatSignal[];
  now: Date;
  settings: HeatSettings;
}

export function computeHeat(i: HeatInput): HeatComputation {
  const s = i.settings;
  const now = i.now.getTime();
  const prev = i.previous;
  const recent = parseRecent(prev?.recent ?? "[]");
  const sorted = [...i.signals]
    .filter((x) => x.receivedAt.getTime() <= now)
    .sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
  const base = prev?.computedAt && !needsRebuild(prev) ? prev.computedAt.getTime() : null;
  const rebuildAt = prev?.computedAt && needsRebuild(prev) ? prev.computedAt.getTime() : null;

  const st: State = {
    at: base ?? rebuildAt ?? Math.min(now, sorted[0]?.receivedAt.getTime() ?? now),
    mass: base !== null ? (prev?.mass ?? 0) : 0,
    tier: asTier(prev?.tier) ?? "COLD",
    // Never computed: the account has been COLD since it was created, whenever its row appeared.
    since: (prev?.computedAt ? prev.since : i.accountCreatedAt).getTime(),
    pendingTier: asTier(prev?.pendingTier),
    pendingSince: prev?.pendingSince?.getTime() ?? null,
    recent: { q: base !== null ? recent.q : [], d: recent.d },
  };
  const fold = new Fold(st, s, i.posture);
  let events = sorted;
  if (rebuildAt !== null) {
    // Rebuild the mass and the window as of the last computation from every signal received by
    // then (the late one included); the tier state stays as it was decided.
    const upTo = sorted.filter((x) => x.receivedAt.getTime() <= rebuildAt);
    for (const x of upTo) {
      const occurred = Math.min(x.occurredAt.getTime(), x.receivedAt.getTime());
      st.mass +=
        (s.severityWeight[x.severity as Severity] ?? s.severityWeight.medium) *
        2 ** (-(rebuildAt - occurred) / fold.s.halfLifeHours / HOUR);
      if (isQualifying(x.severity) && occurred > rebuildAt - s.promotionWindowHours * HOUR) fold.pushRecent(occurred, rebuildAt);
    }
    events = sorted.filter((x) => x.receivedAt.getTime() > rebuildAt);
  }
  // The posture is read as of now and applies to the whole fold: a move may cancel a pending
  // demotion, or (with enough signals in the window) allow a promotion — as may a rebuild.
  fold.reconcile();
  fold.evaluatePromotion(st.at);
  for (const sig of events) fold.addSignal(sig);
  fold.advance(now);
  // A held promotion whose score has since decayed below its threshold is no longer pending.
  if (st.pendingTier !== null && RANK[st.pendingTier] > RANK[st.tier] && RANK[fold.enterLevel(fold.score())] <= RANK[st.tier]) {
    st.pendingTier = null;
    st.pendingSince = null;
  }
  st.recent.q = st.recent.q.filter((x) => x > now - s.promotionWindowHours * HOUR);
  fold.record(now);
  const recheck = fold.recheckAt();
  return {
    score: fold.score(),
    tier: st.tier,
    since: new Date(st.since),
    mass: st.mass,
    recent: JSON.stringify(st.recent),
    pendingTier: st.pendingTier,
    pendingSince: st.pendingSince === null ? null : new Date(st.pendingSince),
    computedAt: i.now,
    recheckAt: recheck === null ? null : new Date(recheck),
    changes: fold.changes,
    days: [...fold.days.entries()].map(([day, v]) => ({ day: new Date(day * 86_400_000).toISOString().slice(0, 10), ...v })),
    trace: fold.trace,
  };
}

/** An account's heat as the rest of the product reads it; no row means COLD, 0, since creation. */
export interface HeatReading {
  score: number;
  tier: HeatTier;
  since: Date;
}

export function readHeat(
  row: { score: number; tier: string; since: Date; computedAt: Date | null } | null | undefined,
  accountCreatedAt: Date,
): HeatReading {
  // A row the job has not computed yet (only marked dirty) is not a measurement either.
  if (!row || row.computedAt === null) return { score: 0, tier: "COLD", since: accountCreatedAt };
  return { score: row.score, tier: asTier(row.tier) ?? "COLD", since: row.since };
}

export function tierRank(t: HeatTier) {
  return RANK[t];
}
