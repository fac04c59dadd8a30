import { randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import { actionSpec } from "../engine/actions";
import { activeKillSwitch, isAllowlisted, resolveMode } from "../engine/autonomy";
import { type BudgetSettings, effectiveDailyCap, NO_BUDGET, previousDays, typeCap, utcDateKey } from "../engine/budget";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import { budgetExhausted, evaluatePolicy, gateError, type PolicyInput, type PolicyResult, policyVersion } from "../engine/policy";
import { AppError, notFound } from "../errors";
import { enabledKillSwitches, getOrCreateTenantPolicy, loadGateConfig, refund, tryConsume, usageFor } from "../repos/autonomy";
import { findIntent, findIntentByKey, insertIntent, insertPolicyEvaluation, transitionIntent } from "../repos/intents";
import { appendLedger } from "../repos/ledger";
import { accountWhere, type Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { type ConnectorDeps, runExecution } from "./executor";

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
  const { db, clock } = deps;
  const account = await db.account.findFirst({ where: accountWhere(viewer, { id: input.accountId }), select: { id: true } });
  if (!account) throw new AppError("NOT_FOUND", "Account not found", "account_id");

  if (input.idempotencyKey) {
    const existing = await findIntentByKey(db, viewer.tenantId, input.idempotencyKey);
    if (existing) return { ...(await intentView(db, viewer.tenantId, existing.id)), duplicate: true };
  }

  let intentId: string;
  try {
    intentId = await inTransaction(db, async (tx) => {
      const now = clock.now();
      const intent = await insertIntent(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          correlationId: input.correlationId ?? randomUUID(),
          actionType: input.actionType,
          target: canonicalJson(input.target),
          parameters: canonicalJson(input.parameters),
          why: canonicalJson(input.why),
          confidence: input.confidence,
          riskLevel: input.riskLevel,
          blockingUnknowns: canonicalJson(input.blockingUnknowns),
          rankScore: input.rankScore ?? input.confidence,
          source: input.source,
          idempotencyKey: input.idempotencyKey ?? null,
          createdBy: viewer.actor.id,
        },
        now,
      );
      await appendLedger(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: intent.accountId,
          correlationId: intent.correlationId,
          type: "INTENT_PROPOSED",
          actor: viewer.actor,
          payload: {
            action_intent_id: intent.id,
            action_type: intent.actionType,
            confidence: intent.confidence,
            risk_level: intent.riskLevel,
            why: input.why,
            parameters: input.parameters,
            target: input.target,
            blocking_unknowns: input.blockingUnknowns,
            source: input.source,
            idempotency_key: input.idempotencyKey ?? null,
          },
        },
        now,
      );
      return intent.id;
    });
  } catch (err) {
    // Two callers raced on one idempotency key: the unique index let exactly one create it.
    if (input.idempotencyKey && isUniqueViolation(err)) {
      const existing = await findIntentByKey(db, viewer.tenantId, input.idempotencyKey);
      if (existing) return { ...(await intentView(db, viewer.tenantId, existing.id)), duplicate: true };
    }
    throw err;
  }

  await decide(deps, viewer.tenantId, intentId, { type: "SYSTEM", id: "gate" });
  const view = await intentView(db, viewer.tenantId, intentId);
  if (view.status === "AUTO_APPROVED") {
    await runExecution(deps, viewer.tenantId, intentId, { approvalSource: "POLICY", actor: { type: "SYSTEM", id: "autopilot" } });
    return { ...(await intentView(db, viewer.tenantId, intentId)), duplicate: false };
  }
  return { ...view, duplicate: false };
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
  if (perType !== null && !(await tryConsume(tx, tenantId, accountId, dateKey, actionType, perType))) {
    return { ok: false as const, scope: "ACTION_TYPE" as const, cap: perType, dateKey };
  }
  if (!(await tryConsume(tx, tenantId, accountId, dateKey, "", cap))) {
    if (perType !== null) await refund(tx, tenantId, accountId, dateKey, actionType);
    return { ok: false as const, scope: "ACCOUNT" as const, cap, dateKey };
  }
  const row = await tx.budgetUsage.findUnique({
    where: { tenantId_accountId_dateKey_actionType: { tenantId, accountId, dateKey, actionType: "" } },
  });
  return { ok: true as const, cap, consumed: row?.consumed ?? 0, dateKey, perType };
}

const STATUS_FOR = { AUTO_EXECUTE: "AUTO_APPROVED", REQUIRE_APPROVAL: "PENDING_APPROVAL", BLOCK: "BLOCKED" } as const;

/**
 * Decide one PROPOSED intent. The status transition out of PROPOSED is the reservation: it and
 * the budget consumption commit together, so concurrent or retried calls for one intent decide
 * (and consume) exactly once.
 */
