import type { Clock } from "../clock";
import type { Db } from "../db";
import { utcDateKey } from "../engine/budget";
import {
  afterPull,
  type CadenceTable,
  cadencePullJobId,
  comparePulls,
  DEFAULT_CADENCE,
  DEPTH_UNITS,
  isPullTier,
  type PullDepth,
  type PullTier,
  readCadence,
  schedule,
  validateCadence,
} from "../engine/cadence";
import {
  admitInOrder,
  DEFAULT_UNITS_PER_DAY,
  eligibility,
  KNOWN_PULL_CONNECTORS,
  type PullBudgetSettings,
  type PullDecision,
  type PullReason,
  type PullResult,
  rateKeys,
  rateWindow,
  readPerConnector,
  remainingFor,
} from "../engine/perception";
import { readStoredJson } from "../engine/storedJson";
import { AppError, describeUnexpected } from "../errors";
import { accountNames } from "../repos/accounts";
import { allTenantIds, enabledKillSwitches, withConfigWrite } from "../repos/autonomy";
import { appendLedger, appendLedgerBatch, listLedger } from "../repos/ledger";
import {
  accountsWithoutPullState,
  countPullDecisions,
  deleteRateWindowsBefore,
  duePullStates,
  failInterruptedPullJobs,
  findPerceptionSettings,
  finishPullJobs,
  heatTiersOf,
  lastSignalTimes,
  lockPullUsage,
  lockRateWindow,
  type PullStateRow,
  pullStatesOf,
  pullUsageFor,
  recheckAllPullStates,
  releasePullJobs,
  reservePullJobs,
  savePerceptionSettings,
  spendPullUnits,
  TOTAL,
  takeRateSlots,
  warmerAccounts,
  writeNextTimes,
  writePullStates,
} from "../repos/perception";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { isConnectorName } from "../schemas/connectors";
import type { ConnectorDeps } from "./executor";
import { requireTenantAccount } from "./guards";
import { PULL_RUNNERS, type PullRunners, rateLimitsOf } from "./pullRunners";
import { breakerRefusal } from "./resilience";

/**
 * Perception scheduler (SPEC §4.4): the one path by which anything pulls from a connector —
 * `POST /api/v1/perception/pulls` and the tRPC button call `requestPull` (a batch of one), the
 * `perception` job calls `requestPulls` with chunks of due pulls. Every decision, RUN or not, is
 * exactly one PULL_SCHEDULED ledger entry.
 */
export interface PerceptionDeps {
  db: Db;
  clock: Clock;
  /** pull runners by connector name; tests pass their own limits */
  runners?: PullRunners;
  /** outbound settings from the environment (the CRM token's sealing key); built at the edge */
  connectors?: ConnectorDeps;
}

export type PullSource = "api" | "ui" | "cadence";

export interface PullRequest {
  accountId: string;
  connector: string;
  depth: PullDepth;
  pullJobId: string;
  source: PullSource;
}

export interface PullAnswer extends PullDecision {
  tier: PullTier;
  units: number;
  /** for a RUN: how the run ended and how many new signals it produced */
  run?: { status: "DONE" | "FAILED"; signals: number };
}

const SYSTEM: Viewer["actor"] = { type: "SYSTEM", id: "perception" };

// ───────────── settings ─────────────

async function loadSettings(db: Db, tenantId: string) {
  const row = await findPerceptionSettings(db, tenantId);
  const budget: PullBudgetSettings = {
    unitsPerDay: row?.unitsPerDay ?? DEFAULT_UNITS_PER_DAY,
    perConnector: readPerConnector(readStoredJson(row?.perConnector)),
  };
  return { budget, cadence: readCadence(readStoredJson(row?.cadence ?? "{}")), updatedAt: row?.updatedAt ?? null };
}

/** Each ask's heat tier now (an account without heat is COLD). */
async function tiersOf(db: Db, tenantId: string, asks: { accountId: string }[]): Promise<PullTier[]> {
  const tiers = await heatTiersOf(
    db,
    tenantId,
    asks.map((a) => a.accountId),
  );
  return asks.map((a) => {
    const t = tiers.get(a.accountId);
    return t && isPullTier(t) ? t : "COLD";
  });
}

