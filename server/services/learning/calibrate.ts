import type { Clock } from "../../clock";
import type { Db } from "../../db";
import { canonicalJson } from "../../engine/canonical";
import {
  DEFAULT_FIT,
  evaluate,
  FEATURES_VERSION,
  type FitResult,
  fitRanking,
  type Metrics,
  type TrainingRow,
  unitHash,
} from "../../engine/learning";
import { AppError, notFound, reportUnexpected } from "../../errors";
import {
  activeCalibrationRun,
  calibrationRun,
  claimCalibrationRun,
  countDecidedIntents,
  finishCalibrationRun,
  insertCalibrationRun,
  insertWeights,
  lastCompletedCalibrationAt,
  lockLearningState,
  nextWeightsVersion,
  recentCalibrationRuns,
  updateCalibrationRun,
} from "../../repos/learning";
import { appendLedger } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import { listTenants } from "../../repos/tenants";
import { inTransaction } from "../../repos/tx";
import { enqueue, JobError } from "../jobQueue";
import { labelledRows } from "./data";
import { activeRanker } from "./ranker";
import { loadLearningSettings } from "./settings";

/**
 * Ranking calibration (SPEC §4.5, §5.1 `POST /api/v1/learning/calibrations`): a request writes a
 * CalibrationRun and its durable queue job in one transaction; the job loads the tenant's labelled
 * rows, fits the engine's model, evaluates it beside the incumbent ranking on the same holdout and
 * registers it as a CANDIDATE with its provenance — the insert and CALIBRATION_COMPLETED commit
 * together. One calibration at a time per tenant. Progress is written to the run as it goes.
 *
 * Crash safety: a re-delivered job re-claims its run and starts over (nothing is written until the
 * last transaction, which only the current claim can commit); a finished run is a no-op.
 */

export const CALIBRATE = "CALIBRATE";
/** The seed when none is asked for: the same data then gives the same candidate. */
export const DEFAULT_SEED = 0;

/** The share of the progress bar each phase spans: loading reads the database, the rest is CPU. */
const PHASE_SPAN = { LOADING: [0, 0.6], FITTING: [0.6, 0.85], EVALUATING: [0.85, 0.95], REGISTERING: [0.95, 1] } as const;
export type CalibrationPhase = keyof typeof PHASE_SPAN;

