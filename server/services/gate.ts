import { randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import { renderInternalArtifact } from "../connectors/internal";
import type { Db, Tx } from "../db";
import { actionSpec } from "../engine/actions";
import { activeKillSwitch, isAllowlisted, resolveMode } from "../engine/autonomy";
import { type BudgetSettings, effectiveDailyCap, NO_BUDGET, previousDays, typeCap, utcDateKey } from "../engine/budget";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import { budgetExhausted, evaluatePolicy, gateError, type PolicyInput, type PolicyResult, policyVersion } from "../engine/policy";
import { AppError, notFound } from "../errors";
import { loadArtifactContext } from "../repos/artifacts";
import { DEFAULT_TENANT_POLICY, enabledKillSwitches, loadGateConfig, refund, tryConsume, usageFor } from "../repos/autonomy";
import { insertArtifact, insertExecution, insertOutcome, insertToolCall } from "../repos/executions";
import { findIntent, findIntentByKey, insertIntent, insertPolicyEvaluation, transitionIntent } from "../repos/intents";
import { appendLedgerBatch } from "../repos/ledger";
import { accountWhere, type Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import type { ConnectorDeps } from "./executor";

/**
 * The auto-execute gate (SPEC §4.2), in order: kill switches → allowlist → mode → policy (one
 * pure evaluation covers these) → per-intent reservation → budget → execute. Anything that goes
 * wrong while deciding leaves the intent waiting for a human (GATE_ERROR), never executing.
 */
export interface GateDeps {
  db: Db;
  clock: Clock;
  connectors: ConnectorDeps;
}

export interface IntentInput {
  accountId: string;
  actionType: string;
  confidence: number;
  riskLevel: string;
  why: string[];
  parameters: Record<string, unknown>;
  target: Record<string, unknown>;
  blockingUnknowns: string[];
  rankScore?: number;
  idempotencyKey?: string;
  correlationId?: string;
  source: "API" | "DECISION";
}

export interface GateView {
  actionIntentId: string;
  status: string;
  decision: string | null;
  reason: string | null;
  explanation: string | null;
  policyVersion: string | null;
  policyClause: string | null;
  executionId: string | null;
}

export async function intentView(db: Db, tenantId: string, intentId: string): Promise<GateView> {
  const intent = await findIntent(db, tenantId, intentId);
  if (!intent) throw notFound("Intent");
  const execution = await db.execution.findFirst({ where: { tenantId, intentId, replayOf: null } });
  return {
    actionIntentId: intent.id,
    status: intent.status,
    decision: intent.decision,
    reason: intent.reason,
    explanation: intent.explanation,
    policyVersion: intent.policyVersion,
    policyClause: intent.policyClause,
    executionId: execution?.id ?? null,
  };
}

function isUniqueViolation(err: unknown) {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "P2002";
}

/** Enter an intent (from the decision layer or `POST /api/v1/intents`) and run it through the gate. */
export async function submitIntent(deps: GateDeps, viewer: Viewer, input: IntentInput): Promise<GateView & { duplicate: boolean }> {
  const { db } = deps;
  if (input.idempotencyKey) {
    const existing = await findIntentByKey(db, viewer.tenantId, input.idempotencyKey);
    if (existing) return { ...(await intentView(db, viewer.tenantId, existing.id)), duplicate: true };
  }
  try {
    // One transaction from intake to outcome for the autonomous path: the decision, the budget
    // unit, the execution and the ledger commit together or not at all.
    return { ...(await inTransaction(db, (tx) => admit(tx, deps, viewer, input))), duplicate: false };
  } catch (err) {
    // Two callers raced on one idempotency key: the unique index let exactly one create it, and
    // the loser's whole transaction (including any budget it took) rolled back.
    if (input.idempotencyKey && isUniqueViolation(err)) {
      const existing = await findIntentByKey(db, viewer.tenantId, input.idempotencyKey);
      if (existing) return { ...(await intentView(db, viewer.tenantId, existing.id)), duplicate: true };
    }
    if (err instanceof AppError) throw err;
    return admitFailClosed(deps, viewer, input, err);
  }
}

async function admit(tx: Tx, deps: GateDeps, viewer: Viewer, input: IntentInput): Promise<GateView> {
  const now = deps.clock.now();
  const account = await tx.account.findFirst({
    where: accountWhere(viewer, { id: input.accountId }),
    select: {
      id: true,
      name: true,
      lifecycle: true,
      posture: true,
      momentum: true,
      heatTier: true,
      tenant: { select: { configVersion: true } },
    },
  });
  if (!account) throw new AppError("NOT_FOUND", "Account not found", "account_id");
  const correlationId = input.correlationId ?? randomUUID();
  const {
    input: policyInput,
    result: evaluated,
    modeSource,
    budgetRow,
  } = await evaluate(tx, viewer.tenantId, { ...input, lifecycle: account.lifecycle }, account.tenant.configVersion);
  const { result, budget } = await settleBudget(tx, viewer.tenantId, input.accountId, input.actionType, evaluated, budgetRow, now);

  const spec = actionSpec(input.actionType);
  // Autonomy only ever reaches internal actions (external and CRM types can never pass policy),
  // and those run locally, so the execution can complete inside this transaction.
  const artifact =
    result.decision === "AUTO_EXECUTE" && spec?.connector === "internal"
      ? renderInternalArtifact(
          input.actionType,
          input.parameters,
          await loadArtifactContext(
            tx,
            viewer.tenantId,
            input.accountId,
            input.actionType,
            { accountName: account.name, why: input.why },
            now,
          ),
        )
      : null;
  const runsNow = result.decision === "AUTO_EXECUTE" && artifact !== null;
  const status = runsNow ? "SUCCEEDED" : STATUS_FOR[result.decision];

  const intent = await insertIntent(
    tx,
    {
      ...intentRow(viewer, input, correlationId),
      idempotencyKey: input.idempotencyKey ?? null,
      status,
      ...decisionFields(result, now),
    },
    now,
  );
  await insertPolicyEvaluation(tx, evaluationRow(viewer.tenantId, intent.id, policyInput, result, modeSource, account, budget), now);
  const base = { accountId: intent.accountId, correlationId };
  const entries: LedgerDraft[] = [
    {
      ...base,
      type: "INTENT_PROPOSED",
      actor: viewer.actor,
      payload: {
        action_intent_id: intent.id,
        action_type: input.actionType,
        confidence: input.confidence,
        risk_level: input.riskLevel,
        why: input.why,
        parameters: input.parameters,
        target: input.target,
        blocking_unknowns: input.blockingUnknowns,
        source: input.source,
        idempotency_key: input.idempotencyKey ?? null,
      },
    },
    ...decisionEntries(base, intent.id, input.actionType, policyInput, result, modeSource, budget),
  ];
  let executionId: string | null = null;
  if (runsNow && artifact) {
    const autopilot: Actor = { type: "SYSTEM", id: "autopilot" };
    const execution = await insertExecution(
      tx,
      {
        tenantId: viewer.tenantId,
        intentId: intent.id,
        approvalSource: "POLICY",
        autoExecuted: true,
        status: "SUCCEEDED",
        finishedAt: now,
      },
      now,
    );
    executionId = execution.id;
    const toolCall = await insertToolCall(
      tx,
      {
        tenantId: viewer.tenantId,
        executionId: execution.id,
        connector: "internal",
        operation: input.actionType,
        idempotencyKey: `${execution.id}:internal`,
        request: canonicalJson({ parameters: input.parameters, target: input.target }),
        status: "SUCCEEDED",
        response: canonicalJson({ kind: artifact.kind, title: artifact.title }),
        finishedAt: now,
      },
      now,
    );
    await insertArtifact(tx, { tenantId: viewer.tenantId, accountId: input.accountId, executionId: execution.id, ...artifact }, now);
    await insertOutcome(
      tx,
      {
        tenantId: viewer.tenantId,
        intentId: intent.id,
        executionId: execution.id,
        label: "EXECUTION_SUCCEEDED",
        details: canonicalJson({ kind: artifact.kind, title: artifact.title }),
      },
      now,
    );
    entries.push(
      {
        ...base,
        type: "EXECUTION_STARTED",
        actor: autopilot,
        payload: {
          execution_id: execution.id,
          action_intent_id: intent.id,
          action_type: input.actionType,
          approval_source: "POLICY",
          auto_executed: true,
        },
      },
      {
        ...base,
        type: "EXECUTION_SUCCEEDED",
        actor: autopilot,
        payload: {
          execution_id: execution.id,
          action_intent_id: intent.id,
          connector: "internal",
          tool_call_id: toolCall.id,
          auto_executed: true,
          response: { kind: artifact.kind, title: artifact.title },
        },
      },
      {
        ...base,
        type: "OUTCOME_RECORDED",
        actor: autopilot,
        payload: { action_intent_id: intent.id, execution_id: execution.id, label: "EXECUTION_SUCCEEDED" },
      },
    );
  }
  await appendLedgerBatch(tx, viewer.tenantId, entries, now);
  return {
    actionIntentId: intent.id,
    status,
    decision: result.decision,
    reason: result.reason,
    explanation: result.explanation,
    policyVersion: result.policyVersion,
    policyClause: result.policyClause,
    executionId,
  };
}

/** The intake transaction failed for a reason that is not the caller's: record it, ask a human. */
async function admitFailClosed(
  deps: GateDeps,
  viewer: Viewer,
  input: IntentInput,
  err: unknown,
): Promise<GateView & { duplicate: boolean }> {
  const kind = err instanceof Error ? err.name : "Error";
  console.error(`gate: intake of a ${input.actionType} intent failed (${kind}); left for a human`);
  const result = gateError(policyVersion({ minConfidence: 0, prospectMinConfidence: 0, version: 0 }));
  const view = await inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const correlationId = input.correlationId ?? randomUUID();
    const intent = await insertIntent(
      tx,
      {
        ...intentRow(viewer, input, correlationId),
        // The key stays free: the failed intake left nothing behind that a retry would collide with.
        idempotencyKey: null,
        status: "PENDING_APPROVAL",
        ...decisionFields(result, now),
      },
      now,
    );
    const base = { accountId: input.accountId, correlationId };
    await appendLedgerBatch(
      tx,
      viewer.tenantId,
      [
        {
          ...base,
          type: "INTENT_PROPOSED",
          actor: viewer.actor,
          payload: { action_intent_id: intent.id, action_type: input.actionType, source: input.source },
        },
        {
          ...base,
          type: "POLICY_EVALUATED",
          actor: GATE,
          payload: {
            action_intent_id: intent.id,
            decision: result.decision,
            reason: result.reason,
            explanation: result.explanation,
            error_kind: kind,
          },
        },
        { ...base, type: "APPROVAL_REQUESTED", actor: GATE, payload: { action_intent_id: intent.id, reason: result.reason } },
      ],
      now,
    );
    return intent.id;
  });
  return { ...(await intentView(deps.db, viewer.tenantId, view)), duplicate: false };
}