async function connectorKillSwitchOn(db: Db, tenantId: string, connector: string) {
  return (await enabledKillSwitches(db, tenantId)).some((k) => k.scope === "CONNECTOR" && k.key === connector);
}

const emptyState = (accountId: string): PullStateRow => ({
  accountId,
  lastShallowAt: null,
  lastDeepAt: null,
  nextShallowAt: null,
  nextDeepAt: null,
});

// ───────────── the one pull path ─────────────

/** One pull of a batch: every pull of a batch is for the same tenant and connector. */
export type PullAsk = Omit<PullRequest, "connector">;

/** Pulls admitted in one transaction, at most: the tick's chunk size. */
export const PULL_BATCH = 100;

/**
 * Admit or refuse one pull, in the fixed order: eligibility → rate limit → reserve the pull-job id
 * → consume budget → run. It is the batch path with one pull: REST, tRPC and the perception job
 * all go through `requestPulls`.
 */
export async function requestPull(deps: PerceptionDeps, viewer: Viewer, req: PullRequest): Promise<PullAnswer> {
  const { connector, ...ask } = req;
  const [answer] = await requestPulls(deps, viewer, connector, [ask]);
  if (!answer) throw new Error("unreachable: a one-pull batch decides its pull");
  return answer;
}

/**
 * Admit or refuse a batch of pulls of one connector, deciding each exactly as asking them one by
 * one in this order would (engine/perception.ts admitInOrder), in ONE transaction: the pull-job
 * ids are reserved by one multi-row insert, the rate windows and today's usage rows are locked
 * and read, the rules decide, then the counters move by what was admitted (conditional
 * increments), the reservations of pulls that do not run are released (a pull-job id deferred for
 * budget may be asked again), the pull states and one PULL_SCHEDULED entry per decision are
 * written. A refusal that stops asking (DEFER, ineligible) ends the batch: the answers are for the
 * pulls decided, a prefix of `asks`. The runs happen after commit, one after the other.
 *
 * Lock order, the same for every caller: pull-job ids (in id order), the tenant's then the global
 * rate window, today's total then the connector's usage row, pull states (in account order), the
 * ledger head. AccountHeat is never touched (server/repos/heat.ts).
 */
