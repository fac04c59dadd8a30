import { type AllowRow, AUTONOMY_MODES, type AutonomyMode, type ModeSource } from "./autonomy";
import { utcDateKey } from "./budget";
import { evaluatePolicy, type PolicyInput } from "./policy";

/**
 * Policy what-if (SPEC §4.8): replay stored gate evaluations through the current policy with
 * proposed configuration changes and report every intent whose decision or reason would change.
 * Pure: the caller streams the stored evaluations in time order; nothing here reads or writes.
 * The same replay decides log-only mode's "proposed" answer inside the gate (one evaluation at a
 * time), so a proposal's report and a later what-if of the same changes agree.
 *
 * What each change means, given only what an evaluation stored:
 * - `mode`: the stored input records which precedence level its mode came from (`modeSource`).
 *   A change applies when it covers the evaluation (its account and type, when given, match) and
 *   its own level is at least as specific as the one that decided (SPEC §4.1 first-match order);
 *   a less specific change would have been shadowed, exactly as in the gate.
 * - `allowlist`: the stored input says only whether the type was allowlisted. Which level listed it
 *   (tenant or account) is read from the allowlist as it is now (`WhatIfContext.allowlist`); a type
 *   that was allowlisted at a level no longer listed is taken as tenant-wide.
 * - `max_autonomous_per_day` (an account's budget, or without `account_id` the tenant default that
 *   accounts without their own budget use): budget consumption is replayed per account and UTC day in time order:
 *   every evaluation carries the stored counter (consumed, or the cap it hit), and the replay keeps
 *   the difference the changes made so far that day — so a decision that no longer auto-executes
 *   frees a unit for a later one, and a bigger cap lets a later one through. Per-action-type caps
 *   are not part of the change list: an evaluation stopped by one stays stopped.
 * Always-on (NOT_OPTED_IN) and the budget come after the pure policy, in the gate's order.
 */

export interface PolicyChange {
  accountId?: string;
  actionType?: string;
  mode?: AutonomyMode;
  allowlist?: boolean;
  maxAutonomousPerDay?: number;
}

/** The budget outcome the gate stored with an evaluation (services/gate/budget.ts). */
export type StoredBudgetOutcome =
  | { ok: true; cap: number; consumed: number; dateKey: string }
  | { ok: false; scope: "ACCOUNT" | "ACTION_TYPE"; cap: number; dateKey: string };

export interface StoredEvaluation {
  intentId: string;
  accountId: string;
  actionType: string;
  at: Date;
  /** the recorded final answer (after always-on and budget) */
  decision: string;
  reason: string | null;
  input: PolicyInput;
  modeSource: ModeSource;
  budget: StoredBudgetOutcome | null;
  /** what always-on lacked ([] = all held); null when its rule does not apply (not a decision run's proposal) */
  alwaysOnMissing: readonly string[] | null;
}

export interface WhatIfContext {
  /** the tenant's allowlist rows now: which level lists a type */
  allowlist: readonly AllowRow[];
  /** configured daily cap per account key ("" = tenant default), for evaluations that recorded none */
  budgetCaps: ReadonlyMap<string, number>;
}

export interface Outcome {
  decision: string;
  reason: string | null;
}

export interface ChangedEvaluation {
  actionIntentId: string;
  actionType: string;
  accountId: string;
  at: Date;
  before: Outcome;
  after: Outcome;
  /** false when only the reason would differ */
  decisionChanged: boolean;
}

export interface ActionTypeCounts {
  evaluated: number;
  /** the decision would differ */
  changed: number;
  /** same decision, another reason (e.g. a low-confidence intent now asked for because of its mode) */
  reasonChanged: number;
  /** "BEFORE→AFTER" decision pairs of the changed ones, with their counts */
  transitions: Map<string, number>;
  /** every evaluation's decision as recorded, and as it would be */
  before: Map<string, number>;
  after: Map<string, number>;
}

const RANK: Record<ModeSource, number> = { GLOBAL_DEFAULT: 0, TENANT_DEFAULT: 1, ACCOUNT_DEFAULT: 2, TENANT_TYPE: 3, ACCOUNT_TYPE: 4 };

function changeLevel(c: PolicyChange): ModeSource {
  if (c.accountId) return c.actionType ? "ACCOUNT_TYPE" : "ACCOUNT_DEFAULT";
  return c.actionType ? "TENANT_TYPE" : "TENANT_DEFAULT";
}