const GATE: Actor = { type: "SYSTEM", id: "gate" };

/** The decided state written onto an intent, whichever path decided it. */
function decisionFields(result: PolicyResult, now: Date) {
  return {
    decision: result.decision,
    reason: result.reason,
    explanation: result.explanation,
    policyVersion: result.policyVersion,
    policyClause: result.policyClause,
    decidedAt: now,
  };
}

/** The stored form of an intake: JSON fields as canonical text, the proposer as creator. */
function intentRow(viewer: Viewer, input: IntentInput, correlationId: string) {
  return {
    tenantId: viewer.tenantId,
    accountId: input.accountId,
    correlationId,
    actionType: input.actionType,
    target: canonicalJson(input.target),
    parameters: canonicalJson(input.parameters),
    why: canonicalJson(input.why),
    confidence: input.confidence,
    riskLevel: input.riskLevel,
    blockingUnknowns: canonicalJson(input.blockingUnknowns),
    rankScore: input.rankScore ?? input.confidence,
    source: input.source,
    createdBy: viewer.actor.id,
  };
}

type LedgerDraft = Parameters<typeof appendLedgerBatch>[2][number];

/** Read the configuration and run the pure policy. Reads only; nothing is written here. */
async function evaluate(
  tx: Tx,
  tenantId: string,
  intent: { accountId: string; actionType: string; confidence: number; riskLevel: string; blockingUnknowns: string[]; lifecycle: string },
  configVersion: number,
) {
  const cfg = await loadGateConfig(tx, tenantId, intent.accountId, configVersion);
  const tenantPolicy = cfg.policy ?? DEFAULT_TENANT_POLICY;
  const spec = actionSpec(intent.actionType);
  const mode = resolveMode(cfg.modes, intent.accountId, intent.actionType);
  const kill = activeKillSwitch(cfg.killSwitches, intent.actionType, spec?.connector);
  const input: PolicyInput = {
    actionType: intent.actionType,
    confidence: intent.confidence,
    riskLevel: intent.riskLevel,
    lifecycle: intent.lifecycle,
    mode: mode.mode,
    allowlisted: isAllowlisted(cfg.allowlist, intent.accountId, intent.actionType),
    blockingUnknowns: intent.blockingUnknowns,
    killSwitch: kill ? { scope: kill.scope, key: kill.key, reason: kill.reason } : null,
    thresholds: {
      minConfidence: tenantPolicy.minConfidence,
      prospectMinConfidence: tenantPolicy.prospectMinConfidence,
      version: tenantPolicy.version,
    },
  };
  return { input, result: evaluatePolicy(input), modeSource: mode.source, budgetRow: cfg.budget };
}

