import type { Tx } from "../db";
import { canonicalJson } from "../engine/canonical";
import { AppError, notFound } from "../errors";
import { insertOutcome } from "../repos/executions";
import { findIntent, insertIntent, insertReview, transitionIntent } from "../repos/intents";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { EXECUTE_APPROVED } from "./executor";
import { type GateDeps, type GateView, intentView } from "./gate";
import { viewerSeesAccount } from "./guards";
import { enqueue } from "./jobQueue";

/**
 * The human path (SPEC §4.2): approve, edit-then-approve (a new intent version, the diff kept),
 * reject with a reason. Only an intent waiting for approval can be decided; any later decision —
 * a repeated delivery, a second reviewer, a concurrent edit — is a CONFLICT and starts nothing.
 */

async function visibleIntent(deps: GateDeps, viewer: Viewer, intentId: string) {
  const intent = await findIntent(deps.db, viewer.tenantId, intentId);
  // A seller may only act on intents for accounts they own; anything else is "not found".
  if (!intent || !(await viewerSeesAccount(deps.db, viewer, intent.accountId))) throw notFound("Intent");
  return intent;
}

/** Own properties only: a key named `constructor` or `toString` is data, not Object.prototype. */
const own = (o: Record<string, unknown>, k: string) => (Object.hasOwn(o, k) ? (o[k] ?? null) : null);

function diffParameters(before: Record<string, unknown>, after: Record<string, unknown>) {
  const diff: Record<string, { before: unknown; after: unknown }> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (canonicalJson(own(before, k)) !== canonicalJson(own(after, k))) diff[k] = { before: own(before, k), after: own(after, k) };
  }
  return diff;
}

/**
 * What a decision through a one-time link adds (server/services/approvals/decide.ts): `claim`
 * runs inside the deciding transaction right after the intent's conditional transition, and
 * throws when the link was used first — rolling the decision back — so a link decides once and
 * is spent only by the request that decided; `via` is written into the ledger entry.
 */
export interface LinkDecision {
  claim: (tx: Tx) => Promise<void>;
  via: "LINK";
  linkId: string;
}

const viaFields = (link?: LinkDecision) => (link ? { via: link.via, link_id: link.linkId } : {});

/**
 * A decision on an intent that is no longer waiting is a CONFLICT (409), whether it was decided
 * by someone else, by this caller a moment ago, or by a concurrent edit: exactly one decision wins.
 */
function alreadyDecided(status: string | undefined, verb: "approved" | "rejected") {
  const state = status ? status.toLowerCase().replace("_", " ") : "gone";
  return new AppError("CONFLICT", `This action is already ${state} and cannot be ${verb}`);
}

export async function approveIntent(
  deps: GateDeps,
  viewer: Viewer,
  intentId: string,
  input: { reason?: string; editedParameters?: Record<string, unknown>; actorLabel?: string; link?: LinkDecision },
): Promise<GateView & { edited: boolean }> {
  const intent = await visibleIntent(deps, viewer, intentId);
  const before = JSON.parse(intent.parameters) as Record<string, unknown>;
  const edited = input.editedParameters ? { ...before, ...input.editedParameters } : null;
  const diff = edited ? diffParameters(before, edited) : null;
  const isEdit = !!diff && Object.keys(diff).length > 0;

  const approvedId = await inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    const base = { tenantId: viewer.tenantId, accountId: intent.accountId, correlationId: intent.correlationId, actor: viewer.actor };
    if (!isEdit) {
      if (!(await transitionIntent(tx, viewer.tenantId, intentId, "PENDING_APPROVAL", { status: "APPROVED" }, now))) return null;
      await input.link?.claim(tx);
      await insertReview(
        tx,
        {
          tenantId: viewer.tenantId,
          intentId,
          newIntentId: null,
          decision: "APPROVED",
          reason: input.reason ?? null,
          diff: null,
          actorType: viewer.actor.type,
          actorId: viewer.actor.id,
        },
        now,
      );
      await appendLedger(
        tx,
        {
          ...base,
          type: "INTENT_APPROVED",
          payload: {
            action_intent_id: intentId,
            edited: false,
            reason: input.reason ?? null,
            approved_by: input.actorLabel ?? null,
            ...viaFields(input.link),
          },
        },
        now,
      );
      await queueExecution(tx, deps, viewer, intentId);
      return intentId;
    }
    // Decided intents are immutable: an edit supersedes this version with a new, approved one.
    if (!(await transitionIntent(tx, viewer.tenantId, intentId, "PENDING_APPROVAL", { status: "SUPERSEDED" }, now))) return null;
    await input.link?.claim(tx);
    const next = await insertIntent(
      tx,
      {
        // The human approved the version the gate decided: the new version carries that decision.
        decision: intent.decision ?? undefined,
        reason: intent.reason ?? undefined,
        explanation: intent.explanation ?? undefined,
        policyVersion: intent.policyVersion ?? undefined,
        policyClause: intent.policyClause ?? undefined,
        decidedAt: now,
        tenantId: viewer.tenantId,
        accountId: intent.accountId,
        correlationId: intent.correlationId,
        actionType: intent.actionType,
        target: intent.target,
        parameters: canonicalJson(edited),
        why: intent.why,
        confidence: intent.confidence,
        riskLevel: intent.riskLevel,
        blockingUnknowns: intent.blockingUnknowns,
        rankScore: intent.rankScore,
        source: intent.source,
        features: intent.features,
        idempotencyKey: null,
        createdBy: viewer.actor.id,
        version: intent.version + 1,
        parentId: intent.id,
        status: "APPROVED",
      },
      now,
    );
    await insertReview(
      tx,
      {
        tenantId: viewer.tenantId,
        intentId,
        newIntentId: next.id,
        decision: "APPROVED",
        reason: input.reason ?? null,
        diff: canonicalJson(diff),
        actorType: viewer.actor.type,
        actorId: viewer.actor.id,
      },
      now,
    );
    await insertOutcome(
      tx,
      {
        tenantId: viewer.tenantId,
        intentId,
        executionId: null,
        label: "IDEA_EDITED",
        details: canonicalJson({ new_intent_id: next.id, diff }),
      },
      now,
    );
    await appendLedger(
      tx,
      {
        ...base,
        type: "INTENT_APPROVED",
        payload: {
          action_intent_id: intentId,
          new_action_intent_id: next.id,
          edited: true,
          diff,
          reason: input.reason ?? null,
          approved_by: input.actorLabel ?? null,
        },
      },
      now,
    );
    await appendLedger(tx, { ...base, type: "OUTCOME_RECORDED", payload: { action_intent_id: intentId, label: "IDEA_EDITED" } }, now);
    await queueExecution(tx, deps, viewer, next.id);
    return next.id;
  });

  if (!approvedId) throw alreadyDecided((await findIntent(deps.db, viewer.tenantId, intentId))?.status, "approved");
  return { ...(await intentView(deps.db, viewer.tenantId, approvedId)), edited: isEdit };
}

