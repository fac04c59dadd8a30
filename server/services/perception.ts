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
  type PullState,
  type PullTier,
  readCadence,
  schedule,
  validateCadence,
} from "../engine/cadence";
import {
  budgetRetryAfter,
  DEFAULT_UNITS_PER_DAY,
  eligibility,
  KNOWN_PULL_CONNECTORS,
  type PullBudgetSettings,
  type PullDecision,
  type PullReason,
  type PullResult,
  rateKeys,
  rateLimitedRetryAfter,
  rateWindow,
  readPerConnector,
  remainingFor,
} from "../engine/perception";
import { readStoredJson } from "../engine/storedJson";
import { AppError, describeUnexpected } from "../errors";
import { accountNames } from "../repos/accounts";
import { allTenantIds, enabledKillSwitches, withConfigWrite } from "../repos/autonomy";
import { appendLedger, listLedger } from "../repos/ledger";
import {
  accountsWithoutPullState,
  consumePullUnits,
  countPullDecisions,
  deleteRateWindowsBefore,
  duePullStates,
  findPerceptionSettings,
  findPullState,
  finishPullJob,
  heatTiersOf,
  lastSignalTimes,
  type PullStateRow,
  pullStatesOf,
  pullUsageFor,
  recheckAllPullStates,
  reservePullJob,
  savePerceptionSettings,
  savePullState,
  TOTAL,
  takeRateSlot,
  warmerAccounts,
  writeNextTimes,
} from "../repos/perception";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import type { ConnectorDeps } from "./executor";
import { requireTenantAccount } from "./guards";
import { PULL_RUNNERS, type PullRunners, rateLimitsOf } from "./pullRunners";

/**
 * Perception scheduler (SPEC §4.4): the one path by which anything pulls from a connector —
 * `POST /api/v1/perception/pulls`, the tRPC button and the `perception` job all call
 * `requestPull`. Every decision, RUN or not, is exactly one PULL_SCHEDULED ledger entry.
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

/** A decision reached inside the admission transaction: it rolls the transaction back. */
class Refused extends Error {
  constructor(readonly decision: PullDecision) {
    super(decision.reason);
  }
}

function isUniqueViolation(err: unknown) {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "P2002";
}

// ───────────── settings ─────────────

async function loadSettings(db: Db, tenantId: string) {
  const row = await findPerceptionSettings(db, tenantId);
  const budget: PullBudgetSettings = {
    unitsPerDay: row?.unitsPerDay ?? DEFAULT_UNITS_PER_DAY,
    perConnector: readPerConnector(readStoredJson(row?.perConnector)),
  };
  return { budget, cadence: readCadence(readStoredJson(row?.cadence ?? "{}")), updatedAt: row?.updatedAt ?? null };
}