export async function requestPulls(deps: PerceptionDeps, viewer: Viewer, connector: string, asks: PullAsk[]): Promise<PullAnswer[]> {
  const { db, clock } = deps;
  if (asks.length === 0) return [];
  const runners = deps.runners ?? PULL_RUNNERS;
  const tenantId = viewer.tenantId;
  const known = await accountNames(
    db,
    tenantId,
    asks.map((a) => a.accountId),
  );
  const unknown = asks.find((a) => !known.has(a.accountId));
  if (unknown) await requireTenantAccount(db, tenantId, unknown.accountId); // throws NOT_FOUND
  const runner = Object.hasOwn(runners, connector) ? runners[connector] : undefined;
  const [tiers, settings, killed, availability] = await Promise.all([
    tiersOf(db, tenantId, asks),
    loadSettings(db, tenantId),
    connectorKillSwitchOn(db, tenantId, connector),
    runner ? runner.availability(db, tenantId) : Promise.resolve(null),
  ]);
  const tierAt = (i: number): PullTier => tiers[i] ?? "COLD";
  const entry = (i: number, d: PullDecision, spent: number) => {
    const a = asks[i] as PullAsk;
    return {
      accountId: a.accountId,
      type: "PULL_SCHEDULED" as const,
      actor: viewer.actor,
      payload: {
        pull_job_id: a.pullJobId,
        connector,
        depth: a.depth,
        tier: tierAt(i),
        result: d.result,
        reason: d.reason,
        units: spent,
        retry_after_seconds: d.retryAfterSeconds ?? null,
        source: a.source,
      },
    };
  };

  const ineligible = eligibility({ hasRunner: !!runner, availability, connectorKillSwitchOn: killed });
  if (ineligible || !runner) {
    // Ineligibility is final for the connector: the first pull is refused, and asking stops.
    const d: PullDecision = ineligible ?? { result: "SKIP", reason: "NO_PULL_RUNNER" };
    await inTransaction(db, (tx) => appendLedgerBatch(tx, tenantId, [entry(0, d, 0)], clock.now()));
    return [{ ...d, tier: tierAt(0), units: 0 }];
  }

  // An open breaker DEFERs before anything is spent: no rate slot, no units, no pull-job id.
  const refused = isConnectorName(connector) ? await breakerRefusal(deps, tenantId, connector) : null;
  if (refused) {
    const d: PullDecision = { result: "DEFER", reason: "BREAKER_OPEN", retryAfterSeconds: refused.retryAfterSeconds };
    await inTransaction(db, (tx) => appendLedgerBatch(tx, tenantId, [entry(0, d, 0)], clock.now()));
    return [{ ...d, tier: tierAt(0), units: 0 }];
  }

  const limits = await rateLimitsOf(runner, db, tenantId);
  const admitted = await inTransaction(db, async (tx) => {
    const now = clock.now();
    const keys = rateKeys(tenantId, connector);
    const window = rateWindow(now);
    const dateKey = utcDateKey(now);
    const units = asks.map((a) => DEPTH_UNITS[a.depth]);
    const firstOf = new Map<string, number>();
    asks.forEach((a, i) => {
      if (!firstOf.has(a.pullJobId)) firstOf.set(a.pullJobId, i);
    });
    const reserved = await reservePullJobs(
      tx,
      tenantId,
      [...firstOf.values()].map((i) => {
        const a = asks[i] as PullAsk;
        return { pullJobId: a.pullJobId, accountId: a.accountId, connector, depth: a.depth, tier: tierAt(i), units: units[i] ?? 0 };
      }),
      now,
    );
    const fresh = asks.map((a, i) => firstOf.get(a.pullJobId) === i && reserved.has(a.pullJobId));
    const tenantCount = await lockRateWindow(tx, keys.tenant, window);
    const globalCount = await lockRateWindow(tx, keys.global, window);
    const used = await lockPullUsage(tx, tenantId, dateKey, connector);
    const cap = settings.budget.perConnector[connector];
    const decisions = admitInOrder(
      asks.map((_, i) => ({ fresh: fresh[i] ?? false, units: units[i] ?? 0 })),
      {
        slots: Math.max(0, Math.min(limits.perTenantPerMinute - tenantCount, limits.globalPerMinute - globalCount)),
        totalLeft: settings.budget.unitsPerDay - used.total,
        connectorLeft: cap === undefined ? null : cap - used.connector,
      },
      now,
    );
    const runs = decisions.flatMap((d, i) => (d.result === "RUN" ? [i] : []));
    const spent = runs.reduce((sum, i) => sum + (units[i] ?? 0), 0);
    // The rows are locked and the rules read them: these conditional increments cannot miss.
    if (
      !(await takeRateSlots(tx, keys.tenant, window, runs.length, limits.perTenantPerMinute)) ||
      !(await takeRateSlots(tx, keys.global, window, runs.length, limits.globalPerMinute)) ||
      !(await spendPullUnits(tx, tenantId, dateKey, connector, spent, settings.budget.unitsPerDay, cap))
    )
      throw new Error("pull admission: a locked counter moved");
    const running = new Set(runs);
    const release = asks.flatMap((a, i) => (fresh[i] && !running.has(i) ? [reserved.get(a.pullJobId) as string] : []));
    await releasePullJobs(tx, tenantId, release);

    // Mark the accounts pulled now, so another instance's tick does not pick them while they run.
    const states = new Map(
      (await pullStatesOf(tx, tenantId, [...new Set(runs.map((i) => asks[i]?.accountId as string))])).map((s) => [s.accountId, s]),
    );
    const jobs = runs.map((i) => {
      const a = asks[i] as PullAsk;
      const before = states.get(a.accountId) ?? emptyState(a.accountId);
      states.set(a.accountId, { accountId: a.accountId, ...afterPull(settings.cadence, tierAt(i), a.accountId, a.depth, now, before) });
      return { index: i, id: reserved.get(a.pullJobId) as string, before };
    });
    await writePullStates(
      tx,
      tenantId,
      jobs.map((j) => states.get(asks[j.index]?.accountId as string) as PullStateRow),
    );
    await appendLedgerBatch(
      tx,
      tenantId,
      decisions.map((d, i) => entry(i, d, d.result === "RUN" ? (units[i] ?? 0) : 0)),
      now,
    );
    return { decisions, jobs };
  });

  const answers: PullAnswer[] = admitted.decisions.map((d, i) => ({
    ...d,
    tier: tierAt(i),
    units: d.result === "RUN" ? DEPTH_UNITS[(asks[i] as PullAsk).depth] : 0,
  }));
  if (admitted.jobs.length === 0) return answers;

  const outcomes: { id: string; status: "DONE" | "FAILED"; signals: number; error: string | null }[] = [];
  for (const j of admitted.jobs) {
    const a = asks[j.index] as PullAsk;
    let status: "DONE" | "FAILED" = "DONE";
    let signals = 0;
    let error: string | null = null;
    try {
      signals = (await runner.run({ db, clock, pullJobId: a.pullJobId, connectors: deps.connectors }, tenantId, a.accountId, a.depth))
        .signals;
    } catch (err) {
      status = "FAILED";
      error = describeUnexpected(err).slice(0, 500);
    }
    outcomes.push({ id: j.id, status, signals, error });
    answers[j.index] = { result: "RUN", reason: "ADMITTED", tier: tierAt(j.index), units: DEPTH_UNITS[a.depth], run: { status, signals } };
  }
  const finishedAt = clock.now();
  await inTransaction(db, async (tx) => {
    await finishPullJobs(tx, tenantId, outcomes, finishedAt);
    // Pulled as of the end of the runs: signals a run itself produced are not "new since the
    // last pull", so a HOT account's shallow-on-signal cannot feed on its own pulls.
    const states = new Map<string, PullStateRow>();
    for (const j of admitted.jobs) {
      const a = asks[j.index] as PullAsk;
      const before = states.get(a.accountId) ?? j.before;
      states.set(a.accountId, {
        accountId: a.accountId,
        ...afterPull(settings.cadence, tierAt(j.index), a.accountId, a.depth, finishedAt, before),
      });
    }
    await writePullStates(tx, tenantId, [...states.values()]);
  });
  return answers;
}