export async function decide(deps: GateDeps, tenantId: string, intentId: string, actor: Actor): Promise<PolicyResult | null> {
  const { db, clock } = deps;
  try {
    return await inTransaction(db, async (tx) => {
      const now = clock.now();
      const intent = await findIntent(tx, tenantId, intentId);
      if (!intent || intent.status !== "PROPOSED") return null;
      const account = await tx.account.findFirst({
        where: { tenantId, id: intent.accountId },
        select: { lifecycle: true, posture: true, momentum: true, heatTier: true },
      });
      if (!account) throw new Error("intent account vanished");
      const cfg = await loadGateConfig(tx, tenantId, intent.accountId);
      const tenantPolicy = await getOrCreateTenantPolicy(tx, tenantId, now);
      const spec = actionSpec(intent.actionType);
      const mode = resolveMode(cfg.modes, intent.accountId, intent.actionType);
      const kill = activeKillSwitch(cfg.killSwitches, intent.actionType, spec?.connector);
      const input: PolicyInput = {
        actionType: intent.actionType,
        confidence: intent.confidence,
        riskLevel: intent.riskLevel,
        lifecycle: account.lifecycle,
        mode: mode.mode,
        allowlisted: isAllowlisted(cfg.allowlist, intent.accountId, intent.actionType),
        blockingUnknowns: JSON.parse(intent.blockingUnknowns) as string[],
        killSwitch: kill ? { scope: kill.scope, key: kill.key, reason: kill.reason } : null,
        thresholds: {
          minConfidence: tenantPolicy.minConfidence,
          prospectMinConfidence: tenantPolicy.prospectMinConfidence,
          version: tenantPolicy.version,
        },
      };
      let result = evaluatePolicy(input);
      const won = await transitionIntent(tx, tenantId, intentId, "PROPOSED", { status: STATUS_FOR[result.decision] }, now);
      if (!won) return null;

      let budget: Awaited<ReturnType<typeof consumeBudget>> | null = null;
      if (result.decision === "AUTO_EXECUTE") {
        budget = await consumeBudget(tx, tenantId, intent.accountId, intent.actionType, budgetSettings(cfg.budget), now);
        if (!budget.ok) result = budgetExhausted(result, { cap: budget.cap, scope: budget.scope });
      }
      await tx.actionIntent.update({
        where: { id: intentId },
        data: {
          status: STATUS_FOR[result.decision],
          decision: result.decision,
          reason: result.reason,
          explanation: result.explanation,
          policyVersion: result.policyVersion,
          policyClause: result.policyClause,
          decidedAt: now,
          updatedAt: now,
        },
      });
      const snapshot = { ...input, modeSource: mode.source, account, budget: budget ? { ...budget } : null };
      await insertPolicyEvaluation(
        tx,
        {
          tenantId,
          intentId,
          decision: result.decision,
          reason: result.reason,
          explanation: result.explanation,
          policyVersion: result.policyVersion,
          clauses: canonicalJson(result.clauses),
          input: canonicalJson(snapshot),
        },
        now,
      );
      const base = { tenantId, accountId: intent.accountId, correlationId: intent.correlationId, actor };
      await appendLedger(
        tx,
        {
          ...base,
          type: "POLICY_EVALUATED",
          payload: {
            action_intent_id: intentId,
            action_type: intent.actionType,
            decision: result.decision,
            reason: result.reason,
            explanation: result.explanation,
            policy_version: result.policyVersion,
            policy_clause: result.policyClause,
            clauses: result.clauses,
            mode: mode.mode,
            mode_source: mode.source,
            allowlisted: input.allowlisted,
            kill_switch: input.killSwitch,
          },
        },
        now,
      );
      if (budget?.ok) {
        await appendLedger(
          tx,
          {
            ...base,
            type: "BUDGET_CONSUMED",
            payload: {
              action_intent_id: intentId,
              date_key: budget.dateKey,
              cap: budget.cap,
              consumed: budget.consumed,
              remaining: budget.cap - budget.consumed,
            },
          },
          now,
        );
      }
      if (result.decision === "REQUIRE_APPROVAL") {
        await appendLedger(
          tx,
          {
            ...base,
            type: "APPROVAL_REQUESTED",
            payload: { action_intent_id: intentId, reason: result.reason, explanation: result.explanation },
          },
          now,
        );
      }
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
        decision: result.decision,
        reason: result.reason,
        explanation: result.explanation,
        policyVersion: result.policyVersion,
        policyClause: result.policyClause,
        decidedAt: now,
      },
      now,
    );
    if (!won) return null;
    await appendLedger(
      tx,
      {
        tenantId,
        accountId: intent.accountId,
        correlationId: intent.correlationId,
        type: "POLICY_EVALUATED",
        actor,
        payload: {
          action_intent_id: intentId,
          decision: result.decision,
          reason: result.reason,
          explanation: result.explanation,
          error_kind: kind,
        },
      },
      now,
    );
    await appendLedger(
      tx,
      {
        tenantId,
        accountId: intent.accountId,
        correlationId: intent.correlationId,
        type: "APPROVAL_REQUESTED",
        actor,
        payload: { action_intent_id: intentId, reason: result.reason },
      },
      now,
    );
    return result;
  });
}

/** Kill switches re-read at the moment an autonomous execution would start. */
export async function killSwitchAt(tx: Tx, tenantId: string, actionType: string) {
  return activeKillSwitch(await enabledKillSwitches(tx, tenantId), actionType, actionSpec(actionType)?.connector);
}
