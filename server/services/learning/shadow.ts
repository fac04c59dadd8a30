import type { Clock } from "../../clock";
import type { Db, DbOrTx } from "../../db";
import {
  guardVerdict,
  type LearningSettings,
  type Scored,
  type ShadowResult,
  scoreWith,
  shadowGate,
  type TrainingRow,
} from "../../engine/learning";
import { readStoredJson } from "../../engine/storedJson";
import { AppError } from "../../errors";
import { candidatesOf, GLOBAL, guardedStates, insertShadowEvaluation, setGuard, tenantsWithCandidates } from "../../repos/learning";
import type { Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import { labelledRows } from "./data";
import { activeRanker, parseModel, type Ranker, RULES_RANKER, weightsRanker } from "./ranker";
import { rollbackWeights } from "./registry";
import { loadLearningSettings } from "./settings";

/**
 * Shadow mode and the promotion guard (SPEC §4.5). A CANDIDATE scores the same live, decided
 * proposals as the ranking that is ACTIVE, and the only thing it ever writes is a
 * ShadowEvaluation row: it ranks nothing anyone sees and touches no intent. After a promotion the
 * guard compares the promoted weights with the ranking they replaced on what was decided since,
 * and rolls back on a regression beyond the tolerance.
 */

const DAY_MS = 86_400_000;

/** The guard watch stored on the pointer by a promotion. */
export interface GuardWatch {
  weights_id: string;
  replaced_id: string | null;
  promoted_at: string;
  ends_at: string;
}

export function parseGuard(text: string | null): GuardWatch | null {
  const v = readStoredJson(text);
  if (!v || typeof v !== "object" || Array.isArray(v)) return null;
  const g = v as Partial<GuardWatch>;
  if (typeof g.weights_id !== "string" || typeof g.promoted_at !== "string" || typeof g.ends_at !== "string") return null;
  return {
    weights_id: g.weights_id,
    replaced_id: typeof g.replaced_id === "string" ? g.replaced_id : null,
    promoted_at: g.promoted_at,
    ends_at: g.ends_at,
  };
}

/** Labelled rows as one ranker orders them (top-K agreement reads only the score and the label). */
function scoredBy(rows: readonly TrainingRow[], score: (r: TrainingRow) => number): Scored[] {
  return rows.map((r) => ({ id: r.id, group: r.group, score: score(r), p: null, label: r.label }));
}

const rankerScore = (ranker: Ranker) => (r: TrainingRow) => ranker.score(r).rankScore;

/**
 * The shadow gate for one candidate, computed now: the proposals decided in
 * [max(created, now − window), now), scored by the candidate (with its own frozen seller rates)
 * and by the incumbent (the ACTIVE ranking as `activeRanker` serves it, the rules rank when
 * none). Promotion and the `shadow` job both call this, so what the job charts is what a
 * promotion checks.
 */
export async function shadowEvaluation(
  db: DbOrTx,
  clock: Clock,
  tenantId: string,
  candidate: { id: string; createdAt: Date; model: string },
  settings: LearningSettings,
): Promise<ShadowResult> {
  const model = parseModel(candidate.model);
  if (!model) throw new AppError("UNPROCESSABLE", `Weights ${candidate.id} are not a model this version can read`);
  const now = clock.now();
  const from = new Date(Math.max(candidate.createdAt.getTime(), now.getTime() - settings.shadow.window_days * DAY_MS));
  const { rows } = await labelledRows(db, tenantId, { from, to: now });
  const incumbent = await activeRanker(db, tenantId);
  return shadowGate(
    scoredBy(rows, (r) => scoreWith(model, r).rankScore),
    scoredBy(rows, rankerScore(incumbent)),
    settings.shadow,
  );
}

/** The ranking a promotion replaced: its weights, else what ranks without the scope's pointer. */
async function replacedRanker(db: DbOrTx, scope: string, replacedId: string | null): Promise<Ranker> {
  if (replacedId) return (await weightsRanker(db, scope, replacedId)) ?? RULES_RANKER;
  return scope === GLOBAL ? RULES_RANKER : activeRanker(db, GLOBAL);
}

const GUARD_ACTOR = { type: "SYSTEM", id: "guard" } as const;

export interface ShadowTickResult {
  ok: boolean;
  shadowEvaluations: number;
  guardEvaluations: number;
  rolledBack: number;
  cleared: number;
  failed: number;
}

/**
 * The `shadow` job: a SHADOW evaluation of every tenant CANDIDATE (the series the learning page
 * charts), then one GUARD evaluation of every watched promotion, acting on its verdict. GLOBAL
 * candidates have no live proposals of their own and are promoted by an operator, so only
 * tenant scopes are evaluated here. A candidate whose model cannot be read is counted as failed
 * and the others still run.
 */
export async function runShadowTick(db: Db, clock: Clock): Promise<ShadowTickResult> {
  const out: ShadowTickResult = { ok: true, shadowEvaluations: 0, guardEvaluations: 0, rolledBack: 0, cleared: 0, failed: 0 };
  for (const tenantId of (await tenantsWithCandidates(db)).filter((t) => t !== GLOBAL)) {
    const { settings } = await loadLearningSettings(db, tenantId);
    for (const c of await candidatesOf(db, tenantId)) {
      try {
        const r = await shadowEvaluation(db, clock, tenantId, c, settings);
        await insertShadowEvaluation(db, { tenantId, versionId: c.id, kind: "SHADOW", ...evaluationFields(r) }, clock.now());
        out.shadowEvaluations += 1;
      } catch (err) {
        // A version this code cannot read is reported, and the other candidates still run.
        if (!(err instanceof AppError)) throw err;
        out.failed += 1;
      }
    }
  }
  for (const state of await guardedStates(db)) {
    const watch = parseGuard(state.guard);
    if (!watch || state.tenantId === GLOBAL) continue;
    const r = await guardTick(db, clock, state.tenantId, state.revision, watch);
    out.guardEvaluations += 1;
    if (r === "ROLLED_BACK") out.rolledBack += 1;
    if (r === "CLEARED") out.cleared += 1;
  }
  out.ok = out.failed === 0;
  return out;
}

function evaluationFields(r: ShadowResult) {
  return {
    metric: r.metric,
    windowDays: r.window_days,
    minSample: r.min_sample,
    // A threshold only exists once the incumbent has a value; 0 is stored with value null.
    threshold: r.threshold ?? 0,
    value: r.value,
    baselineValue: r.baseline_value,
    sample: r.sample,
    passed: r.passed,
  };
}

async function guardTick(db: Db, clock: Clock, scope: string, revision: number, watch: GuardWatch) {
  const { settings } = await loadLearningSettings(db, scope);
  const now = clock.now();
  const { rows } = await labelledRows(db, scope, { from: new Date(watch.promoted_at), to: now });
  // Unreadable promoted weights rank nothing (activeRanker falls back past them): judge the fallback.
  const promoted = await weightsRanker(db, scope, watch.weights_id);
  const replaced = await replacedRanker(db, scope, watch.replaced_id);
  const windowOver = now.getTime() >= new Date(watch.ends_at).getTime();
  const verdict = guardVerdict(
    scoredBy(rows, rankerScore(promoted ?? (await replacedRanker(db, scope, null)))),
    scoredBy(rows, rankerScore(replaced)),
    settings.guard,
    windowOver,
    settings.shadow.k,
  );
  const g = settings.guard;
  await insertShadowEvaluation(
    db,
    {
      tenantId: scope,
      versionId: watch.weights_id,
      kind: "GUARD",
      metric: settings.shadow.metric,
      windowDays: g.window_days,
      minSample: g.min_sample,
      // the floor the promoted ranking must stay above: the replaced one's value less the tolerance
      threshold: verdict.baseline_value === null ? 0 : Math.round((verdict.baseline_value - g.tolerance) * 1e4) / 1e4,
      value: verdict.value,
      baselineValue: verdict.baseline_value,
      sample: verdict.sample,
      passed: verdict.kind !== "ROLLBACK",
    },
    now,
  );
  if (verdict.kind === "ROLLBACK") {
    const viewer: Viewer = { tenantId: scope, actor: GUARD_ACTOR, role: null, userId: null };
    const guard = {
      metric: settings.shadow.metric,
      k: settings.shadow.k,
      value: verdict.value,
      baseline_value: verdict.baseline_value,
      drop: verdict.drop,
      sample: verdict.sample,
      tolerance: g.tolerance,
      window_days: g.window_days,
      min_sample: g.min_sample,
      promoted_at: watch.promoted_at,
    };
    const reason = `guard: top-${settings.shadow.k} agreement ${verdict.value} fell ${verdict.drop} below the replaced ranking's ${verdict.baseline_value} (tolerance ${g.tolerance}, ${verdict.sample} proposals)`;
    try {
      await rollbackWeights(db, clock, viewer, reason, { automatic: true, guard, expectedId: watch.weights_id });
      return "ROLLED_BACK";
    } catch (err) {
      // Someone moved the pointer since this tick read it: the watch was theirs to end.
      if (err instanceof AppError && err.code === "CONFLICT") return "SKIPPED";
      throw err;
    }
  }
  if (verdict.kind === "CLEAR") {
    const cleared = await inTransaction(db, (tx) => setGuard(tx, scope, revision, null, now));
    return cleared ? "CLEARED" : "SKIPPED";
  }
  return "WATCHING";
}