// ───────────── budget and cadence (configuration) ─────────────

export interface PullBudgetView {
  unitsPerDay: number;
  perConnector: Record<string, number>;
  usedToday: number;
  remainingToday: number;
  dateKey: string;
  /** units used today per connector (extension) */
  perConnectorUsed: Record<string, number>;
  updatedAt: Date | null;
}

export async function getPullBudget(db: Db, viewer: Viewer, clock: Clock): Promise<PullBudgetView> {
  const now = clock.now();
  const dateKey = utcDateKey(now);
  const [settings, usage] = await Promise.all([loadSettings(db, viewer.tenantId), pullUsageFor(db, viewer.tenantId, dateKey)]);
  const used = usage.find((u) => u.connector === TOTAL)?.units ?? 0;
  const perConnectorUsed: Record<string, number> = {};
  for (const u of usage)
    if (u.connector !== TOTAL) Object.defineProperty(perConnectorUsed, u.connector, { value: u.units, enumerable: true });
  return {
    unitsPerDay: settings.budget.unitsPerDay,
    perConnector: settings.budget.perConnector,
    usedToday: used,
    remainingToday: Math.max(0, settings.budget.unitsPerDay - used),
    dateKey,
    perConnectorUsed,
    updatedAt: settings.updatedAt,
  };
}