/** Policy said AUTO_EXECUTE: take today's budget unit, or turn the answer into BUDGET_EXHAUSTED. */
async function settleBudget(
  tx: Tx,
  tenantId: string,
  accountId: string,
  actionType: string,
  result: PolicyResult,
  budgetRow: { maxPerDay: number; perTypeCaps: string; decayIfUnused: boolean } | null,
  now: Date,
) {
  if (result.decision !== "AUTO_EXECUTE") return { result, budget: null };
  const budget = await consumeBudget(tx, tenantId, accountId, actionType, budgetSettings(budgetRow), now);
  return { result: budget.ok ? result : budgetExhausted(result, { cap: budget.cap, scope: budget.scope }), budget };
}

type BudgetOutcome = Awaited<ReturnType<typeof consumeBudget>>;

function evaluationRow(
  tenantId: string,
  intentId: string,
  input: PolicyInput,
  result: PolicyResult,
  modeSource: string,
  account: Record<string, unknown>,
  budget: BudgetOutcome | null,
) {
  return {
    tenantId,
    intentId,
    decision: result.decision,
    reason: result.reason,
    explanation: result.explanation,
    policyVersion: result.policyVersion,
    clauses: canonicalJson(result.clauses),
    input: canonicalJson({ ...input, modeSource, account, budget }),
  };
}

