import type { Db } from "../db";
import { parseEvaluationInput, parseLedgerPayload } from "../engine/ledgerPayloads";
import { readStoredJson, storedObject } from "../engine/storedJson";
import { AppError } from "../errors";
import { signalsByIds } from "../repos/decisions";
import { executionsForIntent, findExecution, outcomesFor, toolCallsFor } from "../repos/executions";
import { correlationLedger, memberNames, runFor, visibleAccountName } from "../repos/explanation";
import { evaluationsFor, findIntent, reviewsFor } from "../repos/intents";
import type { Viewer } from "../repos/scope";
import { DEMO_HISTORY_ACTOR, DEMO_HISTORY_LABEL } from "./demoHistory";

/**
 * "Why did autopilot do this?" (SPEC §4.6): why (trigger, policy decision, reason, explanation),
 * what it knew (the intent and the policy input exactly as stored at decision time, the exact
 * signals of the trigger window that fed its decision run, and the account data the synthesizer
 * was given), which policy (version, clauses, approval source). Built only from stored records,
 * so a later policy change or new data never rewrites the answer.
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
  const account = intent ? await visibleAccountName(db, viewer, intent.accountId) : null;
  if (!intent || !account) {
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
  const [evaluations, reviews, outcomes, toolCalls, ledger] = await Promise.all([
    evaluationsFor(db, viewer.tenantId, original.id),
    Promise.all(lineage.map((i) => reviewsFor(db, viewer.tenantId, i.id))).then((r) => r.flat()),
    Promise.all(lineage.map((i) => outcomesFor(db, viewer.tenantId, i.id))).then((r) => r.flat()),
    execution ? toolCallsFor(db, viewer.tenantId, execution.id) : Promise.resolve([]),
    correlationLedger(db, viewer.tenantId, intent.correlationId),
  ]);
  const evaluation = evaluations.at(-1) ?? null;
  const policyInput = evaluation ? parseEvaluationInput(storedObject(evaluation.input)) : null;
  const parse = (s: string | null) => (s ? readStoredJson(s) : null);
  // The decision run (if a trigger produced this intent) carries the trigger, the cost gate, the
  // exact signals of its window and what the synthesizer saw.
  const proposer = /^decision-run:(.+)$/.exec(original.createdBy ?? "")?.[1] ?? null;
  const run = original.source === "DECISION" || proposer ? await runFor(db, viewer.tenantId, proposer, intent.correlationId) : null;
  const runSignalIds = run ? readStringList(run.signalIds) : [];
  // In the order the window gathered them.
  const signals = (await signalsByIds(db, viewer.tenantId, runSignalIds)).sort(
    (x, y) => runSignalIds.indexOf(x.id) - runSignalIds.indexOf(y.id),
  );
  const receivedSeq = new Map<string, number>();
  for (const l of ledger) {
    const entry = parseLedgerPayload(l.type, l.payload);
    if (entry.type === "SIGNAL_RECEIVED" && entry.payload.signal_id) receivedSeq.set(entry.payload.signal_id, l.seq);
  }
  const nameOf = await memberNames(
    db,
    viewer.tenantId,
    reviews.map((r) => r.actorId).filter((x): x is string => !!x),
  );
  const reviewerName = (r: { actorType: string; actorId: string | null }) =>
    r.actorType === DEMO_HISTORY_ACTOR.type && r.actorId === DEMO_HISTORY_ACTOR.id
      ? DEMO_HISTORY_LABEL
      : r.actorId
        ? (nameOf.get(r.actorId) ?? null)
        : null;

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
        actor: {
          type: r.actorType,
          id: r.actorId,
          name: reviewerName(r),
          simulated: r.actorType === DEMO_HISTORY_ACTOR.type && r.actorId === DEMO_HISTORY_ACTOR.id,
        },
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
      // Exactly the signals of the trigger window that fed the run, by id — not "recent" ones.
      signals: signals.map((s) => ({
        id: s.id,
        type: s.type,
        severity: s.severity,
        evidence: storedObject(s.evidence),
        source: s.source,
        occurredAt: s.occurredAt,
        receivedAt: s.receivedAt,
        seq: receivedSeq.get(s.id) ?? null,
      })),
      synthesizerInput: run?.inputSnapshot ? synthesizerView(storedObject(run.inputSnapshot) as StoredInput) : null,
    },
    whichPolicy: {
      policyVersion: original.policyVersion,
      policyClause: original.policyClause,
      clauses: evaluation ? readStringList(evaluation.clauses) : [],
      mode: policyInput?.mode ?? null,
      modeSource: policyInput?.modeSource ?? null,
      approvalSource: execution?.approvalSource ?? null,
      autoExecuted: execution?.autoExecuted ?? false,
      references: {
        policyEvaluationId: evaluation?.id ?? null,
        ledger: ledger.map((l) => ({ seq: l.seq, type: l.type, at: l.createdAt, hash: l.hash })),
        decisionRunId: run?.id ?? null,
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

/** The synthesizer input as stored on the run (JSON: dates are strings). */
interface StoredInput {
  account?: Record<string, unknown>;
  triggerType?: string;
  now?: string;
  contacts?: { id: string; name: string; email: string | null; title: string | null }[];
  opportunities?: { id: string; name: string; stage: string; amountCents: number; closeDate: string | null }[];
  signals?: { id?: string; type: string; severity: string; at: string }[];
  activity?: { actionType: string; status: string; at: string }[];
}

function synthesizerView(i: StoredInput) {
  return {
    at: i.now ?? null,
    account: i.account ?? null,
    contacts: (i.contacts ?? []).map((c) => ({ id: c.id, name: c.name, email: c.email, title: c.title })),
    opportunities: (i.opportunities ?? []).map((o) => ({
      id: o.id,
      name: o.name,
      stage: o.stage,
      amountCents: o.amountCents,
      closeDate: o.closeDate,
    })),
    signals: (i.signals ?? []).map((s) => ({ id: s.id ?? null, type: s.type, severity: s.severity, at: s.at })),
    activity: (i.activity ?? []).map((a) => ({ actionType: a.actionType, status: a.status, at: a.at })),
  };
}

/** A stored JSON list of ids; anything else reads as empty (one damaged row must not break the page). */
function readStringList(text: string): string[] {
  const v = readStoredJson(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