export async function putPullBudget(
  db: Db,
  viewer: Viewer,
  input: { unitsPerDay: number; perConnector?: Record<string, number>; reason?: string },
  clock: Clock,
): Promise<PullBudgetView> {
  await withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    const beforeRow = await findPerceptionSettings(tx, viewer.tenantId);
    const before = beforeRow
      ? { units_per_day: beforeRow.unitsPerDay, per_connector: readPerConnector(readStoredJson(beforeRow.perConnector)) }
      : null;
    // PUT replaces: caps not named are removed.
    const perConnector = input.perConnector ?? {};
    await savePerceptionSettings(
      tx,
      viewer.tenantId,
      { unitsPerDay: input.unitsPerDay, perConnector: JSON.stringify(perConnector) },
      viewer.userId ?? viewer.actor.id,
      now,
    );
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: {
          change: "perception_budget",
          before,
          after: { units_per_day: input.unitsPerDay, per_connector: perConnector },
          reason: input.reason ?? null,
        },
      },
      now,
    );
  });
  return getPullBudget(db, viewer, clock);
}

export async function getCadence(db: Db, viewer: Viewer) {
  const s = await loadSettings(db, viewer.tenantId);
  return { tiers: s.cadence, defaults: DEFAULT_CADENCE, updatedAt: s.updatedAt };
}

/**
 * Replace the tenant's cadence table. Every account's due time is recomputed on the next
 * perception tick (they are all marked for a recheck in the same transaction), so a shorter
 * interval applies at once rather than after the old, longer one runs out.
 */
export async function putCadence(db: Db, viewer: Viewer, input: { tiers: CadenceTable; reason?: string }, clock: Clock) {
  const problem = validateCadence(input.tiers)[0];
  if (problem) throw new AppError("BAD_REQUEST", `${problem.field}: ${problem.message}`, problem.field);
  await withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    const beforeRow = await findPerceptionSettings(tx, viewer.tenantId);
    const before = readCadence(readStoredJson(beforeRow?.cadence ?? "{}"));
    await savePerceptionSettings(tx, viewer.tenantId, { cadence: JSON.stringify(input.tiers) }, viewer.userId ?? viewer.actor.id, now);
    await recheckAllPullStates(tx, viewer.tenantId, now);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: { change: "perception_cadence", before, after: input.tiers, reason: input.reason ?? null },
      },
      now,
    );
  });
  return getCadence(db, viewer);
}

// ───────────── what the admin page shows ─────────────

export interface PullDecisionRow {
  seq: number;
  at: Date;
  accountId: string | null;
  accountName: string | null;
  pullJobId: string;
  connector: string;
  depth: string;
  tier: string;
  result: PullResult | string;
  reason: PullReason | string;
  units: number;
  retryAfterSeconds: number | null;
  source: string | null;
}

const str = (v: unknown) => (typeof v === "string" ? v : "");

export async function recentPullDecisions(db: Db, viewer: Viewer, limit: number, cursor?: string) {
  const page = await listLedger(db, viewer.tenantId, { type: "PULL_SCHEDULED" }, { limit, cursor });
  const names = await accountNames(
    db,
    viewer.tenantId,
    page.items.map((e) => e.accountId),
  );
  const items: PullDecisionRow[] = page.items.map((e) => {
    const p = (readStoredJson(e.payload) ?? {}) as Record<string, unknown>;
    return {
      seq: e.seq,
      at: e.createdAt,
      accountId: e.accountId,
      accountName: e.accountId ? (names.get(e.accountId) ?? null) : null,
      pullJobId: str(p.pull_job_id),
      connector: str(p.connector),
      depth: str(p.depth),
      tier: str(p.tier),
      result: str(p.result),
      reason: str(p.reason),
      units: typeof p.units === "number" ? p.units : 0,
      retryAfterSeconds: typeof p.retry_after_seconds === "number" ? p.retry_after_seconds : null,
      source: typeof p.source === "string" ? p.source : null,
    };
  });
  return { items, nextCursor: page.nextCursor };
}

