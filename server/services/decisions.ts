import { randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import { utcDateKey } from "../engine/budget";
import { type CostGateVerdict, evaluateCostGate } from "../engine/costGate";
import type { Actor } from "../engine/ledger";
import { decideFire, hourKey, runIdempotencyKey, type TriggerType } from "../engine/triggers";
import {
  accountRunState,
  countFire,
  countSignalsSince,
  dueWindows,
  ensureRunState,
  findRun,
  findRunByKey,
  insertRun,
  meterRun,
  openIntentCount,
  recentSignals,
  releaseAdmissionLock,
  rollDay,
  takeAdmissionLock,
  takeWindow,
  tenantRunState,
  transitionRun,
} from "../repos/decisions";
import { appendLedger, appendLedgerBatch } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { loadDecisionSettings } from "./decisionSettings";
import type { ConnectorDeps } from "./executor";
import { submitIntent } from "./gate";
import { requireTenantAccount } from "./guards";
import { enqueue } from "./jobQueue";
import { DEFAULT_MAX_OUTPUT_TOKENS, estimateTokens, type Synthesizer } from "./llmSynthesizer";

/**
 * Always-on decisions (SPEC §4.3): trigger windows fire into RUN_DECISION jobs; a run reserves its
 * idempotency key (at most once), takes the account's admission lock, asks the cost gate, and
 * only on ALLOW synthesizes proposals, which enter the autonomy gate like any other intent.
 */
export interface DecisionDeps {
  db: Db;
  clock: Clock;
  synthesizer: Synthesizer;
  connectors: ConnectorDeps;
}

export const RUN_DECISION = "RUN_DECISION";
const SYSTEM: Actor = { type: "SYSTEM", id: "decisions" };
/** An admission lock outlives a crashed run by at most this long. */
const LOCK_TTL_SECONDS = 120;
/** Contention for the admission lock is worth one quick retry. */
const LOCKED_RETRY_SECONDS = 30;

function isUniqueViolation(err: unknown) {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "P2002";
}

export type RunRequestResult = { runId: string; result: "QUEUED" | "SKIP"; reason?: "DUPLICATE_IDEMPOTENCY_KEY" };

/**
 * Reserve a run and queue its job in one transaction. A second request with the same key is
 * SKIP / DUPLICATE_IDEMPOTENCY_KEY — even if the first run failed: at most once per key.
 */
export async function requestRun(
  db: Db,
  viewer: Viewer,
  input: { accountId: string; triggerType: TriggerType; idempotencyKey: string; correlationId?: string },
  clock: Clock,
): Promise<RunRequestResult> {
  await requireTenantAccount(db, viewer.tenantId, input.accountId);
  const existing = await findRunByKey(db, viewer.tenantId, input.idempotencyKey);
  if (existing) return skipDuplicate(db, viewer, existing, clock);
  try {
    return await inTransaction(db, async (tx) => {
      const now = clock.now();
      const run = await insertRun(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          triggerType: input.triggerType,
          idempotencyKey: input.idempotencyKey,
          correlationId: input.correlationId ?? randomUUID(),
        },
        now,
      );
      await appendLedger(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          correlationId: run.correlationId,
          type: "TRIGGER_FIRED",
          actor: viewer.actor,
          payload: {
            trigger_type: input.triggerType,
            run_id: run.id,
            idempotency_key: input.idempotencyKey,
            source: viewer.actor.type === "API_KEY" ? "api" : "system",
          },
        },
        now,
      );
      await enqueue(tx, { tenantId: viewer.tenantId, kind: RUN_DECISION, payload: { runId: run.id }, dedupeKey: `run:${run.id}` }, clock);
      return { runId: run.id, result: "QUEUED" as const };
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const winner = await findRunByKey(db, viewer.tenantId, input.idempotencyKey);
    if (!winner) throw err;
    return skipDuplicate(db, viewer, winner, clock);
  }
}

async function skipDuplicate(
  db: Db,
  viewer: Viewer,
  run: { id: string; accountId: string; correlationId: string; idempotencyKey: string },
  clock: Clock,
): Promise<RunRequestResult> {
  await inTransaction(db, (tx) =>
    appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        accountId: run.accountId,
        correlationId: run.correlationId,
        type: "DECISION_RUN_SKIPPED",
        actor: viewer.actor,
        payload: { run_id: run.id, reason: "DUPLICATE_IDEMPOTENCY_KEY", idempotency_key: run.idempotencyKey },
      },
      clock.now(),
    ),
  );
  return { runId: run.id, result: "SKIP", reason: "DUPLICATE_IDEMPOTENCY_KEY" };
}

