import type { Db } from "../db";
import { AppError } from "../errors";
import { executionsForIntent, findExecution, outcomesFor, toolCallsFor } from "../repos/executions";
import { evaluationsFor, findIntent, reviewsFor } from "../repos/intents";
import { accountWhere, tenantWhere, type Viewer } from "../repos/scope";

/**
 * "Why did autopilot do this?" (SPEC §4.6): why (trigger, policy decision, reason, explanation),
 * what it knew (the intent and the policy input exactly as stored at decision time, the signals
 * seen before it), which policy (version, clauses, approval source). Built only from stored
 * records, so a later policy change never rewrites the answer.
 */
export async function explain(db: Db, viewer: Viewer, by: { executionId?: string; actionIntentId?: string }) {
  let intentId = by.actionIntentId;
  let execution = by.executionId ? await findExecution(db, viewer.tenantId, by.executionId) : null;
  if (by.executionId) {
    if (!execution) throw new AppError("NOT_FOUND", "Execution not found", "execution_id");
    intentId = execution.intentId;
  }
  if (!intentId) throw new AppError("BAD_REQUEST", "Pass execution_id or action_intent_id", "execution_id");
  const intent = await findIntent(db, viewer.tenantId, intentId);
  if (!intent || !(await db.account.findFirst({ where: accountWhere(viewer, { id: intent.accountId }), select: { id: true } }))) {
    throw new AppError("NOT_FOUND", "Intent not found", by.executionId ? "execution_id" : "action_intent_id");
  }
  // An edited intent's decision lives on its parent version; follow the chain to the original.
  const lineage = [intent];
  let cursor = intent;
  while (cursor.parentId) {
    const parent = await findIntent(db, viewer.tenantId, cursor.parentId);
    if (!parent) break;
    lineage.push(parent);
    cursor = parent;
  }
  const original = lineage.at(-1) ?? intent;
  if (!execution) execution = (await executionsForIntent(db, viewer.tenantId, intent.id))[0] ?? null;
  const [evaluations, reviews, outcomes, toolCalls, proposed] = await Promise.all([
    evaluationsFor(db, viewer.tenantId, original.id),
    Promise.all(lineage.map((i) => reviewsFor(db, viewer.tenantId, i.id))).then((r) => r.flat()),
    Promise.all(lineage.map((i) => outcomesFor(db, viewer.tenantId, i.id))).then((r) => r.flat()),
    execution ? toolCallsFor(db, viewer.tenantId, execution.id) : Promise.resolve([]),
    db.ledgerEntry.findFirst({
      where: tenantWhere(viewer.tenantId, { correlationId: intent.correlationId, type: "INTENT_PROPOSED" }),
      orderBy: { seq: "asc" },
    }),
  ]);
  const evaluation = evaluations.at(-1) ?? null;
  const policyInput = evaluation ? (JSON.parse(evaluation.input) as Record<string, unknown>) : null;
  const signals = await db.ledgerEntry.findMany({
    where: tenantWhere(viewer.tenantId, {
      accountId: intent.accountId,
      type: "SIGNAL_RECEIVED",
      ...(proposed ? { seq: { lt: proposed.seq } } : {}),
    }),
    orderBy: { seq: "desc" },
    take: 10,
  });
  const ledger = await db.ledgerEntry.findMany({
    where: tenantWhere(viewer.tenantId, { correlationId: intent.correlationId }),
    orderBy: { seq: "asc" },
    select: { seq: true, type: true, createdAt: true, hash: true },
  });
  const parse = (s: string | null) => (s ? (JSON.parse(s) as unknown) : null);
  // The decision run (if a trigger produced this intent) carries the trigger and the cost gate.
  const run = await db.decisionRun.findFirst({
    where: tenantWhere(viewer.tenantId, { correlationId: intent.correlationId }),
    orderBy: { createdAt: "asc" },
  });
  const account = await db.account.findFirst({
    where: tenantWhere(viewer.tenantId, { id: intent.accountId }),
    select: { id: true, name: true },
  });
  const people = await db.user.findMany({
    where: {
      id: { in: reviews.map((r) => r.actorId).filter((x): x is string => !!x) },
      memberships: { some: { tenantId: viewer.tenantId } },
    },
    select: { id: true, name: true },
  });
  const nameOf = new Map(people.map((p) => [p.id, p.name]));

  return {
    executionId: execution?.id ?? null,
    actionIntentId: intent.id,
    correlationId: intent.correlationId,
    account,
    approvalSource: execution?.approvalSource ?? null,
    autoExecuted: execution?.autoExecuted ?? false,
    status: intent.status,
    why: {
      trigger: {
        source: original.source,
        proposedBy: original.createdBy,
        why: parse(original.why),
        proposedAt: original.createdAt,
        triggerType: run?.triggerType ?? null,
        decisionRunId: run?.id ?? null,
      },
      costGate: run?.costGateResult
        ? { result: run.costGateResult, reason: run.reason, explanation: run.explanation, synthesizer: run.synthesizer }
        : null,
      policyDecision: original.decision,
      reason: original.reason,
      explanation: original.explanation,
      humanReviews: reviews.map((r) => ({
        decision: r.decision,
        reason: r.reason,
        diff: parse(r.diff),
        actor: { type: r.actorType, id: r.actorId, name: r.actorId ? (nameOf.get(r.actorId) ?? null) : null },
        at: r.createdAt,
      })),
    },
    whatItKnew: {
      intent: {
        actionType: original.actionType,
        parameters: parse(original.parameters),
        executedParameters: parse(intent.parameters),
        target: parse(original.target),
        confidence: original.confidence,
        riskLevel: original.riskLevel,
        blockingUnknowns: parse(original.blockingUnknowns),
        version: intent.version,
      },
      account: policyInput?.account ?? null,
      policyInput,
      signals: signals.map((s) => ({ seq: s.seq, at: s.createdAt, ...(JSON.parse(s.payload) as Record<string, unknown>) })),
    },
    whichPolicy: {
      policyVersion: original.policyVersion,
      policyClause: original.policyClause,
      clauses: evaluation ? (JSON.parse(evaluation.clauses) as string[]) : [],
      mode: policyInput?.mode ?? null,
      modeSource: policyInput?.modeSource ?? null,
      approvalSource: execution?.approvalSource ?? null,
      autoExecuted: execution?.autoExecuted ?? false,
      references: {
        policyEvaluationId: evaluation?.id ?? null,
        ledger: ledger.map((l) => ({ seq: l.seq, type: l.type, at: l.createdAt, hash: l.hash })),
      },
    },
    execution: execution
      ? {
          id: execution.id,
          status: execution.status,
          startedAt: execution.startedAt,
          finishedAt: execution.finishedAt,
          error: execution.error,
          replayOf: execution.replayOf,
          toolCalls: toolCalls.map((t) => ({
            id: t.id,
            connector: t.connector,
            operation: t.operation,
            idempotencyKey: t.idempotencyKey,
            status: t.status,
            error: t.error,
          })),
        }
      : null,
    outcomes: outcomes.map((o) => ({ label: o.label, at: o.createdAt, details: parse(o.details) })),
  };
}