/** Today's pull units by connector, and the throttles hit today (RATE_LIMITED, BUDGET_EXHAUSTED). */
export async function perceptionToday(db: Db, viewer: Viewer, clock: Clock) {
  const now = clock.now();
  const dayStart = new Date(`${utcDateKey(now)}T00:00:00.000Z`);
  const [budget, rateLimited, budgetExhausted] = await Promise.all([
    getPullBudget(db, viewer, clock),
    countPullDecisions(db, viewer.tenantId, dayStart, { reason: "RATE_LIMITED" }),
    countPullDecisions(db, viewer.tenantId, dayStart, { reason: "BUDGET_EXHAUSTED" }),
  ]);
  const connectors = [
    ...new Set([
      ...KNOWN_PULL_CONNECTORS,
      ...Object.keys(PULL_RUNNERS),
      ...Object.keys(budget.perConnectorUsed),
      ...Object.keys(budget.perConnector),
    ]),
  ].sort();
  return {
    dateKey: budget.dateKey,
    usedToday: budget.usedToday,
    unitsPerDay: budget.unitsPerDay,
    byConnector: connectors.map((c) => ({ connector: c, units: budget.perConnectorUsed[c] ?? 0, cap: budget.perConnector[c] ?? null })),
    throttles: { rateLimited, budgetExhausted, total: rateLimited + budgetExhausted },
  };
}

// ───────────── the perception job ─────────────

export interface PerceptionTickOptions {
  /** due states read per tenant per tick (oldest first); the rest wait for the next tick */
  maxCandidates?: number;
  /** pulls asked per tenant per tick */
  maxPulls?: number;
}

const SEED_READ = 200_000;
const SEED_WRITE = 4800;
const DAY = 86_400_000;

/**
 * Pull state for accounts that have none, placed by the cadence (a hashed phase inside the first
 * interval). One anti-join read per 200k accounts, multi-row inserts: seeding 100k accounts costs
 * about what inserting 100k rows costs.
 */
async function seedPullStates(db: Db, tenantId: string, cadence: CadenceTable, warm: Map<string, PullTier>, now: Date) {
  let seeded = 0;
  for (;;) {
    const ids = await accountsWithoutPullState(db, tenantId, SEED_READ);
    for (let i = 0; i < ids.length; i += SEED_WRITE) {
      const rows = ids.slice(i, i + SEED_WRITE).map((id) => {
        const s = schedule(cadence, warm.get(id) ?? "COLD", id, emptyState(id), null, now);
        return { accountId: id, nextShallowAt: s.nextShallowAt, nextDeepAt: s.nextDeepAt };
      });
      // An instance seeding the same accounts at the same moment computes the same times.
      // One transaction per batch: one commit (one fsync) instead of one per statement.
      await inTransaction(db, (tx) => writeNextTimes(tx, tenantId, rows));
      seeded += rows.length;
    }
    if (ids.length < SEED_READ) return seeded;
  }
}

interface DuePull {
  accountId: string;
  tier: PullTier;
  depth: PullDepth;
  trigger: "SCHEDULED" | "SIGNAL";
  slotAt: Date;
}

const sameTime = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