const covers = (c: PolicyChange, accountId: string, actionType: string) =>
  (!c.accountId || c.accountId === accountId) && (!c.actionType || c.actionType === actionType);

/** The mode after the changes: the most specific covering change that is not shadowed wins (later ones on ties). */
export function proposedMode(
  ev: Pick<StoredEvaluation, "accountId" | "actionType" | "input" | "modeSource">,
  changes: readonly PolicyChange[],
) {
  let mode = ev.input.mode;
  let rank = RANK[ev.modeSource] ?? RANK.ACCOUNT_TYPE;
  for (const c of changes) {
    if (c.mode === undefined || !covers(c, ev.accountId, ev.actionType)) continue;
    const r = RANK[changeLevel(c)];
    if (r >= rank) {
      mode = c.mode;
      rank = r;
    }
  }
  return mode;
}

/** Allowlisted after the changes: listed for the account or tenant-wide, each level as changed. */
export function proposedAllowlisted(
  ev: Pick<StoredEvaluation, "accountId" | "actionType" | "input">,
  changes: readonly PolicyChange[],
  rows: readonly AllowRow[],
) {
  let account: boolean | undefined;
  let tenant: boolean | undefined;
  for (const c of changes) {
    if (c.allowlist === undefined || c.actionType !== ev.actionType || !covers(c, ev.accountId, ev.actionType)) continue;
    if (c.accountId) account = c.allowlist;
    else tenant = c.allowlist;
  }
  if (account === undefined && tenant === undefined) return ev.input.allowlisted;
  let account0 = false;
  let tenant0 = false;
  if (ev.input.allowlisted) {
    account0 = rows.some((r) => r.accountKey === ev.accountId && r.actionType === ev.actionType);
    tenant0 = rows.some((r) => r.accountKey === "" && r.actionType === ev.actionType) || !account0;
  }
  return (account ?? account0) || (tenant ?? tenant0);
}

function proposedCap(ev: StoredEvaluation, changes: readonly PolicyChange[], ctx: WhatIfContext): number {
  let own: number | undefined;
  let tenant: number | undefined;
  for (const c of changes) {
    if (c.maxAutonomousPerDay === undefined) continue;
    if (c.accountId === ev.accountId) own = c.maxAutonomousPerDay;
    else if (!c.accountId) tenant = c.maxAutonomousPerDay;
  }
  if (own !== undefined) return own;
  // The tenant's default budget reaches only accounts without one of their own (as in the gate).
  if (tenant !== undefined && !ctx.budgetCaps.has(ev.accountId)) return tenant;
  if (ev.budget) return ev.budget.cap;
  return ctx.budgetCaps.get(ev.accountId) ?? ctx.budgetCaps.get("") ?? 0;
}

/**
 * A replay over evaluations pushed in time order. Keeps per (account, UTC day) the stored
 * counter's last known level and the difference the changes made to consumption so far.
 */
export class WhatIfReplay {
  private readonly level = new Map<string, number>();
  private readonly delta = new Map<string, number>();
  private readonly coverage = new Map<string, Map<string, boolean>>();
  private readonly typeCoverage = new Map<string, boolean>();
  /** some change names an account or a budget: coverage depends on the account too */
  private readonly perAccount: boolean;
  /** only a widening change can turn an answer into AUTO_EXECUTE, the one case that reads `level` */
  private readonly widening: boolean;
  evaluated = 0;
  readonly byActionType = new Map<string, ActionTypeCounts>();

  constructor(
    private readonly changes: readonly PolicyChange[],
    private readonly ctx: WhatIfContext,
    /** known consumption per `${accountId}|${dateKey}` before the first pushed evaluation (log-only mode: today's counter) */
    initialLevels?: ReadonlyMap<string, number>,
  ) {
    if (initialLevels) for (const [k, v] of initialLevels) this.level.set(k, v);
    this.widening = changes.some(widens);
    this.perAccount = changes.some((c) => c.accountId !== undefined || c.maxAutonomousPerDay !== undefined);
  }

