import type { Clock } from "../../clock";
import type { Db, Tx } from "../../db";
import type { ShadowResult } from "../../engine/learning";
import { readStoredJson } from "../../engine/storedJson";
import { AppError, notFound } from "../../errors";
import {
  ensureLearningState,
  flipActive,
  GLOBAL,
  insertShadowEvaluation,
  latestEvaluations,
  learningState,
  listWeights,
  lockLearningState,
  saveLearningSettings,
  setWeightsStatus,
  weightsById,
} from "../../repos/learning";
import { appendLedger } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import { type LearningSettingsPatch, mergeLearningSettings, readLearningSettings } from "../../schemas/learning";
import { activeRanker } from "./ranker";
import { loadLearningSettings } from "./settings";
import { parseGuard, shadowEvaluation } from "./shadow";

/**
 * The weights registry (SPEC §4.5): list the versions, promote one past the shadow gate, roll
 * back in one call. The pointer (LearningState) moves only by a conditional update on its
 * revision, so concurrent callers on any number of instances cannot both win, and every move is
 * ledgered in its transaction. Rows are never deleted: a replaced or rolled-back version is
 * RETIRED and stays listed.
 *
 * A tenant promotes and rolls back its own versions only. GLOBAL versions are listed to tenants
 * but moved by an operator (./global.ts, CLI only); a GLOBAL id is "not found" to a tenant's promote.
 *
 * None of this is policy: the gate never reads the pointer, the weights or these settings.
 */

const DAY_MS = 86_400_000;
const LIST_MAX = 200;

/** Thrown by a promotion the shadow gate refuses: 409 with its own code and the numbers. */
export class ShadowGateNotPassed extends AppError {
  constructor(readonly result: ShadowResult) {
    const r = result;
    const why =
      r.sample < r.min_sample
        ? `only ${r.sample} decided proposals in the last ${r.window_days} days, ${r.min_sample} needed`
        : r.value === null || r.threshold === null
          ? `no owner-day had enough mixed outcomes to compare rankings (${r.sample} proposals)`
          : `${r.metric} ${r.value} is below the threshold ${r.threshold} (the ACTIVE ranking's ${r.baseline_value} plus the minimum lift) on ${r.sample} proposals`;
    super("CONFLICT", `Shadow gate not passed: ${why}`, undefined, "SHADOW_GATE_NOT_PASSED");
  }
}

function evaluationView(e: {
  metric: string;
  windowDays: number;
  minSample: number;
  threshold: number;
  value: number | null;
  sample: number;
  passed: boolean;
  baselineValue: number | null;
  at: Date;
}) {
  return {
    metric: e.metric,
    window_days: e.windowDays,
    min_sample: e.minSample,
    // stored as 0 when the incumbent had no value yet: there was no threshold
    threshold: e.baselineValue === null ? null : e.threshold,
    value: e.value,
    sample: e.sample,
    passed: e.passed,
    baseline_value: e.baselineValue,
    evaluated_at: e.at,
  };
}

type WeightsRow = NonNullable<Awaited<ReturnType<typeof weightsById>>>;

function weightsView(w: WeightsRow, shadow: ReturnType<typeof evaluationView> | null) {
  return {
    id: w.id,
    version: w.version,
    status: w.status as "CANDIDATE" | "ACTIVE" | "RETIRED",
    scope: w.tenantId === GLOBAL ? ("GLOBAL" as const) : ("TENANT" as const),
    features_version: w.featuresVersion,
    created_at: w.createdAt,
    promoted_at: w.promotedAt,
    retired_at: w.retiredAt,
    provenance: readStoredJson(w.provenance),
    shadow,
  };
}