async function tickTenant(deps: PerceptionDeps, tenantId: string, opts: Required<PerceptionTickOptions>) {
  const { db, clock } = deps;
  const runners = deps.runners ?? PULL_RUNNERS;
  const now = clock.now();
  const viewer: Viewer = { tenantId, actor: SYSTEM, role: null, userId: null };
  const killSwitches = await enabledKillSwitches(db, tenantId);
  const connectors: string[] = [];
  for (const [name, runner] of Object.entries(runners)) {
    if (killSwitches.some((k) => k.scope === "CONNECTOR" && k.key === name)) continue;
    if ((await runner.availability(db, tenantId)) === "READY") connectors.push(name);
  }
  const out = { tenantId, seeded: 0, due: 0, asked: 0, run: 0, deferred: 0, skipped: 0, rescheduled: 0 };
  if (connectors.length === 0) return out;

  const settings = await loadSettings(db, tenantId);
  const warmRows = await warmerAccounts(db, tenantId);
  const warm = new Map<string, PullTier>(warmRows.filter((r) => isPullTier(r.tier)).map((r) => [r.accountId, r.tier as PullTier]));
  out.seeded = await seedPullStates(db, tenantId, settings.cadence, warm, now);

  // Candidates: every HOT/WARM account (short cadences, and a promotion shows here first) plus
  // whatever the indexes say is due. Everything else is COLD and not due: never read.
  const due = await duePullStates(db, tenantId, now, opts.maxCandidates);
  const states = new Map(due.map((s) => [s.accountId, s]));
  const missing = [...warm.keys()].filter((id) => !states.has(id));
  for (const s of await pullStatesOf(db, tenantId, missing)) states.set(s.accountId, s);
  const hotIds = [...warm].filter(([, t]) => t === "HOT").map(([id]) => id);
  const signals = await lastSignalTimes(db, tenantId, hotIds, new Date(now.getTime() - 30 * DAY));

  const pulls: DuePull[] = [];
  const reschedule: PullStateRow[] = [];
  for (const s of states.values()) {
    const tier = warm.get(s.accountId) ?? "COLD";
    const plan = schedule(settings.cadence, tier, s.accountId, s, signals.get(s.accountId) ?? null, now);
    if (plan.due && plan.trigger && plan.slotAt)
      pulls.push({ accountId: s.accountId, tier, depth: plan.due, trigger: plan.trigger, slotAt: plan.slotAt });
    else if (!sameTime(plan.nextShallowAt, s.nextShallowAt) || !sameTime(plan.nextDeepAt, s.nextDeepAt))
      reschedule.push({ ...s, nextShallowAt: plan.nextShallowAt, nextDeepAt: plan.nextDeepAt });
  }
  for (let i = 0; i < reschedule.length; i += SEED_WRITE) {
    const chunk = reschedule.slice(i, i + SEED_WRITE);
    await inTransaction(db, (tx) => writeNextTimes(tx, tenantId, chunk));
  }
  out.rescheduled = reschedule.length;
  out.due = pulls.length;
  pulls.sort(comparePulls);

  // Plan against today's usage; the conditional increments stay the authority.
  const dateKey = utcDateKey(now);
  const usage = await pullUsageFor(db, tenantId, dateKey);
  const used = { total: usage.find((u) => u.connector === TOTAL)?.units ?? 0, byConnector: {} as Record<string, number> };
  for (const u of usage) if (u.connector !== TOTAL) used.byConnector[u.connector] = u.units;
  const stopped = new Set<string>();
  const unaffordable = new Map<string, DuePull>();
  const count = (answers: PullAnswer[]) => {
    out.asked += answers.length;
    for (const a of answers) {
      if (a.result === "RUN") out.run += 1;
      else if (a.result === "DEFER") out.deferred += 1;
      else out.skipped += 1;
    }
  };
  const asked = (p: DuePull): PullAsk => ({
    accountId: p.accountId,
    depth: p.depth,
    pullJobId: cadencePullJobId(p.accountId, p.depth, p.trigger, p.slotAt),
    source: "cadence",
  });
  const ask = async (p: DuePull, connector: string) => {
    const a = await requestPull(deps, viewer, { ...asked(p), connector });
    count([a]);
    return a;
  };

  // The asks, in order: each due pull (hottest first), to each ready connector. Asked in chunks
  // of consecutive asks to one connector, each chunk one admission transaction; the decisions
  // are the ones asking one by one would make (requestPulls), and so is what the tick asks: a
  // chunk holds only asks the plan can pay for if every ask before it runs, and whatever a chunk
  // leaves undecided or unpaid is looked at again against what it actually spent.
  const asks = pulls.flatMap((p) => connectors.map((c, ci) => ({ p, c, first: ci === 0 })));
  let i = 0;
  while (i < asks.length) {
    const head = asks[i] as (typeof asks)[number];
    if (head.first && out.asked >= opts.maxPulls) break;
    const c = head.c;
    if (stopped.has(c)) {
      i += 1;
      continue;
    }
    if (remainingFor(settings.budget, used, c) < DEPTH_UNITS[head.p.depth]) {
      if (!unaffordable.has(c)) unaffordable.set(c, head.p);
      i += 1;
      continue;
    }
    const plan = { total: used.total, byConnector: { ...used.byConnector } };
    const chunk: DuePull[] = [];
    let j = i;
    while (j < asks.length && chunk.length < PULL_BATCH) {
      const next = asks[j] as (typeof asks)[number];
      if (next.c !== c) {
        if (stopped.has(next.c)) {
          j += 1;
          continue;
        }
        break;
      }
      const units = DEPTH_UNITS[next.p.depth];
      if (next.first && chunk.length > 0 && out.asked + chunk.length >= opts.maxPulls) break;
      if (remainingFor(settings.budget, plan, c) < units) break;
      chunk.push(next.p);
      plan.total += units;
      plan.byConnector[c] = (plan.byConnector[c] ?? 0) + units;
      j += 1;
    }
    const answers = await requestPulls(deps, viewer, c, chunk.map(asked));
    count(answers);
    answers.forEach((a, k) => {
      const units = DEPTH_UNITS[(chunk[k] as DuePull).depth];
      if (a.result === "RUN") {
        used.total += units;
        used.byConnector[c] = (used.byConnector[c] ?? 0) + units;
      } else if (a.reason === "BUDGET_EXHAUSTED") {
        stopped.add(c);
        unaffordable.delete(c);
      } else if (a.reason !== "DUPLICATE_PULL_JOB_ID") {
        stopped.add(c); // rate-limited or no longer eligible: wait for the next tick
      }
    });
    i = j;
  }

  // Out of budget with pulls still due: ask once so the refusal is ledgered — once per connector
  // per UTC day, not once per due account or per tick.
  const dayStart = new Date(`${dateKey}T00:00:00.000Z`);
  for (const [c, p] of unaffordable) {
    const noted = await countPullDecisions(db, tenantId, dayStart, { reason: "BUDGET_EXHAUSTED", source: "cadence", connector: c });
    if (noted === 0) await ask(p, c);
  }
  return out;
}