  /**
   * Does any change reach this account and type (its mode, its allowlisting or the account's
   * budget)? Cached per account, then type: nested maps, because a what-if asks once per stored
   * evaluation and building a combined key string per row cost more than the lookup. When no
   * change names an account or a budget, the answer depends on the type alone: one map.
   */
  private covered(accountId: string, actionType: string): boolean {
    let byType = this.perAccount ? this.coverage.get(accountId) : this.typeCoverage;
    if (!byType) {
      byType = new Map();
      this.coverage.set(accountId, byType);
    }
    let hit = byType.get(actionType);
    if (hit === undefined) {
      hit = this.changes.some(
        (c) =>
          ((c.mode !== undefined || c.allowlist !== undefined) && covers(c, accountId, actionType)) ||
          (c.maxAutonomousPerDay !== undefined && (c.accountId === accountId || (!c.accountId && !this.ctx.budgetCaps.has(accountId)))),
      );
      byType.set(actionType, hit);
    }
    return hit;
  }

  /**
   * Which rows' stored inputs `skip` may need, as a filter a query applies while reading the page:
   * the rows a change reaches (every row when a change has no action type — it may cover any type —
   * or is a budget change, which may reach any account; else the changed types' rows), and those
   * whose budget outcome could move (a stopped one if units are freed; under a widening change one
   * that ran, as a widening takes units first, or to read the counter it left for a later one).
   */
  inputScope(): { all: true } | { all: false; actionTypes: string[]; autoExecuted: boolean } {
    const types = new Set<string>();
    for (const c of this.changes) {
      if (c.maxAutonomousPerDay !== undefined || ((c.mode !== undefined || c.allowlist !== undefined) && c.actionType === undefined))
        return { all: true };
      if (c.actionType !== undefined) types.add(c.actionType);
    }
    return { all: false, actionTypes: [...types], autoExecuted: this.widening };
  }

  /**
   * The fast path, on the stored row as it was read (its input still text): when no change
   * reaches the evaluation and the consumption changed so far that day cannot alter its budget
   * outcome (units freed never stop one that ran; units taken never free one that was stopped),
   * its answer is the recorded one — counted without parsing or re-running the policy. Returns
   * false when the row needs the full replay (`push`). `createdAt` is the evaluation's
   * time as ISO-8601 UTC text, whose first ten characters are its UTC day (a Date per row cost the
   * service a tenth of its time); `input` is null when the page did not carry it.
   */
  skip(row: {
    accountId: string;
    actionType: string;
    createdAt: string;
    decision: string;
    reason: string | null;
    input: string | null;
  }): boolean {
    if (this.covered(row.accountId, row.actionType)) return false;
    const consumed = row.decision === "AUTO_EXECUTE";
    const exhausted = row.reason === "BUDGET_EXHAUSTED";
    // Only a row that consumed a unit or was stopped for want of one reads the day's counters.
    if (consumed || exhausted) {
      const key = `${row.accountId}|${row.createdAt.slice(0, 10)}`;
      const delta = this.delta.get(key) ?? 0;
      if ((consumed && delta > 0) || (exhausted && delta < 0)) return false;
      if (this.widening) {
        const budget = row.input === null ? null : peekBudget(row.input);
        if (!budget) return false;
        this.noteLevel(key, budget);
      }
    }
    this.evaluated++;
    this.tallySame(row.actionType, row.decision);
    return true;
  }