/**
 * An approved intent runs on the durable queue (EXECUTE_APPROVED), not in the approving request:
 * backpressure, retries and crash recovery apply to it as to autonomous work. Queued in the
 * approving transaction, so an approval is never committed without its job; keyed by the intent,
 * so it is queued once.
 */
function queueExecution(tx: Tx, deps: GateDeps, viewer: Viewer, intentId: string) {
  return enqueue(
    tx,
    { tenantId: viewer.tenantId, kind: EXECUTE_APPROVED, payload: { intentId, actor: viewer.actor }, dedupeKey: `execute:${intentId}` },
    deps.clock,
  );
}

export async function rejectIntent(
  deps: GateDeps,
  viewer: Viewer,
  intentId: string,
  input: { reason: string; actorLabel?: string; link?: LinkDecision },
): Promise<GateView> {
  const intent = await visibleIntent(deps, viewer, intentId);
  const done = await inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    if (!(await transitionIntent(tx, viewer.tenantId, intentId, "PENDING_APPROVAL", { status: "REJECTED" }, now))) return false;
    await input.link?.claim(tx);
    const base = { tenantId: viewer.tenantId, accountId: intent.accountId, correlationId: intent.correlationId, actor: viewer.actor };
    await insertReview(
      tx,
      {
        tenantId: viewer.tenantId,
        intentId,
        newIntentId: null,
        decision: "REJECTED",
        reason: input.reason,
        diff: null,
        actorType: viewer.actor.type,
        actorId: viewer.actor.id,
      },
      now,
    );
    await insertOutcome(
      tx,
      { tenantId: viewer.tenantId, intentId, executionId: null, label: "IDEA_REJECTED", details: canonicalJson({ reason: input.reason }) },
      now,
    );
    await appendLedger(
      tx,
      {
        ...base,
        type: "INTENT_REJECTED",
        payload: { action_intent_id: intentId, reason: input.reason, rejected_by: input.actorLabel ?? null, ...viaFields(input.link) },
      },
      now,
    );
    await appendLedger(tx, { ...base, type: "OUTCOME_RECORDED", payload: { action_intent_id: intentId, label: "IDEA_REJECTED" } }, now);
    return true;
  });
  if (!done) throw alreadyDecided((await findIntent(deps.db, viewer.tenantId, intentId))?.status, "rejected");
  return intentView(deps.db, viewer.tenantId, intentId);
}

/** Batch review: each id is decided on its own; one failure does not undo the others. */
export async function reviewMany(
  deps: GateDeps,
  viewer: Viewer,
  ids: string[],
  action: { kind: "approve"; reason?: string } | { kind: "reject"; reason: string },
) {
  const results: { id: string; ok: boolean; status?: string; error?: string }[] = [];
  for (const id of ids) {
    try {
      const v =
        action.kind === "approve"
          ? await approveIntent(deps, viewer, id, { reason: action.reason })
          : await rejectIntent(deps, viewer, id, { reason: action.reason });
      results.push({ id, ok: true, status: v.status });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      results.push({ id, ok: false, error: err.message });
    }
  }
  return results;
}