/**
 * Fire every due trigger window once: cooldown and hourly caps (counted with conditional
 * updates, so a storm cannot exceed them) decide between TRIGGER_FIRED and TRIGGER_SUPPRESSED.
 */
export async function fireDueTriggers(db: Db, clock: Clock) {
  const now = clock.now();
  const summary = { fired: 0, suppressed: 0 };
  for (const w of await dueWindows(db, now)) {
    const settings = (await loadDecisionSettings(db, w.tenantId)).triggers;
    const outcome = await inTransaction(db, async (tx) => {
      if (!(await takeWindow(tx, w.id, now))) return null; // another ticker fired it, or it was extended
      await ensureRunState(tx, w.tenantId, w.accountId);
      const state = await accountRunState(tx, w.tenantId, w.accountId);
      const type = w.triggerType as TriggerType;
      const window = { openedAt: w.openedAt, lastEventAt: w.lastEventAt, events: w.events };
      const base = { tenantId: w.tenantId, accountId: w.accountId, correlationId: randomUUID(), actor: SYSTEM };
      const verdict = decideFire(
        window,
        type,
        now,
        { accountLastRunAt: state?.lastFiredAt ?? null, accountRunsThisHour: 0, tenantRunsThisHour: 0 },
        settings,
      );
      let suppressed: { reason: string; explanation: string } | null = verdict.kind === "SUPPRESS" ? verdict : null;
      if (!suppressed) {
        const capped = await countFire(
          tx,
          w.tenantId,
          w.accountId,
          hourKey(now),
          { account: settings.perAccountHourlyCap, tenant: settings.perTenantHourlyCap },
          now,
        );
        if (capped) {
          const cap = capped === "ACCOUNT" ? settings.perAccountHourlyCap : settings.perTenantHourlyCap;
          suppressed = {
            reason: "HOURLY_CAP",
            explanation: `${capped === "ACCOUNT" ? "This account" : "Your workspace"} already had ${cap} decision runs this hour.`,
          };
        }
      }
      if (suppressed) {
        await appendLedger(
          tx,
          {
            ...base,
            type: "TRIGGER_SUPPRESSED",
            payload: { trigger_type: type, reason: suppressed.reason, explanation: suppressed.explanation, coalesced_events: w.events },
          },
          now,
        );
        return "suppressed" as const;
      }
      const key = runIdempotencyKey(w.tenantId, w.accountId, type, w.openedAt);
      if (await findRunByKey(tx, w.tenantId, key)) return "suppressed" as const;
      const run = await insertRun(
        tx,
        { tenantId: w.tenantId, accountId: w.accountId, triggerType: type, idempotencyKey: key, correlationId: base.correlationId },
        now,
      );
      await appendLedger(
        tx,
        {
          ...base,
          type: "TRIGGER_FIRED",
          payload: { trigger_type: type, run_id: run.id, idempotency_key: key, coalesced_events: w.events },
        },
        now,
      );
      await enqueue(tx, { tenantId: w.tenantId, kind: RUN_DECISION, payload: { runId: run.id }, dedupeKey: `run:${run.id}` }, clock);
      return "fired" as const;
    });
    if (outcome) summary[outcome] += 1;
  }
  return summary;
}