/** `GET /api/v1/learning/weights`: the tenant's and the GLOBAL versions, newest first. */
export async function listWeightsView(db: Db, viewer: Viewer) {
  const rows = await listWeights(db, viewer.tenantId, LIST_MAX);
  const evaluations = await latestEvaluations(
    db,
    viewer.tenantId,
    rows.map((r) => r.id),
    "SHADOW",
  );
  // Newest first: the first evaluation seen of a version is its latest.
  const latest = new Map<string, (typeof evaluations)[number]>();
  for (const e of evaluations) if (!latest.has(e.versionId)) latest.set(e.versionId, e);
  const [ranker, { settings, problem }, state] = await Promise.all([
    activeRanker(db, viewer.tenantId),
    loadLearningSettings(db, viewer.tenantId),
    learningState(db, viewer.tenantId),
  ]);
  return {
    items: rows.map((r) => {
      const e = latest.get(r.id);
      return weightsView(r, e ? evaluationView(e) : null);
    }),
    // at most LIST_MAX versions are kept in view; there is no second page
    next_cursor: null,
    active_id: ranker.weightsId,
    active_scope: ranker.scope,
    guard: parseGuard(state?.guard ?? null),
    settings,
    settings_problem: problem,
  };
}

/** The pointer's history: the ids that were ACTIVE before, most recent last. */
export function historyOf(text: string): string[] {
  const v = readStoredJson(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

const NOTHING_ACTIVE = "Nothing to roll back: none of this workspace's weights versions is ACTIVE";

export const lostRace = () => new AppError("CONFLICT", "The ACTIVE ranking changed while this was being decided; reload and try again");

/**
 * Promote a CANDIDATE (or re-promote a RETIRED version: it must pass the shadow gate again, on
 * today's proposals, like any candidate). The gate is computed fresh, against the ranking ACTIVE
 * now; if that ranking changes before the pointer moves, the result no longer applies and the
 * call is a CONFLICT rather than a promotion on a stale comparison. A flip lost only to a guard
 * update (the same ACTIVE version) is retried once.
 */
export async function promoteWeights(db: Db, clock: Clock, viewer: Viewer, id: string, reason: string) {
  const tenantId = viewer.tenantId;
  const row = await weightsById(db, tenantId, id);
  if (!row) throw notFound("Weights version");
  if (row.status === "ACTIVE") throw new AppError("CONFLICT", `Weights version ${row.version} is already ACTIVE`);
  const incumbentId = (await learningState(db, tenantId))?.activeId ?? null;
  const { settings } = await loadLearningSettings(db, tenantId);
  const shadow = await shadowEvaluation(db, clock, tenantId, row, settings);
  if (!shadow.passed) throw new ShadowGateNotPassed(shadow);

  for (let attempt = 0; attempt < 2; attempt++) {
    const out = await inTransaction(db, async (tx) => {
      const now = clock.now();
      await ensureLearningState(tx, tenantId, now);
      const state = await learningState(tx, tenantId);
      const current = await weightsById(tx, tenantId, id);
      if (!state || !current) throw notFound("Weights version");
      if (current.status === "ACTIVE") throw new AppError("CONFLICT", `Weights version ${current.version} is already ACTIVE`);
      if ((state.activeId ?? null) !== incumbentId) throw lostRace();
      const history = historyOf(state.history);
      if (state.activeId) history.push(state.activeId);
      const guard = {
        weights_id: id,
        replaced_id: state.activeId,
        promoted_at: now.toISOString(),
        ends_at: new Date(now.getTime() + settings.guard.window_days * DAY_MS).toISOString(),
      };
      const moved = await flipActive(
        tx,
        tenantId,
        state.revision,
        { activeId: id, history: JSON.stringify(history), guard: JSON.stringify(guard) },
        viewer.actor.id,
        now,
      );
      if (!moved) return null;
      await setWeightsStatus(tx, tenantId, id, "ACTIVE", now);
      if (state.activeId) await setWeightsStatus(tx, tenantId, state.activeId, "RETIRED", now);
      // The numbers the promotion passed on join the shadow series.
      await insertShadowEvaluation(
        tx,
        {
          tenantId,
          versionId: id,
          kind: "SHADOW",
          metric: shadow.metric,
          windowDays: shadow.window_days,
          minSample: shadow.min_sample,
          threshold: shadow.threshold ?? 0,
          value: shadow.value,
          baselineValue: shadow.baseline_value,
          sample: shadow.sample,
          passed: shadow.passed,
        },
        now,
      );
      await appendLedger(
        tx,
        {
          tenantId,
          type: "RANKING_WEIGHTS_PROMOTED",
          actor: viewer.actor,
          payload: {
            weights_id: id,
            version: current.version,
            scope: "TENANT",
            previous_id: state.activeId,
            reason,
            shadow: { ...shadow },
          },
        },
        now,
      );
      return { weights_id: id, version: current.version, previous_id: state.activeId, shadow, guard };
    });
    if (out) return out;
  }
  throw lostRace();
}

export interface RollbackOptions {
  /** true when the guard rolls back (actor SYSTEM guard) */
  automatic?: boolean;
  /** the guard's numbers, ledgered with the rollback */
  guard?: Record<string, number | string | null>;
  /** roll back only if this version is still the ACTIVE one (the guard's watch) */
  expectedId?: string;
}

/**
 * Roll back the ACTIVE version in one call: the version before it (or, with none, the rules
 * ranking) ranks the very next request. The rolled-back version is RETIRED and stays listed.
 * A caller rolls back the version it saw ACTIVE; if another caller moved the pointer first, this
 * one is a CONFLICT — ten concurrent rollbacks undo one promotion, not ten.
 */
export async function rollbackWeights(db: Db, clock: Clock, viewer: Viewer, reason: string, opts: RollbackOptions = {}) {
  const tenantId = viewer.tenantId;
  const seen = opts.expectedId ?? (await learningState(db, tenantId))?.activeId ?? null;
  if (!seen) throw new AppError("CONFLICT", NOTHING_ACTIVE);

  for (let attempt = 0; attempt < 2; attempt++) {
    const out = await inTransaction(db, async (tx) => {
      const now = clock.now();
      const state = await learningState(tx, tenantId);
      if (!state?.activeId) throw new AppError("CONFLICT", NOTHING_ACTIVE);
      if (state.activeId !== seen) throw lostRace();
      const history = historyOf(state.history);
      const restored = history.pop() ?? null;
      const moved = await flipActive(
        tx,
        tenantId,
        state.revision,
        { activeId: restored, history: JSON.stringify(history), guard: null },
        viewer.actor.id,
        now,
      );
      if (!moved) return null;
      await setWeightsStatus(tx, tenantId, seen, "RETIRED", now);
      if (restored) await setWeightsStatus(tx, tenantId, restored, "ACTIVE", now);
      const version = (await weightsById(tx, tenantId, seen))?.version ?? null;
      await appendLedger(
        tx,
        {
          tenantId,
          type: "RANKING_WEIGHTS_ROLLED_BACK",
          actor: viewer.actor,
          payload: {
            weights_id: seen,
            version,
            restored_id: restored,
            scope: "TENANT",
            reason,
            automatic: opts.automatic ?? false,
            ...(opts.guard ? { guard: opts.guard } : {}),
          },
        },
        now,
      );
      return { weights_id: seen, version, restored_id: restored, automatic: opts.automatic ?? false };
    });
    if (out) return out;
  }
  throw lostRace();
}

// ───────────── settings (extension) ─────────────

/** `GET /api/v1/learning/settings`: the effective settings and any problem with the stored ones. */
export async function learningSettingsView(db: Db, viewer: Viewer) {
  const state = await learningState(db, viewer.tenantId);
  const { settings, problem } = readLearningSettings(state?.settings);
  return { settings, settings_problem: problem, updated_at: state?.updatedAt ?? null };
}

/**
 * `PUT /api/v1/learning/settings` (admin): merge the patch over the effective settings and store
 * the result. Ledgered as CONFIG_CHANGED for audit, but through a plain append, not the gate's
 * config-write path: the gate never reads these.
 */
export async function saveLearningSettingsFor(db: Db, clock: Clock, viewer: Viewer, patch: LearningSettingsPatch, reason?: string) {
  await inTransaction(db, async (tx: Tx) => {
    const now = clock.now();
    await ensureLearningState(tx, viewer.tenantId, now);
    await lockLearningState(tx, viewer.tenantId, now);
    const before = readLearningSettings((await learningState(tx, viewer.tenantId))?.settings).settings;
    const after = mergeLearningSettings(before, patch);
    await saveLearningSettings(tx, viewer.tenantId, JSON.stringify(after), viewer.actor.id, now);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: { change: "learning_settings", before, after, ...(reason ? { reason } : {}) },
      },
      now,
    );
  });
  return learningSettingsView(db, viewer);
}
