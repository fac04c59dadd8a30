import type { LedgerPayloadOf } from "@/server/engine/ledgerPayloads";
import type { Tx } from "../../db";
import { utcDateKey } from "../../engine/budget";
import { type CostGateVerdict, evaluateCostGate } from "../../engine/costGate";
import { readHeat } from "../../engine/heat";
import { enforceContactRecipients, type SynthesisInput } from "../../engine/synthesis";
import {
  accountRunState,
  ensureRunState,
  findRun,
  meterRun,
  newEvidenceSince,
  openIntentCount,
  recordRunGate,
  releaseAdmissionLock,
  rollDay,
  synthesisContext,
  takeAdmissionLock,
  tenantRunState,
  transitionRun,
} from "../../repos/decisions";
import { heatOf } from "../../repos/heat";
import { appendLedger, appendLedgerBatch } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import { loadDecisionSettings } from "../decisionSettings";
import { submitIntent } from "../gate";
import { enqueue, JobError } from "../jobQueue";
import { DEFAULT_MAX_OUTPUT_TOKENS, estimateTokens } from "../llmSynthesizer";
import { type DecisionDeps, RUN_DECISION, SYSTEM } from "./shared";

/**
 * A decision run: it reserved its idempotency key (at most once), takes the account's admission
 * lock, asks the cost gate, and only on ALLOW synthesizes proposals, which enter the autonomy gate
 * like any other intent — under the run's correlation id.
 */

/** An admission lock outlives a crashed run by at most this long. */
const LOCK_TTL_SECONDS = 120;
/** Contention for the admission lock is worth one quick retry. */
const LOCKED_RETRY_SECONDS = 30;
/** How far back the synthesizer looks at signals and activity. */
const LOOKBACK_MS = 7 * 86_400_000;

/** The RUN_DECISION job handler. Idempotent: a run that is finished or running is left alone. */
export async function executeRun(deps: DecisionDeps, tenantId: string, runId: string) {
  const { db, clock } = deps;
  const run = await findRun(db, tenantId, runId);
  if (!run) return { status: "MISSING" };
  if (run.status === "RUNNING") {
    // At most once: a run whose worker died mid-way is not run again; the next cycle will.
    const staleAt = run.updatedAt.getTime() + LOCK_TTL_SECONDS * 1000;
    if (staleAt < clock.now().getTime()) {
      await finish(deps, run, "FAILED", { reason: "INTERRUPTED" }, "DECISION_RUN_SKIPPED", { run_id: run.id, reason: "INTERRUPTED" });
      return { status: "FAILED" };
    }
    // Its worker may still be running it (the job's lease ran out first) or died moments ago.
    // Completing the job now would leave a dead worker's run RUNNING for ever: come back once it
    // would be stale, and either it has finished or it is ended above.
    throw new JobError("the run is still in progress under an earlier lease", {
      retryAfterSeconds: Math.ceil((staleAt - clock.now().getTime()) / 1000) + 1,
    });
  }
  if (!["RESERVED", "DEFERRED"].includes(run.status)) return { status: run.status };
  if (!(await transitionRun(db, tenantId, runId, ["RESERVED", "DEFERRED"], { status: "RUNNING" }, clock.now()))) return { status: "RACED" };

  const gate = await inTransaction(db, async (tx) => {
    const now = clock.now();
    await ensureRunState(tx, tenantId, run.accountId);
    if (!(await takeAdmissionLock(tx, tenantId, run.accountId, run.id, now, LOCK_TTL_SECONDS))) {
      return {
        result: "DEFER",
        reason: "ADMISSION_LOCKED",
        explanation: "Another decision run holds this account.",
        retryAfterSeconds: LOCKED_RETRY_SECONDS,
      } as const;
    }
    await rollDay(tx, tenantId, utcDateKey(now));
    const [settings, tenantState, accountState, openIntents] = await Promise.all([
      loadDecisionSettings(tx, tenantId),
      tenantRunState(tx, tenantId),
      accountRunState(tx, tenantId, run.accountId),
      openIntentCount(tx, tenantId, run.accountId),
    ]);
    const evidence = await newEvidenceSince(tx, tenantId, run.accountId, accountState?.lastRunAt ?? null);
    const heat = await accountHeat(tx, tenantId, run.accountId, now);
    const verdict: CostGateVerdict = evaluateCostGate({
      triggerType: run.triggerType,
      runsToday: tenantState?.runsToday ?? 0,
      tokensToday: tenantState?.tokensToday ?? 0,
      // The exact prompt is built after the gate; a fixed allowance keeps the check cheap.
      estimatedTokens: deps.synthesizer.name === "rules" ? 0 : DEFAULT_MAX_OUTPUT_TOKENS * 2,
      lastRunAt: accountState?.lastRunAt ?? null,
      openIntents,
      newEvidence: evidence.all,
      newSignificantEvidence: evidence.significant,
      heat: { score: heat.score, tier: heat.tier },
      now,
      settings: settings.costGate,
    });
    await appendLedger(
      tx,
      {
        tenantId,
        accountId: run.accountId,
        correlationId: run.correlationId,
        type: "COST_GATE_EVALUATED",
        actor: SYSTEM,
        payload: {
          run_id: run.id,
          result: verdict.result,
          reason: verdict.reason,
          explanation: verdict.explanation,
          retry_after_seconds: verdict.retryAfterSeconds,
          inputs: {
            runs_today: tenantState?.runsToday ?? 0,
            tokens_today: tenantState?.tokensToday ?? 0,
            open_intents: openIntents,
            new_evidence: evidence.all,
            new_significant_evidence: evidence.significant,
            heat_score: heat.score,
            heat_tier: heat.tier,
          },
        },
      },
      now,
    );
    await recordRunGate(tx, run.id, { costGateResult: verdict.result, reason: verdict.reason, explanation: verdict.explanation }, now);
    return verdict;
  });

  if (gate.result === "DEFER") return defer(deps, run, gate);
  if (gate.result === "SKIP") {
    await finish(deps, run, "SKIPPED", { reason: gate.reason, explanation: gate.explanation }, "DECISION_RUN_SKIPPED", {
      run_id: run.id,
      reason: gate.reason,
      explanation: gate.explanation,
    });
    return { status: "SKIPPED" };
  }
  return synthesizeRun(deps, run);
}