/** The RUN_DECISION job handler. Idempotent: a run that is finished or running is left alone. */
export async function executeRun(deps: DecisionDeps, tenantId: string, runId: string) {
  const { db, clock } = deps;
  const run = await findRun(db, tenantId, runId);
  if (!run) return { status: "MISSING" };
  if (run.status === "RUNNING") {
    // At most once: a run whose worker died mid-way is not run again; the next cycle will.
    if (run.updatedAt.getTime() < clock.now().getTime() - LOCK_TTL_SECONDS * 1000) {
      await finish(deps, run, "FAILED", { reason: "INTERRUPTED" }, "DECISION_RUN_SKIPPED", { run_id: run.id, reason: "INTERRUPTED" });
      return { status: "FAILED" };
    }
    return { status: "RUNNING" };
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
    const [settings, tenantState, accountState, account, openIntents] = await Promise.all([
      loadDecisionSettings(tx, tenantId),
      tenantRunState(tx, tenantId),
      accountRunState(tx, tenantId, run.accountId),
      tx.account.findFirst({ where: { tenantId, id: run.accountId }, select: { heatTier: true } }),
      openIntentCount(tx, tenantId, run.accountId),
    ]);
    const newEvidence = await countSignalsSince(tx, tenantId, run.accountId, accountState?.lastRunAt ?? null);
    const verdict: CostGateVerdict = evaluateCostGate({
      triggerType: run.triggerType,
      runsToday: tenantState?.runsToday ?? 0,
      tokensToday: tenantState?.tokensToday ?? 0,
      // The exact prompt is built after the gate; a fixed allowance keeps the check cheap.
      estimatedTokens: deps.synthesizer.name === "rules" ? 0 : DEFAULT_MAX_OUTPUT_TOKENS * 2,
      lastRunAt: accountState?.lastRunAt ?? null,
      openIntents,
      newEvidence,
      heatTier: account?.heatTier ?? "COLD",
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
            new_evidence: newEvidence,
            heat_tier: account?.heatTier ?? "COLD",
          },
        },
      },
      now,
    );
    await tx.decisionRun.updateMany({
      where: { id: run.id },
      data: { costGateResult: verdict.result, reason: verdict.reason, explanation: verdict.explanation, updatedAt: now },
    });
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

async function finish(
  deps: DecisionDeps,
  run: RunRow,
  status: "SKIPPED" | "FAILED" | "SYNTHESIZED",
  data: Record<string, unknown>,
  type: "DECISION_RUN_SKIPPED" | "DECISION_SYNTHESIZED",
  payload: Record<string, unknown>,
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
  const account = await db.account.findFirst({
    where: { tenantId: run.tenantId, id: run.accountId },
    select: { name: true, domain: true, lifecycle: true, posture: true, momentum: true },
  });
  if (!account) {
    await finish(deps, run, "FAILED", { reason: "ACCOUNT_MISSING" }, "DECISION_RUN_SKIPPED", { run_id: run.id, reason: "ACCOUNT_MISSING" });
    return { status: "FAILED" };
  }
  const signals = await recentSignals(db, run.tenantId, run.accountId, new Date(now.getTime() - 7 * 86_400_000));
  // The model (if any) only proposes; it is called here, outside any transaction, and never
  // schedules anything itself.
  const input = {
    account,
    triggerType: run.triggerType,
    signals: signals.map((s) => ({
      type: s.type,
      severity: s.severity,
      evidence: JSON.parse(s.evidence) as Record<string, unknown>,
      at: s.occurredAt,
    })),
  };
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
  for (const [i, p] of out.proposals.entries()) {
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
    { run_id: run.id, ok: true, synthesizer: deps.synthesizer.name, model: out.model, tokens: out.tokens, proposals: results },
    (tx) => meterRun(tx, run.tenantId, tokens).then(() => undefined),
  );
  return { status: "SYNTHESIZED", proposals: results.length };
}
