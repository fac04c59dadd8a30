/**
 * Perception cadence (SPEC §4.4): how often and how deep each heat tier is pulled. Pure: the
 * tier table is data (a tenant may edit it), `now` is an argument, and an account's spread inside
 * a range comes from a hash of its id — so every instance computes the same due times, and a
 * population of COLD accounts is spread over the range instead of all coming due on one tick.
 */

export const PULL_TIERS = ["HOT", "WARM", "COLD"] as const;
export type PullTier = (typeof PULL_TIERS)[number];
export const PULL_DEPTHS = ["SHALLOW", "DEEP"] as const;
export type PullDepth = (typeof PULL_DEPTHS)[number];

/** Pull units a depth costs against the daily budgets. */
export const DEPTH_UNITS: Record<PullDepth, number> = { SHALLOW: 1, DEEP: 3 };

/** An interval in hours; an account's own interval lies in [minHours, maxHours] (equal: fixed). */
export interface HoursRange {
  minHours: number;
  maxHours: number;
}

export interface TierCadence {
  /** scheduled shallow pulls; null = none on a schedule */
  shallow: HoursRange | null;
  /** scheduled deep pulls; null = none on a schedule */
  deep: HoursRange | null;
  /** a signal received since the account's last pull makes a shallow pull due at once */
  shallowOnSignal: boolean;
}

export type CadenceTable = Record<PullTier, TierCadence>;

/** The reference table: HOT deep hourly + shallow on signal; WARM shallow every 6 h; COLD shallow every 3–7 days. */
export const DEFAULT_CADENCE: CadenceTable = {
  HOT: { shallow: null, deep: { minHours: 1, maxHours: 1 }, shallowOnSignal: true },
  WARM: { shallow: { minHours: 6, maxHours: 6 }, deep: null, shallowOnSignal: false },
  COLD: { shallow: { minHours: 72, maxHours: 168 }, deep: null, shallowOnSignal: false },
};

/** Bounds of an interval: more often than every 15 minutes is a polling loop; 90 days is "never". */
export const MIN_INTERVAL_HOURS = 0.25;
export const MAX_INTERVAL_HOURS = 24 * 90;

export interface CadenceProblem {
  /** dotted path in the REST shape, e.g. "tiers.COLD.shallow.max_hours" */
  field: string;
  message: string;
}

const snake = { minHours: "min_hours", maxHours: "max_hours" } as const;

/** Everything wrong with a table, each named by its field; [] when it may be saved. */
export function validateCadence(table: CadenceTable): CadenceProblem[] {
  const problems: CadenceProblem[] = [];
  for (const tier of PULL_TIERS) {
    const c = table[tier];
    for (const depth of ["shallow", "deep"] as const) {
      const r = c[depth];
      if (!r) continue;
      for (const k of ["minHours", "maxHours"] as const) {
        const v = r[k];
        if (!Number.isFinite(v) || v < MIN_INTERVAL_HOURS || v > MAX_INTERVAL_HOURS)
          problems.push({
            field: `tiers.${tier}.${depth}.${snake[k]}`,
            message: `must be between ${MIN_INTERVAL_HOURS} and ${MAX_INTERVAL_HOURS} hours`,
          });
      }
      if (r.maxHours < r.minHours) problems.push({ field: `tiers.${tier}.${depth}.max_hours`, message: "must not be less than min_hours" });
    }
  }
  return problems;
}

function readRange(v: unknown): HoursRange | null | undefined {
  if (v === null) return null;
  if (typeof v !== "object" || v === undefined) return undefined;
  const o = v as Record<string, unknown>;
  const min = o.minHours;
  const max = o.maxHours ?? min;
  if (typeof min !== "number" || typeof max !== "number") return undefined;
  return { minHours: min, maxHours: max };
}

/**
 * The stored table (JSON text already parsed) with engine defaults for what is missing or
 * unreadable, per tier and per field — a damaged entry falls back to the reference cadence rather
 * than stopping perception, and a valid stored table is returned as stored.
 */
export function readCadence(stored: unknown): CadenceTable {
  const src = stored !== null && typeof stored === "object" ? (stored as Record<string, unknown>) : {};
  const out = {} as CadenceTable;
  for (const tier of PULL_TIERS) {
    const d = DEFAULT_CADENCE[tier];
    const raw = src[tier];
    const o = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
    const shallow = readRange(o.shallow);
    const deep = readRange(o.deep);
    const entry: TierCadence = {
      shallow: shallow === undefined ? d.shallow : shallow,
      deep: deep === undefined ? d.deep : deep,
      shallowOnSignal: typeof o.shallowOnSignal === "boolean" ? o.shallowOnSignal : d.shallowOnSignal,
    };
    out[tier] = validateCadence({ ...DEFAULT_CADENCE, [tier]: entry }).length === 0 ? entry : d;
  }
  return out;
}