type RunRow = NonNullable<Awaited<ReturnType<typeof findRun>>>;

/** The account's heat as the `heat` job last computed it (none yet: COLD, 0). */
async function accountHeat(db: Parameters<typeof heatOf>[0], tenantId: string, accountId: string, now: Date) {
  return readHeat((await heatOf(db, tenantId, [accountId])).get(accountId), now);
}

/** DEFER is retried exactly once, after retry_after_seconds; a second DEFER ends the cycle. */
async function defer(deps: DecisionDeps, run: RunRow, gate: { reason: string; explanation: string; retryAfterSeconds: number | null }) {
  const { db, clock } = deps;
  if (run.deferrals >= 1) {
    await finish(deps, run, "SKIPPED", { reason: gate.reason, explanation: gate.explanation }, "DECISION_RUN_SKIPPED", {
      run_id: run.id,
      reason: gate.reason,
      after_retry: true,
    });
    return { status: "SKIPPED" };
  }
  const retryAfter = gate.retryAfterSeconds ?? LOCKED_RETRY_SECONDS;
  await inTransaction(db, async (tx) => {
    const now = clock.now();
    await transitionRun(
      tx,
      run.tenantId,
      run.id,
      ["RUNNING"],
      { status: "DEFERRED", deferrals: 1, retryAfterSeconds: retryAfter, reason: gate.reason, explanation: gate.explanation },
      now,
    );
    await releaseAdmissionLock(tx, run.tenantId, run.accountId, run.id);
    await appendLedger(
      tx,
      {
        tenantId: run.tenantId,
        accountId: run.accountId,
        correlationId: run.correlationId,
        type: "DECISION_RUN_DEFERRED",
        actor: SYSTEM,
        payload: { run_id: run.id, reason: gate.reason, explanation: gate.explanation, retry_after_seconds: retryAfter },
      },
      now,
    );
    await enqueue(
      tx,
      {
        tenantId: run.tenantId,
        kind: RUN_DECISION,
        payload: { runId: run.id },
        runAt: new Date(now.getTime() + retryAfter * 1000),
        dedupeKey: `run:${run.id}:retry`,
      },
      clock,
    );
  });
  return { status: "DEFERRED", retryAfterSeconds: retryAfter };
}

async function finish<T extends "DECISION_RUN_SKIPPED" | "DECISION_SYNTHESIZED">(
  deps: DecisionDeps,
  run: RunRow,
  status: "SKIPPED" | "FAILED" | "SYNTHESIZED",
  data: Record<string, unknown>,
  type: T,
  payload: LedgerPayloadOf<T>,
  extra?: (tx: Tx, now: Date) => Promise<void>,
) {
  await inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    await transitionRun(tx, run.tenantId, run.id, ["RUNNING", "RESERVED", "DEFERRED"], { status, finishedAt: now, ...data }, now);
    await releaseAdmissionLock(
      tx,
      run.tenantId,
      run.accountId,
      run.id,
      status === "SYNTHESIZED" || status === "FAILED" ? { lastRunAt: now } : {},
    );
    await extra?.(tx, now);
    await appendLedgerBatch(
      tx,
      run.tenantId,
      [{ accountId: run.accountId, correlationId: run.correlationId, type, actor: SYSTEM, payload }],
      now,
    );
  });
}