function decisionEntries(
  base: { accountId: string; correlationId: string },
  intentId: string,
  actionType: string,
  input: PolicyInput,
  result: PolicyResult,
  modeSource: string,
  budget: BudgetOutcome | null,
): LedgerDraft[] {
  const out: LedgerDraft[] = [
    {
      ...base,
      type: "POLICY_EVALUATED",
      actor: GATE,
      payload: {
        action_intent_id: intentId,
        action_type: actionType,
        decision: result.decision,
        reason: result.reason,
        explanation: result.explanation,
        policy_version: result.policyVersion,
        policy_clause: result.policyClause,
        clauses: result.clauses,
        mode: input.mode,
        mode_source: modeSource,
        allowlisted: input.allowlisted,
        kill_switch: input.killSwitch,
      },
    },
  ];
  if (budget?.ok) {
    out.push({
      ...base,
      type: "BUDGET_CONSUMED",
      actor: GATE,
      payload: {
        action_intent_id: intentId,
        date_key: budget.dateKey,
        cap: budget.cap,
        consumed: budget.consumed,
        remaining: budget.cap - budget.consumed,
      },
    });
  }
  if (result.decision === "REQUIRE_APPROVAL") {
    out.push({
      ...base,
      type: "APPROVAL_REQUESTED",
      actor: GATE,
      payload: { action_intent_id: intentId, reason: result.reason, explanation: result.explanation },
    });
  }
  return out;
}

function budgetSettings(row: { maxPerDay: number; perTypeCaps: string; decayIfUnused: boolean } | null): BudgetSettings {
  if (!row) return NO_BUDGET;
  let caps: Record<string, number> = {};
  try {
    caps = JSON.parse(row.perTypeCaps) as Record<string, number>;
  } catch {
    // An unreadable cap map must not widen anything: caps only ever restrict.
    caps = {};
  }
  return { maxPerDay: row.maxPerDay, perTypeCaps: caps, decayIfUnused: row.decayIfUnused };
}

/** Consume today's budget for an AUTO_EXECUTE decision; returns the exhausted scope if any. */
async function consumeBudget(tx: Tx, tenantId: string, accountId: string, actionType: string, settings: BudgetSettings, now: Date) {
  const dateKey = utcDateKey(now);
  let cap = settings.maxPerDay;
  if (settings.decayIfUnused) {
    const used = await usageFor(tx, tenantId, accountId, previousDays(now, 7));
    cap = effectiveDailyCap(
      settings,
      used.filter((u) => u.actionType === "").reduce((s, u) => s + u.consumed, 0),
    );
  }
  const perType = typeCap(settings, actionType);
  if (perType !== null && (await tryConsume(tx, tenantId, accountId, dateKey, actionType, perType)) === null) {
    return { ok: false as const, scope: "ACTION_TYPE" as const, cap: perType, dateKey };
  }
  const consumed = await tryConsume(tx, tenantId, accountId, dateKey, "", cap);
  if (consumed === null) {
    if (perType !== null) await refund(tx, tenantId, accountId, dateKey, actionType);
    return { ok: false as const, scope: "ACCOUNT" as const, cap, dateKey };
  }
  return { ok: true as const, cap, consumed, dateKey, perType };
}