export interface CalibrationView {
  id: string;
  status: string;
  phase: string | null;
  progress: number;
  rowsTotal: number;
  rowsDone: number;
  seed: number;
  weightsId: string | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

type RunRow = NonNullable<Awaited<ReturnType<typeof calibrationRun>>>;

function toView(r: RunRow): CalibrationView {
  return {
    id: r.id,
    status: r.status,
    phase: r.phase,
    progress: r.progress,
    rowsTotal: r.rowsTotal,
    rowsDone: r.rowsDone,
    seed: r.seed,
    weightsId: r.versionId,
    error: r.error,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

/**
 * Start a calibration: the run (QUEUED) and its queue job commit together. Refused with CONFLICT
 * naming the run while the tenant has one QUEUED or RUNNING — the check runs under the tenant's
 * learning-state row lock, so of two concurrent requests exactly one gets through.
 */
export async function requestCalibration(
  db: Db,
  clock: Clock,
  viewer: Viewer,
  opts: { seed?: number } = {},
): Promise<{ jobId: string; status: string }> {
  const now = clock.now();
  return inTransaction(db, async (tx) => {
    await lockLearningState(tx, viewer.tenantId, now);
    const running = await activeCalibrationRun(tx, viewer.tenantId);
    if (running) throw new AppError("CONFLICT", `Calibration ${running.id} is already ${running.status.toLowerCase()}; one runs at a time`);
    const run = await insertCalibrationRun(
      tx,
      { tenantId: viewer.tenantId, seed: opts.seed ?? DEFAULT_SEED, actorType: viewer.actor.type, actorId: viewer.actor.id },
      now,
    );
    await enqueue(tx, { tenantId: viewer.tenantId, kind: CALIBRATE, payload: { runId: run.id }, dedupeKey: `calibrate:${run.id}` }, clock);
    return { jobId: run.id, status: run.status };
  });
}

export async function calibrationStatus(db: Db, viewer: Viewer, id: string): Promise<CalibrationView> {
  const run = await calibrationRun(db, viewer.tenantId, id);
  if (!run) throw notFound("Calibration");
  return toView(run);
}

export async function listCalibrations(db: Db, viewer: Viewer, limit: number): Promise<CalibrationView[]> {
  return (await recentCalibrationRuns(db, viewer.tenantId, Math.min(100, Math.max(1, Math.floor(limit))))).map(toView);
}

// ─────────────────────────────── the job ───────────────────────────────

export interface CalibrationProgress {
  phase: CalibrationPhase;
  progress: number;
  rowsTotal: number;
  rowsDone: number;
}

export interface CalibrationResult {
  runId: string;
  status: "COMPLETED" | "FAILED" | "NOTHING_TO_DO";
  weightsId: string | null;
  rows: number;
  error: string | null;
}

/** The incumbent the candidate is compared with, scored on the candidate's own holdout rows. */
async function baselineOf(
  db: Db,
  tenantId: string,
  rows: readonly TrainingRow[],
  seed: number,
  holdout: number,
  k: number,
  res: FitResult,
) {
  const ranker = await activeRanker(db, tenantId);
  if (ranker.weightsId === null) return { kind: "RULES" as const, metrics: res.baseline };
  // fit() evaluates on the holdout when it has one, else on every row: the same rows here.
  const held = rows.filter((r) => unitHash(seed, r.id) < holdout);
  const evalRows = held.length > 0 && held.length < rows.length ? held : rows;
  const scored = evalRows.map((r) => {
    const s = ranker.score({ id: r.id, actionType: r.actionType, confidence: r.confidence, features: r.features, rulesRank: r.rulesRank });
    // A weights ranker's rank score is its probability (rounded), so it has a log loss too.
    return { id: r.id, group: r.group, score: s.rankScore, p: s.rankScore, label: r.label };
  });
  return {
    kind: "ACTIVE" as const,
    weights_id: ranker.weightsId,
    version: ranker.version,
    scope: ranker.scope,
    metrics: evaluate(scored, k),
    rules_metrics: res.baseline,
  };
}

const metricsJson = (m: Metrics) => ({ rows: m.rows, log_loss: m.log_loss, brier: m.brier, top_k_agreement: m.top_k_agreement });

/**
 * End a run FAILED and ledger why — only if it is still RUNNING under the claim that started at
 * `startedAt` (a late duplicate worker records nothing).
 */
async function failRun(
  db: Db,
  clock: Clock,
  tenantId: string,
  runId: string,
  startedAt: Date,
  payload: { job_id: string; ok: false; rows: number; error: string } & Record<string, unknown>,
) {
  await inTransaction(db, async (tx) => {
    if (!(await finishCalibrationRun(tx, tenantId, runId, startedAt, { status: "FAILED", error: payload.error }, clock.now()))) return;
    await appendLedger(
      tx,
      { tenantId, type: "CALIBRATION_COMPLETED", actor: { type: "SYSTEM", id: "calibrate" }, correlationId: runId, payload },
      clock.now(),
    );
  });
}

/**
 * Run (or, after a crash, re-run from the start) one calibration. A COMPLETED or FAILED run, or
 * one another worker holds, is a no-op. `onProgress` sees each progress write (the CLI prints them).
 */
export async function runCalibration(
  db: Db,
  clock: Clock,
  tenantId: string,
  runId: string,
  opts: { onProgress?: (p: CalibrationProgress) => void } = {},
): Promise<CalibrationResult> {
  const startedAt = clock.now();
  const nothing: CalibrationResult = { runId, status: "NOTHING_TO_DO", weightsId: null, rows: 0, error: null };
  const before = await calibrationRun(db, tenantId, runId);
  if (!before || before.status === "COMPLETED" || before.status === "FAILED") return nothing;
  if (!(await claimCalibrationRun(db, tenantId, runId, startedAt))) return nothing;

  const { settings } = await loadLearningSettings(db, tenantId);
  const cal = settings.calibration;
  const range = { from: new Date(startedAt.getTime() - cal.lookback_days * 86_400_000), to: startedAt };
  const rowsTotal = await countDecidedIntents(db, tenantId, range);
  let rowsDone = 0;
  const progress = async (phase: CalibrationPhase, fraction: number) => {
    const [from, to] = PHASE_SPAN[phase];
    const value = Math.round((from + (to - from) * Math.min(1, fraction)) * 1000) / 1000;
    await updateCalibrationRun(db, tenantId, runId, { phase, progress: value, rowsTotal, rowsDone });
    opts.onProgress?.({ phase, progress: value, rowsTotal, rowsDone });
  };

  await progress("LOADING", 0);
  const data = await labelledRows(db, tenantId, range, async (scanned) => {
    rowsDone = scanned;
    await progress("LOADING", rowsTotal > 0 ? scanned / rowsTotal : 1);
  });
  await progress("LOADING", 1);
  const positives = data.rows.filter((r) => r.label === 1).length;

  const base = { job_id: runId, rows: data.rows.length, trained_from: range.from.toISOString(), trained_to: range.to.toISOString() };
  if (data.rows.length < cal.min_rows) {
    const error = `${data.rows.length} labelled rows in the last ${cal.lookback_days} days; a calibration needs at least ${cal.min_rows}`;
    await failRun(db, clock, tenantId, runId, startedAt, { ...base, ok: false, positives, negatives: data.rows.length - positives, error });
    return { runId, status: "FAILED", weightsId: null, rows: data.rows.length, error };
  }

  // fit() is synchronous CPU work: its progress callback cannot write to the database while it
  // runs, so the run shows FITTING at the start and the next phase when it returns.
  await progress("FITTING", 0);
  const k = settings.shadow.k;
  const res = fitRanking(data.rows, {
    ...DEFAULT_FIT,
    lambda: cal.lambda,
    holdout: cal.holdout,
    k,
    seed: before.seed,
    sellers: data.sellers,
  });
  await progress("EVALUATING", 0);
  const baseline = await baselineOf(db, tenantId, data.rows, before.seed, cal.holdout, k, res);
  await progress("REGISTERING", 0);

  const provenance = {
    ...base,
    positives: res.positives,
    negatives: res.negatives,
    train_rows: res.trainRows,
    holdout_rows: res.holdoutRows,
    scanned: data.scanned,
    features_version: FEATURES_VERSION,
    seed: before.seed,
    lambda: cal.lambda,
    holdout: cal.holdout,
    k,
    iterations: res.iterations,
    converged: res.converged,
    baseline,
    metrics: metricsJson(res.metrics),
    reliability: res.reliability,
    decisions: data.decisions,
  };
  const weightsId = await inTransaction(db, async (tx) => {
    const now = clock.now();
    const version = await nextWeightsVersion(tx, tenantId);
    const weights = await insertWeights(
      tx,
      {
        tenantId,
        version,
        featuresVersion: FEATURES_VERSION,
        model: canonicalJson(res.model),
        provenance: canonicalJson(provenance),
        createdBy: before.actorId,
      },
      now,
    );
    const finished = await finishCalibrationRun(
      tx,
      tenantId,
      runId,
      startedAt,
      { status: "COMPLETED", phase: "REGISTERING", progress: 1, versionId: weights.id },
      now,
    );
    // Re-claimed by another worker meanwhile: roll this candidate back; that worker registers its own.
    if (!finished) throw new LostClaim();
    await appendLedger(
      tx,
      {
        tenantId,
        type: "CALIBRATION_COMPLETED",
        actor: { type: "SYSTEM", id: "calibrate" },
        correlationId: runId,
        payload: {
          ...base,
          ok: true,
          weights_id: weights.id,
          version,
          scope: "TENANT",
          positives: res.positives,
          negatives: res.negatives,
          metrics: metricsJson(res.metrics),
          baseline,
        },
      },
      now,
    );
    return weights.id;
  }).catch((err) => {
    if (err instanceof LostClaim) return null;
    throw err;
  });
  if (weightsId === null) return nothing;
  opts.onProgress?.({ phase: "REGISTERING", progress: 1, rowsTotal, rowsDone });
  return { runId, status: "COMPLETED", weightsId, rows: data.rows.length, error: null };
}

class LostClaim extends Error {}

/**
 * The durable-queue handler (server/jobs/registry.ts). An unexpected error is retried by the
 * queue (the run starts over); the last attempt marks the run FAILED, ledgered, so it never stays
 * RUNNING and the tenant can calibrate again.
 */
export async function handleCalibrationJob(
  payload: unknown,
  ctx: { db: Db; clock: Clock; job: { tenantId: string; attempt: number; maxAttempts: number } },
  opts: { onProgress?: (p: CalibrationProgress) => void } = {},
) {
  const runId = (payload as { runId?: unknown } | null)?.runId;
  if (typeof runId !== "string") throw new JobError("payload has no runId", { permanent: true });
  const { db, clock } = ctx;
  const tenantId = ctx.job.tenantId;
  try {
    return await runCalibration(db, clock, tenantId, runId, opts);
  } catch (err) {
    if (ctx.job.attempt >= ctx.job.maxAttempts) {
      const id = reportUnexpected(`calibration ${runId}`, err);
      const error = `The calibration stopped after ${ctx.job.attempt} attempts (error id ${id})`;
      const run = await calibrationRun(db, tenantId, runId);
      if (run?.status === "RUNNING" && run.startedAt) {
        // Nothing was trained on; how far loading got is in intents_read.
        await failRun(db, clock, tenantId, runId, run.startedAt, { job_id: runId, ok: false, rows: 0, intents_read: run.rowsDone, error });
      }
    }
    throw err;
  }
}

// ─────────────────────────────── the schedule ───────────────────────────────

const SCHEDULER: Viewer["actor"] = { type: "SYSTEM", id: "calibrate" };

/**
 * The `calibrate` job's first half: request a calibration for every tenant that is due — its last
 * successful one older than `every_days` (0: only on request), none running, and at least
 * `min_rows` labelled rows (the cheap decided-intent count first, then the labelled rows
 * themselves, so a tenant with too little data is not handed a failing run every day).
 */
export async function requestDueCalibrations(db: Db, clock: Clock) {
  const now = clock.now();
  const requested: string[] = [];
  for (const tenant of await listTenants(db)) {
    const { settings } = await loadLearningSettings(db, tenant.id);
    const cal = settings.calibration;
    if (cal.every_days === 0) continue;
    const last = await lastCompletedCalibrationAt(db, tenant.id);
    if (last && now.getTime() - last.getTime() < cal.every_days * 86_400_000) continue;
    if (await activeCalibrationRun(db, tenant.id)) continue;
    const range = { from: new Date(now.getTime() - cal.lookback_days * 86_400_000), to: now };
    if ((await countDecidedIntents(db, tenant.id, range)) < cal.min_rows) continue;
    if ((await labelledRows(db, tenant.id, range)).rows.length < cal.min_rows) continue;
    const viewer: Viewer = { tenantId: tenant.id, actor: SCHEDULER, role: null, userId: null };
    try {
      requested.push((await requestCalibration(db, clock, viewer)).jobId);
    } catch (err) {
      // Someone asked for one between the check and the request: theirs runs.
      if (!(err instanceof AppError && err.code === "CONFLICT")) throw err;
    }
  }
  return requested;
}