async function synthesizeRun(deps: DecisionDeps, run: RunRow) {
  const { db, clock } = deps;
  const now = clock.now();
  const data = await synthesisContext(db, run.tenantId, run.accountId, new Date(now.getTime() - LOOKBACK_MS));
  const heat = await accountHeat(db, run.tenantId, run.accountId, now);
  if (!data) {
    await finish(deps, run, "FAILED", { reason: "ACCOUNT_MISSING" }, "DECISION_RUN_SKIPPED", { run_id: run.id, reason: "ACCOUNT_MISSING" });
    return { status: "FAILED" };
  }
  // The model (if any) only proposes; it is called here, outside any transaction, and never
  // schedules anything itself.
  const input: SynthesisInput = {
    account: data.account,
    triggerType: run.triggerType,
    now,
    contacts: data.contacts,
    opportunities: data.opportunities,
    signals: data.signals.map((s) => ({
      id: s.id,
      type: s.type,
      severity: s.severity,
      evidence: JSON.parse(s.evidence) as Record<string, unknown>,
      at: s.occurredAt,
    })),
    activity: data.activity.map((a) => ({ actionType: a.actionType, status: a.status, at: a.createdAt })),
    heat: { score: heat.score, tier: heat.tier },
  };
  // What it knew, kept with the run before the synthesizer is asked (so even a run that dies
  // half-way can be explained): the explanation shows exactly this, not a later re-read.
  await transitionRun(db, run.tenantId, run.id, ["RUNNING"], { inputSnapshot: JSON.stringify(input) }, now);
  const out = await deps.synthesizer.synthesize(input, {});
  // Providers bill the prompt even when a call times out or errors without reporting usage:
  // meter the estimate then, so repeated hangs still spend (and are capped by) the token budget.
  const unmetered = !out.ok && (out.error === "MODEL_TIMEOUT" || out.error === "MODEL_ERROR") && deps.synthesizer.name !== "rules";
  const tokens = out.tokens.total || (unmetered ? estimateTokens(input) : 0);
  if (!out.ok) {
    await finish(
      deps,
      run,
      "FAILED",
      { reason: out.error, explanation: out.message, tokens, synthesizer: deps.synthesizer.name },
      "DECISION_SYNTHESIZED",
      {
        run_id: run.id,
        ok: false,
        error: out.error,
        message: out.message,
        synthesizer: deps.synthesizer.name,
        model: out.model,
        tokens: out.tokens,
        proposals: [],
      },
      (tx) => meterRun(tx, run.tenantId, tokens).then(() => undefined),
    );
    return { status: "FAILED" };
  }
  const source: Viewer = { tenantId: run.tenantId, actor: { type: "SYSTEM", id: `decision-run:${run.id}` }, role: null, userId: null };
  const results = [];
  // Whatever synthesizer proposed them, no proposal reaches the gate with a recipient who is not
  // one of the account's contacts (the rules never make one; a model might).
  const proposals = out.proposals.map((p) => enforceContactRecipients(p, input.contacts, input.account.name));
  for (const [i, p] of proposals.entries()) {
    // Keyed by run and position: a retried job re-submits the same keys and gets the same intents.
    const v = await submitIntent({ db, clock, connectors: deps.connectors }, source, {
      accountId: run.accountId,
      actionType: p.actionType,
      confidence: p.confidence,
      riskLevel: p.riskLevel,
      why: p.why,
      parameters: p.parameters,
      target: { account_id: run.accountId },
      blockingUnknowns: p.blockingUnknowns,
      rankScore: p.rankScore,
      idempotencyKey: `run:${run.id}:${i}:${p.actionType}`,
      correlationId: run.correlationId,
      source: "DECISION",
      signalTypes: input.signals.map((s) => s.type),
      trigger: run.triggerType,
    });
    results.push({
      action_intent_id: v.actionIntentId,
      action_type: p.actionType,
      rank_score: p.rankScore,
      status: v.status,
      reason: v.reason,
    });
  }
  await finish(
    deps,
    run,
    "SYNTHESIZED",
    { proposals: results.length, tokens, synthesizer: deps.synthesizer.name },
    "DECISION_SYNTHESIZED",
    {
      run_id: run.id,
      ok: true,
      synthesizer: deps.synthesizer.name,
      model: out.model,
      tokens: out.tokens,
      signal_ids: JSON.parse(run.signalIds) as string[],
      proposals: results,
    },
    (tx) => meterRun(tx, run.tenantId, tokens).then(() => undefined),
  );
  return { status: "SYNTHESIZED", proposals: results.length };
}