/**
 * How long an admitted pull may stay RUNNING: far above a pull's own limits (each CRM request
 * times out, and a throttled one waits at most crmMaxWaitMs), so a live, slow pull is never ended.
 */
export const PULL_LEASE_MS = 10 * 60_000;

/** The `perception` job: for each tenant, pull what the cadence says is due, hottest first, within budget. */
export async function runPerceptionTick(deps: PerceptionDeps, opts: PerceptionTickOptions = {}) {
  const o: Required<PerceptionTickOptions> = { maxCandidates: opts.maxCandidates ?? 5000, maxPulls: opts.maxPulls ?? 500 };
  // A pull runs after its admission commits and is finished in another transaction: a process
  // that died in between left it RUNNING. Its units stay spent (its calls may have been made) and
  // the cadence already moved on, so the account's next slot pulls again; only the record ends.
  const now = deps.clock.now();
  const interrupted = await failInterruptedPullJobs(
    deps.db,
    new Date(now.getTime() - PULL_LEASE_MS),
    "INTERRUPTED: the process running this pull stopped before it finished",
    now,
  );
  const tenants: Awaited<ReturnType<typeof tickTenant>>[] = [];
  for (const tenantId of await allTenantIds(deps.db)) tenants.push(await tickTenant(deps, tenantId, o));
  await deleteRateWindowsBefore(deps.db, rateWindow(deps.clock.now()) - 5);
  const sum = (k: "seeded" | "due" | "asked" | "run" | "deferred" | "skipped") => tenants.reduce((s, t) => s + t[k], 0);
  return {
    ok: true,
    interrupted,
    tenants: tenants.length,
    seeded: sum("seeded"),
    due: sum("due"),
    asked: sum("asked"),
    run: sum("run"),
    deferred: sum("deferred"),
    skipped: sum("skipped"),
  };
}