const STATUS_FOR = { AUTO_EXECUTE: "AUTO_APPROVED", REQUIRE_APPROVAL: "PENDING_APPROVAL", BLOCK: "BLOCKED" } as const;

/**
 * Decide an intent that was stored as PROPOSED (e.g. by a decision run that queued it). The
 * status transition out of PROPOSED is the reservation: it and the budget consumption commit
 * together, so concurrent or retried calls for one intent decide (and consume) exactly once.
 * An AUTO_APPROVED result is then carried out by runExecution.
 */
export async function decide(deps: GateDeps, tenantId: string, intentId: string, actor: Actor): Promise<PolicyResult | null> {
  const { db, clock } = deps;
  try {
    return await inTransaction(db, async (tx) => {
      const now = clock.now();
      const intent = await findIntent(tx, tenantId, intentId);
      if (intent?.status !== "PROPOSED") return null;
      const found = await tx.account.findFirst({
        where: { tenantId, id: intent.accountId },
        select: { lifecycle: true, posture: true, momentum: true, heatTier: true, tenant: { select: { configVersion: true } } },
      });
      if (!found) throw new Error("intent account vanished");
      const { tenant, ...account } = found;
      const ev = await evaluate(
        tx,
        tenantId,
        { ...intent, blockingUnknowns: JSON.parse(intent.blockingUnknowns) as string[], lifecycle: account.lifecycle },
        tenant.configVersion,
      );
      const won = await transitionIntent(tx, tenantId, intentId, "PROPOSED", { status: STATUS_FOR[ev.result.decision] }, now);
      if (!won) return null;
      const { result, budget } = await settleBudget(tx, tenantId, intent.accountId, intent.actionType, ev.result, ev.budgetRow, now);
      await tx.actionIntent.update({
        where: { id: intentId },
        data: {
          status: STATUS_FOR[result.decision],
          ...decisionFields(result, now),
          updatedAt: now,
        },
      });
      await insertPolicyEvaluation(tx, evaluationRow(tenantId, intentId, ev.input, result, ev.modeSource, account, budget), now);
      const entries = decisionEntries(
        { accountId: intent.accountId, correlationId: intent.correlationId },
        intentId,
        intent.actionType,
        ev.input,
        result,
        ev.modeSource,
        budget,
      );
      await appendLedgerBatch(
        tx,
        tenantId,
        entries.map((e) => ({ ...e, actor })),
        now,
      );
      return result;
    });
  } catch (err) {
    return failClosed(deps, tenantId, intentId, actor, err);
  }
}

async function failClosed(deps: GateDeps, tenantId: string, intentId: string, actor: Actor, err: unknown): Promise<PolicyResult | null> {
  const { db, clock } = deps;
  // Only the error class goes to the log and ledger: messages can carry inputs or secrets.
  const kind = err instanceof Error ? err.name : "Error";
  console.error(`gate: evaluation of intent ${intentId} failed (${kind}); left for a human`);
  const result = gateError(policyVersion({ minConfidence: 0, prospectMinConfidence: 0, version: 0 }));
  return inTransaction(db, async (tx) => {
    const now = clock.now();
    const intent = await findIntent(tx, tenantId, intentId);
    if (!intent) return null;
    const won = await transitionIntent(
      tx,
      tenantId,
      intentId,
      "PROPOSED",
      {
        status: "PENDING_APPROVAL",
        ...decisionFields(result, now),
      },
      now,
    );
    if (!won) return null;
    const base = { accountId: intent.accountId, correlationId: intent.correlationId, actor };
    await appendLedgerBatch(
      tx,
      tenantId,
      [
        {
          ...base,
          type: "POLICY_EVALUATED",
          payload: {
            action_intent_id: intentId,
            decision: result.decision,
            reason: result.reason,
            explanation: result.explanation,
            error_kind: kind,
          },
        },
        { ...base, type: "APPROVAL_REQUESTED", payload: { action_intent_id: intentId, reason: result.reason } },
      ],
      now,
    );
    return result;
  });
}

/** Kill switches re-read at the moment an autonomous execution would start. */
export async function killSwitchAt(tx: Tx, tenantId: string, actionType: string) {
  return activeKillSwitch(await enabledKillSwitches(tx, tenantId), actionType, actionSpec(actionType)?.connector);
}