  /** The proposed answer for one evaluation; counts it. */
  decide(ev: StoredEvaluation): Outcome {
    this.evaluated++;
    const input: PolicyInput = {
      ...ev.input,
      mode: proposedMode(ev, this.changes),
      allowlisted: proposedAllowlisted(ev, this.changes, this.ctx.allowlist),
    };
    const policy = evaluatePolicy(input);
    const key = `${ev.accountId}|${ev.budget?.dateKey ?? utcDateKey(ev.at)}`;
    const stored = ev.budget;
    const storedConsumed = stored?.ok === true;
    let after: Outcome;
    if (policy.decision !== "AUTO_EXECUTE") {
      after = { decision: policy.decision, reason: policy.reason };
      if (storedConsumed) this.shift(key, -1);
    } else if (ev.alwaysOnMissing && ev.alwaysOnMissing.length > 0) {
      after = { decision: "REQUIRE_APPROVAL", reason: "NOT_OPTED_IN" };
      if (storedConsumed) this.shift(key, -1);
    } else if (stored && !stored.ok && stored.scope === "ACTION_TYPE") {
      after = { decision: "REQUIRE_APPROVAL", reason: "BUDGET_EXHAUSTED" };
    } else {
      const before = (stored ? (stored.ok ? stored.consumed - 1 : stored.cap) : (this.level.get(key) ?? 0)) + (this.delta.get(key) ?? 0);
      if (before < proposedCap(ev, this.changes, this.ctx)) {
        after = { decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED" };
        if (!storedConsumed) this.shift(key, 1);
      } else {
        after = { decision: "REQUIRE_APPROVAL", reason: "BUDGET_EXHAUSTED" };
        if (storedConsumed) this.shift(key, -1);
      }
    }
    if (stored) this.noteLevel(key, stored);
    return after;
  }

  /** Decide and compare with the recorded answer: the changed row, or null. */
  push(ev: StoredEvaluation): ChangedEvaluation | null {
    const after = this.decide(ev);
    const before = { decision: ev.decision, reason: ev.reason };
    this.tally(ev.actionType, before, after);
    const decisionChanged = after.decision !== ev.decision;
    if (!decisionChanged && after.reason === ev.reason) return null;
    return { actionIntentId: ev.intentId, actionType: ev.actionType, accountId: ev.accountId, at: ev.at, before, after, decisionChanged };
  }

  private tally(actionType: string, before: Outcome, after: Outcome) {
    const counts = this.countsOf(actionType);
    counts.evaluated++;
    counts.before.set(before.decision, (counts.before.get(before.decision) ?? 0) + 1);
    counts.after.set(after.decision, (counts.after.get(after.decision) ?? 0) + 1);
    if (after.decision !== before.decision) {
      counts.changed++;
      const pair = `${before.decision}→${after.decision}`;
      counts.transitions.set(pair, (counts.transitions.get(pair) ?? 0) + 1);
    } else if (after.reason !== before.reason) counts.reasonChanged++;
  }

  /** `tally` of an unchanged answer, without building outcome objects (the fast path's every row). */
  private tallySame(actionType: string, decision: string) {
    const counts = this.countsOf(actionType);
    counts.evaluated++;
    counts.before.set(decision, (counts.before.get(decision) ?? 0) + 1);
    counts.after.set(decision, (counts.after.get(decision) ?? 0) + 1);
  }

  private countsOf(actionType: string): ActionTypeCounts {
    let counts = this.byActionType.get(actionType);
    if (!counts) {
      counts = { evaluated: 0, changed: 0, reasonChanged: 0, transitions: new Map(), before: new Map(), after: new Map() };
      this.byActionType.set(actionType, counts);
    }
    return counts;
  }

  /** The stored counter after this evaluation: what it consumed up to, or the cap it hit. */
  private noteLevel(key: string, stored: StoredBudgetOutcome) {
    if (stored.ok) this.level.set(key, stored.consumed);
    else if (stored.scope === "ACCOUNT") this.level.set(key, stored.cap);
  }

  private shift(key: string, by: number) {
    this.delta.set(key, (this.delta.get(key) ?? 0) + by);
  }
}

/**
 * The stored budget outcome straight from the input text, without parsing the whole snapshot.
 * `,"budget":` can only be the top-level key: inside a JSON string every quote is escaped, and no
 * nested object the gate stores has a key of that name. The outcome itself is a flat object.
 */
function peekBudget(text: string): StoredBudgetOutcome | null {
  const at = text.indexOf(',"budget":');
  if (at < 0) return null;
  const from = at + 10;
  if (text.startsWith("null", from)) return null;
  const end = text.indexOf("}", from);
  if (text[from] !== "{" || end < 0) return null;
  try {
    return readBudgetOutcome(JSON.parse(text.slice(from, end + 1)));
  } catch {
    return null;
  }
}

/** Replay a whole list (already in time order); the service streams pages through a WhatIfReplay instead. */
export function whatIf(evaluations: Iterable<StoredEvaluation>, changes: readonly PolicyChange[], ctx: WhatIfContext) {
  const replay = new WhatIfReplay(changes, ctx);
  const changed: ChangedEvaluation[] = [];
  for (const ev of evaluations) {
    const row = replay.push(ev);
    if (row) changed.push(row);
  }
  return { evaluated: replay.evaluated, changed, byActionType: replay.byActionType };
}

/**
 * A change widens autonomy when it could let something run on its own that did not before:
 * AUTO_EXECUTE, an allowlist addition, a bigger (or any) daily budget. Enforcing one needs a reason.
 */
export function widens(c: PolicyChange): boolean {
  return c.mode === "AUTO_EXECUTE" || c.allowlist === true || (c.maxAutonomousPerDay !== undefined && c.maxAutonomousPerDay > 0);
}

const MODE_SOURCES = Object.keys(RANK) as ModeSource[];

/**
 * A stored evaluation row as the replay needs it, or null when its input is not one the gate
 * wrote (unparseable, or missing a field the policy reads) — those are counted as skipped.
 */
export function readStoredEvaluation(row: {
  intentId: string;
  decision: string;
  reason: string | null;
  input: string;
  createdAt: Date;
  source: string;
}): (StoredEvaluation & { ownerId: string | null; alwaysOnUnknown: boolean }) | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(row.input);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null) return null;
  const account = raw.account as { id?: unknown; ownerId?: unknown } | null | undefined;
  const thresholds = raw.thresholds as PolicyInput["thresholds"] | undefined;
  if (
    typeof raw.actionType !== "string" ||
    typeof raw.confidence !== "number" ||
    typeof raw.allowlisted !== "boolean" ||
    !(AUTONOMY_MODES as readonly unknown[]).includes(raw.mode) ||
    !(MODE_SOURCES as unknown[]).includes(raw.modeSource) ||
    typeof account?.id !== "string" ||
    !Array.isArray(raw.blockingUnknowns) ||
    typeof thresholds !== "object" ||
    thresholds === null
  )
    return null;
  const missing = raw.alwaysOnMissing;
  return {
    intentId: row.intentId,
    accountId: account.id,
    actionType: raw.actionType,
    at: row.createdAt,
    decision: row.decision,
    reason: row.reason,
    input: raw as unknown as PolicyInput,
    modeSource: raw.modeSource as ModeSource,
    budget: readBudgetOutcome(raw.budget),
    alwaysOnMissing: Array.isArray(missing) ? (missing as string[]) : null,
    ownerId: typeof account.ownerId === "string" ? account.ownerId : null,
    // Recorded when the rule ran; a decision run's proposal that policy did not allow never ran
    // it, so the caller fills in the always-on facts as they are now.
    alwaysOnUnknown: row.source === "DECISION" && !Array.isArray(missing),
  };
}