async function tierOf(db: Db, tenantId: string, accountId: string): Promise<PullTier> {
  const t = (await heatTiersOf(db, tenantId, [accountId])).get(accountId);
  return t && isPullTier(t) ? t : "COLD";
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

/**
 * Admit or refuse one pull, in the fixed order: eligibility → rate limit → reserve the pull-job id
 * → consume budget → run. The three middle steps are conditional writes in one transaction, so a
 * refusal at any of them leaves nothing behind (a rate slot is spent only by a pull that runs, and
 * a pull-job id deferred for budget may be asked again). The run itself happens after commit.
 */
export async function requestPull(deps: PerceptionDeps, viewer: Viewer, req: PullRequest): Promise<PullAnswer> {
  const { db, clock } = deps;
  const runners = deps.runners ?? PULL_RUNNERS;
  const tenantId = viewer.tenantId;
  await requireTenantAccount(db, tenantId, req.accountId);
  const runner = Object.hasOwn(runners, req.connector) ? runners[req.connector] : undefined;
  const [tier, settings, killed, availability] = await Promise.all([
    tierOf(db, tenantId, req.accountId),
    loadSettings(db, tenantId),
    connectorKillSwitchOn(db, tenantId, req.connector),
    runner ? runner.availability(db, tenantId) : Promise.resolve(null),
  ]);
  const units = DEPTH_UNITS[req.depth];
  const ledger = (tx: Parameters<typeof appendLedger>[0], d: PullDecision, spent: number, now: Date) =>
    appendLedger(
      tx,
      {
        tenantId,
        accountId: req.accountId,
        type: "PULL_SCHEDULED",
        actor: viewer.actor,
        payload: {
          pull_job_id: req.pullJobId,
          connector: req.connector,
          depth: req.depth,
          tier,
          result: d.result,
          reason: d.reason,
          units: spent,
          retry_after_seconds: d.retryAfterSeconds ?? null,
          source: req.source,
        },
      },
      now,
    );
  const refuse = async (d: PullDecision): Promise<PullAnswer> => {
    await inTransaction(db, (tx) => ledger(tx, d, 0, clock.now()));
    return { ...d, tier, units: 0 };
  };

  const ineligible = eligibility({ hasRunner: !!runner, availability, connectorKillSwitchOn: killed });
  if (ineligible || !runner) return refuse(ineligible ?? { result: "SKIP", reason: "NO_PULL_RUNNER" });

  const limits = await rateLimitsOf(runner, db, tenantId);
  let admitted: { id: string; state: PullState };
  try {
    admitted = await inTransaction(db, async (tx) => {
      const now = clock.now();
      const keys = rateKeys(tenantId, req.connector);
      const window = rateWindow(now);
      if (
        !(await takeRateSlot(tx, keys.tenant, window, limits.perTenantPerMinute)) ||
        !(await takeRateSlot(tx, keys.global, window, limits.globalPerMinute))
      )
        throw new Refused({ result: "DEFER", reason: "RATE_LIMITED", retryAfterSeconds: rateLimitedRetryAfter(now) });
      let job: { id: string };
      try {
        job = await reservePullJob(
          tx,
          { tenantId, pullJobId: req.pullJobId, accountId: req.accountId, connector: req.connector, depth: req.depth, tier, units },
          now,
        );
      } catch (err) {
        if (isUniqueViolation(err)) throw new Refused({ result: "SKIP", reason: "DUPLICATE_PULL_JOB_ID" });
        throw err;
      }
      const cap = settings.budget.perConnector[req.connector];
      if (!(await consumePullUnits(tx, tenantId, utcDateKey(now), req.connector, units, settings.budget.unitsPerDay, cap)))
        throw new Refused({ result: "DEFER", reason: "BUDGET_EXHAUSTED", retryAfterSeconds: budgetRetryAfter(now) });
      // Mark the account pulled now, so another instance's tick does not pick it while it runs.
      const before = (await findPullState(tx, tenantId, req.accountId)) ?? emptyState(req.accountId);
      const state = { accountId: req.accountId, ...afterPull(settings.cadence, tier, req.accountId, req.depth, now, before) };
      await savePullState(tx, tenantId, state);
      await ledger(tx, { result: "RUN", reason: "ADMITTED" }, units, now);
      return { id: job.id, state: before };
    });
  } catch (err) {
    // On PostgreSQL a unique violation aborts the transaction; it arrives here as the P2002 itself.
    if (err instanceof Refused) return refuse(err.decision);
    if (isUniqueViolation(err)) return refuse({ result: "SKIP", reason: "DUPLICATE_PULL_JOB_ID" });
    throw err;
  }

  let status: "DONE" | "FAILED" = "DONE";
  let signals = 0;
  let error: string | null = null;
  try {
    signals = (await runner.run({ db, clock, pullJobId: req.pullJobId, connectors: deps.connectors }, tenantId, req.accountId, req.depth))
      .signals;
  } catch (err) {
    status = "FAILED";
    error = describeUnexpected(err).slice(0, 500);
  }
  const finishedAt = clock.now();
  await inTransaction(db, async (tx) => {
    await finishPullJob(tx, tenantId, admitted.id, { status, signals, error }, finishedAt);
    // Pulled as of the end of the run: signals the run itself produced are not "new since the
    // last pull", so a HOT account's shallow-on-signal cannot feed on its own pulls.
    const state = { accountId: req.accountId, ...afterPull(settings.cadence, tier, req.accountId, req.depth, finishedAt, admitted.state) };
    await savePullState(tx, tenantId, state);
  });
  return { result: "RUN", reason: "ADMITTED", tier, units, run: { status, signals } };
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
  const ask = async (p: DuePull, connector: string) => {
    out.asked += 1;
    const a = await requestPull(deps, viewer, {
      accountId: p.accountId,
      connector,
      depth: p.depth,
      pullJobId: cadencePullJobId(p.accountId, p.depth, p.trigger, p.slotAt),
      source: "cadence",
    });
    if (a.result === "RUN") out.run += 1;
    else if (a.result === "DEFER") out.deferred += 1;
    else out.skipped += 1;
    return a;
  };

  for (const p of pulls) {
    if (out.asked >= opts.maxPulls) break;
    for (const c of connectors) {
      if (stopped.has(c)) continue;
      const units = DEPTH_UNITS[p.depth];
      if (remainingFor(settings.budget, used, c) < units) {
        if (!unaffordable.has(c)) unaffordable.set(c, p);
        continue;
      }
      const a = await ask(p, c);
      if (a.result === "RUN") {
        used.total += units;
        used.byConnector[c] = (used.byConnector[c] ?? 0) + units;
      } else if (a.reason === "BUDGET_EXHAUSTED") {
        stopped.add(c);
        unaffordable.delete(c);
      } else if (a.reason !== "DUPLICATE_PULL_JOB_ID") {
        stopped.add(c); // rate-limited or no longer eligible: wait for the next tick
      }
    }
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

/** The `perception` job: for each tenant, pull what the cadence says is due, hottest first, within budget. */
export async function runPerceptionTick(deps: PerceptionDeps, opts: PerceptionTickOptions = {}) {
  const o: Required<PerceptionTickOptions> = { maxCandidates: opts.maxCandidates ?? 5000, maxPulls: opts.maxPulls ?? 500 };
  const tenants: Awaited<ReturnType<typeof tickTenant>>[] = [];
  for (const tenantId of await allTenantIds(deps.db)) tenants.push(await tickTenant(deps, tenantId, o));
  await deleteRateWindowsBefore(deps.db, rateWindow(deps.clock.now()) - 5);
  const sum = (k: "seeded" | "due" | "asked" | "run" | "deferred" | "skipped") => tenants.reduce((s, t) => s + t[k], 0);
  return {
    ok: true,
    tenants: tenants.length,
    seeded: sum("seeded"),
    due: sum("due"),
    asked: sum("asked"),
    run: sum("run"),
    deferred: sum("deferred"),
    skipped: sum("skipped"),
  };
}