/** FNV-1a, 32 bit: a stable, well-spread hash of an id (not for security). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A fraction in [0, 1) fixed per (account, purpose). */
function fraction(accountId: string, salt: string) {
  return hash32(`${salt}:${accountId}`) / 4294967296;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** This account's interval inside the range, in ms, whole minutes: the same on every call. */
export function intervalMs(range: HoursRange, accountId: string): number {
  const hours = range.minHours + fraction(accountId, "interval") * (range.maxHours - range.minHours);
  return Math.max(MINUTE, Math.round((hours * HOUR) / MINUTE) * MINUTE);
}

export interface PullState {
  lastShallowAt: Date | null;
  lastDeepAt: Date | null;
  nextShallowAt: Date | null;
  nextDeepAt: Date | null;
}

export interface Schedule {
  /** the depth to pull now, if any (DEEP wins: a deep pull reads everything a shallow one does) */
  due: PullDepth | null;
  /** why: SCHEDULED, or SIGNAL for HOT's shallow-on-signal */
  trigger: "SCHEDULED" | "SIGNAL" | null;
  /** the due instant that names the slot (its pull-job id), when due */
  slotAt: Date | null;
  nextShallowAt: Date | null;
  nextDeepAt: Date | null;
}

/**
 * When an account is next due at one depth. After a pull: last + its interval. Never pulled at
 * that depth: a stored due time is kept while it is plausible under the current tier (not later
 * than one interval away); otherwise the first pull is placed at a hashed phase inside one
 * interval from now, so newly seen accounts do not all come due on the same tick.
 */
function nextAt(range: HoursRange | null, accountId: string, last: Date | null, stored: Date | null, now: Date, salt: string) {
  if (!range) return null;
  const every = intervalMs(range, accountId);
  if (last) return new Date(last.getTime() + every);
  if (stored && stored.getTime() <= now.getTime() + every) return stored;
  return new Date(now.getTime() + Math.floor((fraction(accountId, salt) * every) / MINUTE) * MINUTE);
}

/**
 * The due depth and next due times of one account under its current tier. `lastSignalAt` is the
 * newest signal received for the account (only consulted for shallow-on-signal). A deep pull
 * counts as a shallow one too (the caller records both times after a deep pull).
 */
export function schedule(
  table: CadenceTable,
  tier: PullTier,
  accountId: string,
  state: PullState,
  lastSignalAt: Date | null,
  now: Date,
): Schedule {
  const c = table[tier];
  const nextShallowAt = nextAt(c.shallow, accountId, state.lastShallowAt, state.nextShallowAt, now, "phase-shallow");
  const nextDeepAt = nextAt(c.deep, accountId, state.lastDeepAt, state.nextDeepAt, now, "phase-deep");
  const t = now.getTime();
  if (nextDeepAt && nextDeepAt.getTime() <= t) return { due: "DEEP", trigger: "SCHEDULED", slotAt: nextDeepAt, nextShallowAt, nextDeepAt };
  if (nextShallowAt && nextShallowAt.getTime() <= t)
    return { due: "SHALLOW", trigger: "SCHEDULED", slotAt: nextShallowAt, nextShallowAt, nextDeepAt };
  const lastPull = Math.max(state.lastShallowAt?.getTime() ?? 0, state.lastDeepAt?.getTime() ?? 0);
  if (c.shallowOnSignal && lastSignalAt && lastSignalAt.getTime() > lastPull)
    return { due: "SHALLOW", trigger: "SIGNAL", slotAt: lastSignalAt, nextShallowAt, nextDeepAt };
  return { due: null, trigger: null, slotAt: null, nextShallowAt, nextDeepAt };
}

/** Next due times right after a pull of `depth` at `at` (a deep pull also counts as shallow). */
export function afterPull(table: CadenceTable, tier: PullTier, accountId: string, depth: PullDepth, at: Date, before: PullState) {
  const lastShallowAt = at;
  const lastDeepAt = depth === "DEEP" ? at : before.lastDeepAt;
  const c = table[tier];
  return {
    lastShallowAt,
    lastDeepAt,
    nextShallowAt: nextAt(c.shallow, accountId, lastShallowAt, null, at, "phase-shallow"),
    nextDeepAt: nextAt(c.deep, accountId, lastDeepAt, before.nextDeepAt, at, "phase-deep"),
  };
}

/** The cadence pull's deterministic id: a repeated tick (or a second instance) asks for the same slot. */
export function cadencePullJobId(accountId: string, depth: PullDepth, trigger: "SCHEDULED" | "SIGNAL", slotAt: Date) {
  const minute = Math.floor(slotAt.getTime() / MINUTE);
  return `cadence:${accountId}:${depth}:${trigger === "SIGNAL" ? "sig" : "at"}${minute}`;
}

const TIER_RANK: Record<PullTier, number> = { HOT: 0, WARM: 1, COLD: 2 };

/** Asking order inside a tick: hottest tier first, then deep before shallow, then the longest overdue. */
export function comparePulls(
  a: { tier: PullTier; depth: PullDepth; slotAt: Date; accountId: string },
  b: { tier: PullTier; depth: PullDepth; slotAt: Date; accountId: string },
) {
  return (
    TIER_RANK[a.tier] - TIER_RANK[b.tier] ||
    (a.depth === b.depth ? 0 : a.depth === "DEEP" ? -1 : 1) ||
    a.slotAt.getTime() - b.slotAt.getTime() ||
    (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0)
  );
}

export function isPullTier(v: string): v is PullTier {
  return (PULL_TIERS as readonly string[]).includes(v);
}