function readBudgetOutcome(b: unknown): StoredBudgetOutcome | null {
  if (typeof b !== "object" || b === null) return null;
  const o = b as Record<string, unknown>;
  if (typeof o.cap !== "number" || typeof o.dateKey !== "string") return null;
  if (o.ok === true && typeof o.consumed === "number") return { ok: true, cap: o.cap, consumed: o.consumed, dateKey: o.dateKey };
  if (o.ok === false && (o.scope === "ACCOUNT" || o.scope === "ACTION_TYPE"))
    return { ok: false, scope: o.scope, cap: o.cap, dateKey: o.dateKey };
  return null;
}

/** Snake-case change list (the REST body, the stored proposal, the ledger payload) → the engine's form. */
export function fromBody(c: {
  account_id?: string;
  action_type?: string;
  mode?: AutonomyMode;
  allowlist?: boolean;
  max_autonomous_per_day?: number;
}): PolicyChange {
  return {
    ...(c.account_id !== undefined ? { accountId: c.account_id } : {}),
    ...(c.action_type !== undefined ? { actionType: c.action_type } : {}),
    ...(c.mode !== undefined ? { mode: c.mode } : {}),
    ...(c.allowlist !== undefined ? { allowlist: c.allowlist } : {}),
    ...(c.max_autonomous_per_day !== undefined ? { maxAutonomousPerDay: c.max_autonomous_per_day } : {}),
  };
}

/**
 * A stored proposal's change list, or null when it is unreadable. Fields that are not what the
 * service wrote are dropped one by one: a log-only proposal must never break the active gate.
 */
export function readStoredChanges(text: string): PolicyChange[] | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(raw)) return null;
  return raw.map((c: Record<string, unknown>) =>
    fromBody({
      account_id: typeof c?.account_id === "string" ? c.account_id : undefined,
      action_type: typeof c?.action_type === "string" ? c.action_type : undefined,
      mode: (AUTONOMY_MODES as readonly unknown[]).includes(c?.mode) ? (c.mode as AutonomyMode) : undefined,
      allowlist: typeof c?.allowlist === "boolean" ? c.allowlist : undefined,
      max_autonomous_per_day:
        typeof c?.max_autonomous_per_day === "number" && Number.isInteger(c.max_autonomous_per_day) && c.max_autonomous_per_day >= 0
          ? c.max_autonomous_per_day
          : undefined,
    }),
  );
}
