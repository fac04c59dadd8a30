import { createHash, randomUUID } from "node:crypto";
import type { Clock } from "../../clock";
import { renderInternalArtifact } from "../../connectors/internal";
import type { Db, Tx } from "../../db";
import { actionSpec } from "../../engine/actions";
import { canonicalJson } from "../../engine/canonical";
import { AppError, isUniqueViolation } from "../../errors";
import { loadArtifactContext } from "../../repos/artifacts";
import { assertConfigUnchanged, ConfigChangedError, configVersion, type GateAccount, gateAccounts } from "../../repos/autonomy";
import { insertCompletedExecutions } from "../../repos/executions";
import { heatOf } from "../../repos/heat";
import { newRowId } from "../../repos/ids";
import { findIntentByKey, insertIntents, insertPolicyEvaluations } from "../../repos/intents";
import { appendLedgerBatch } from "../../repos/ledger";
import { insertLogOnlyEvaluations } from "../../repos/policyLab";
import { accountVisibleTo, type Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import { enqueueApprovalNotice } from "../approvals/webhook";
import { GroupCommit, groupPer, type Settled } from "../groupCommit";
import { GroupBudget, settleBudget } from "./budget";
import { evaluate } from "./evaluate";
import { admitFailClosed } from "./failClosed";
import { logOnlyRows } from "./logOnly";
import { decisionEntries, evaluationRow } from "./records";
import {
  AUTOPILOT,
  decisionFields,
  featureSnapshot,
  GateConfigError,
  type GateDeps,
  type GateView,
  type IntentInput,
  intentRow,
  type LedgerDraft,
  STATUS_FOR,
} from "./types";
import { intentView } from "./view";

/**
 * The auto-execute gate (SPEC §4.2), in order: kill switches → allowlist → mode → policy (one
 * pure evaluation covers these) → idempotency guard → budget → execute. It is the one door for
 * intents: `POST /api/v1/intents` and decision runs both come through `submitIntent`. Anything
 * that goes wrong while deciding leaves the intent waiting for a human (GATE_ERROR), never
 * executing.
 *
 * Group commit (issue 13): concurrent submissions for one tenant are admitted together — one
 * transaction, one configuration-version read, one account and heat read, multi-row inserts and
 * one ledger append for the whole group — while each keeps its own decision, budget unit and
 * answer. A group is decided in arrival order, so budgets are taken first come, first served.
 */

/** What an idempotency key stands for: the canonical request, so a different body under it is caught. */
function requestHash(input: IntentInput) {
  const { idempotencyKey: _k, correlationId: _c, source: _s, signalTypes: _t, trigger: _g, ...body } = input;
  return createHash("sha256")
    .update(canonicalJson({ ...body, rankScore: body.rankScore ?? null }))
    .digest("hex");
}

/**
 * A repeated idempotency key answers with the first intent — but only for the same request
 * (the Stripe convention): an API caller who reuses a key for a different body gets a CONFLICT
 * naming the field instead of silently receiving someone else's result.
 */
async function existingFor(db: Db, a: Admission) {
  if (!a.input.idempotencyKey) return null;
  const existing = await findIntentByKey(db, a.viewer.tenantId, a.input.idempotencyKey);
  if (!existing) return null;
  if (a.input.source === "API" && existing.requestHash !== null && existing.requestHash !== a.hash)
    throw new AppError("CONFLICT", "This idempotency_key was already used with a different request body", "idempotency_key");
  return { ...(await intentView(db, a.viewer.tenantId, existing.id)), duplicate: true };
}

interface Admission {
  viewer: Viewer;
  input: IntentInput;
  hash: string;
}
type Answer = GateView & { duplicate: boolean };
/** What one admission of a group came to. Only `view` wrote anything of it. */
type Verdict = { view: GateView } | { refused: AppError } | { failClosed: GateConfigError };
type GroupDeps = Pick<GateDeps, "db" | "clock">;

const groupFor = groupPer((db: Db, clock: Clock) => new GroupCommit((items: Admission[]) => admitGroup({ db, clock }, items)));

/** Enter an intent (from the decision layer or `POST /api/v1/intents`) and run it through the gate. */
export async function submitIntent(deps: GateDeps, viewer: Viewer, input: IntentInput): Promise<Answer> {
  const admission = { viewer, input, hash: requestHash(input) };
  const seen = await existingFor(deps.db, admission);
  if (seen) return seen;
  return groupFor(deps.db, deps.clock).submit(viewer.tenantId, admission);
}

/**
 * Admit a group. Together first; if that transaction fails as a whole (a unique key another
 * process took, a database fault), nothing of it committed and each admission runs alone — the
 * same code with a group of one — so one bad intent never fails its neighbours. A repeated
 * idempotency key inside the group waits for the first and answers as its duplicate.
 */
async function admitGroup(deps: GroupDeps, items: Admission[]): Promise<Settled<Answer>[]> {
  const firstOfKey = new Set<string>();
  const lead: number[] = [];
  const repeats: number[] = [];
  items.forEach((a, i) => {
    const key = a.input.idempotencyKey;
    if (key && firstOfKey.has(key)) repeats.push(i);
    else {
      if (key) firstOfKey.add(key);
      lead.push(i);
    }
  });
  const out: Settled<Answer>[] = new Array(items.length);
  const together =
    lead.length > 1
      ? await admitOnCurrentConfig(
          deps,
          lead.map((i) => items[i] as Admission),
        ).catch(() => null)
      : null;
  for (const [j, i] of lead.entries()) {
    const a = items[i] as Admission;
    const verdict = together?.[j];
    out[i] = await settle(() => (verdict ? answer(deps, a, verdict) : admitAlone(deps, a)));
  }
  for (const i of repeats) {
    const a = items[i] as Admission;
    out[i] = await settle(async () => (await existingFor(deps.db, a)) ?? admitAlone(deps, a));
  }
  return out;
}

async function settle(fn: () => Promise<Answer>): Promise<Settled<Answer>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

async function answer(deps: GroupDeps, a: Admission, verdict: Verdict): Promise<Answer> {
  if ("view" in verdict) return { ...verdict.view, duplicate: false };
  if ("refused" in verdict) throw verdict.refused;
  return admitFailClosed(deps, a.viewer, a.input, verdict.failClosed);
}

async function admitAlone(deps: GroupDeps, a: Admission): Promise<Answer> {
  try {
    // One transaction from intake to outcome for the autonomous path: the decision, the budget
    // unit, the execution and the ledger commit together or not at all.
    const [verdict] = await admitOnCurrentConfig(deps, [a]);
    if (!verdict) throw new Error("unreachable: a group of one gave no verdict");
    return await answer(deps, a, verdict);
  } catch (err) {
    // Two callers raced on one idempotency key: the unique index let exactly one create it, and
    // the loser's whole transaction (including any budget it took) rolled back.
    if (a.input.idempotencyKey && isUniqueViolation(err)) {
      const raced = await existingFor(deps.db, a);
      if (raced) return raced;
    }
    if (err instanceof AppError) throw err;
    return admitFailClosed(deps, a.viewer, a.input, err);
  }
}

/**
 * Admit, and if a configuration write committed while deciding (a kill switch, a narrowed mode),
 * decide again on the new configuration. Past a few tries the caller fails closed.
 */
async function admitOnCurrentConfig(deps: GroupDeps, group: Admission[]): Promise<Verdict[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(deps.db, (tx) => admit(tx, deps, group));
    } catch (err) {
      if (!(err instanceof ConfigChangedError) || attempt >= 3) throw err;
    }
  }
}

/** Everything one admitted intent writes, gathered so the group writes each table once. */
interface Decided {
  view: GateView;
  intent: Parameters<typeof insertIntents>[1][number];
  evaluation: Parameters<typeof insertPolicyEvaluations>[1][number];
  logOnly: Awaited<ReturnType<typeof logOnlyRows>>;
  execution: Parameters<typeof insertCompletedExecutions>[1][number] | null;
  entries: LedgerDraft[];
}

async function admit(tx: Tx, deps: GroupDeps, group: Admission[]): Promise<Verdict[]> {
  const tenantId = group[0]?.viewer.tenantId;
  if (!tenantId || group.some((a) => a.viewer.tenantId !== tenantId)) throw new Error("a group admits one tenant's intents");
  const now = deps.clock.now();
  const version = await configVersion(tx, tenantId);
  const accountIds = group.map((a) => a.input.accountId);
  const [accounts, heat] = await Promise.all([gateAccounts(tx, tenantId, accountIds), heatOf(tx, tenantId, accountIds)]);
  const counters = new GroupBudget(tx, tenantId);
  const verdicts: Verdict[] = [];
  const decided: Decided[] = [];
  for (const a of group) {
    const account = accounts.get(a.input.accountId);
    if (!account || version === null || !accountVisibleTo(a.viewer, account)) {
      verdicts.push({ refused: new AppError("NOT_FOUND", "Account not found", "account_id") });
      continue;
    }
    let d: Decided;
    try {
      d = await decide(tx, counters, a, account, heat.get(a.input.accountId)?.tier ?? null, version, now);
    } catch (err) {
      // Unreadable stored configuration is found while evaluating, before this admission took a
      // budget unit or wrote anything: it alone fails closed, after the group commits.
      if (err instanceof GateConfigError) {
        verdicts.push({ failClosed: err });
        continue;
      }
      throw err;
    }
    decided.push(d);
    verdicts.push({ view: d.view });
  }
  await counters.flush();
  await insertIntents(
    tx,
    decided.map((d) => d.intent),
    now,
  );
  await insertPolicyEvaluations(
    tx,
    decided.map((d) => d.evaluation),
    now,
  );
  const logOnly = decided.flatMap((d) => d.logOnly);
  if (logOnly.length > 0) await insertLogOnlyEvaluations(tx, logOnly, now);
  await insertCompletedExecutions(
    tx,
    decided.flatMap((d) => (d.execution ? [d.execution] : [])),
    now,
  );
  for (const d of decided) {
    if (d.view.status === "PENDING_APPROVAL") await enqueueApprovalNotice(tx, deps.clock, tenantId, d.view.actionIntentId);
  }
  await appendLedgerBatch(
    tx,
    tenantId,
    decided.flatMap((d) => d.entries),
    now,
  );
  // Now holding the ledger head lock: no configuration write can commit before this admission
  // does, and one that committed while it was deciding is seen here (see withConfigWrite).
  await assertConfigUnchanged(tx, tenantId, version ?? -1);
  return verdicts;
}

/**
 * One admission's decision, inside the group's transaction: policy, then the budget unit (taken
 * here, in arrival order — reserve-first), then the internal action's artifact. Its rows are
 * returned, not written. Reads see the state at the start of the group plus the budget units its
 * earlier members took; an artifact that lists an account's open approvals does not list one
 * proposed earlier in the same group.
 */
async function decide(
  tx: Tx,
  counters: GroupBudget,
  a: Admission,
  account: GateAccount,
  tier: string | null,
  version: number,
  now: Date,
): Promise<Decided> {
  const { viewer, input } = a;
  const tenantId = viewer.tenantId;
  const correlationId = input.correlationId ?? randomUUID();
  const ev = await evaluate(tx, tenantId, { ...input, lifecycle: account.lifecycle, ownerId: account.ownerId }, version);
  const { result, budget } = await settleBudget(tx, counters, tenantId, input.accountId, input.actionType, ev.result, ev.budget, now);

  const spec = actionSpec(input.actionType);
  // Autonomy only ever reaches internal actions (external and CRM types can never pass policy),
  // and those run locally, so the execution can complete inside this transaction.
  const artifact =
    result.decision === "AUTO_EXECUTE" && spec?.connector === "internal"
      ? renderInternalArtifact(
          input.actionType,
          input.parameters,
          await loadArtifactContext(tx, tenantId, input.accountId, input.actionType, { accountName: account.name, why: input.why }, now),
        )
      : null;
  const status = result.decision === "AUTO_EXECUTE" && artifact !== null ? "SUCCEEDED" : STATUS_FOR[result.decision];
  // Ids are chosen here rather than by the database: the ledger entries of the same group name them.
  const intentId = newRowId();
  const logOnly = await logOnlyRows(
    tx,
    counters,
    tenantId,
    {
      intentId,
      accountId: input.accountId,
      actionType: input.actionType,
      source: input.source,
      ownerId: account.ownerId,
      input: ev.input,
      modeSource: ev.modeSource,
      result,
      budget,
      alwaysOnMissing: ev.alwaysOnMissing,
      allowlist: ev.allowlist,
      settings: ev.budget,
      proposals: ev.proposals,
    },
    now,
  );
  const base = { accountId: input.accountId, correlationId };
  const entries: LedgerDraft[] = [
    {
      ...base,
      type: "INTENT_PROPOSED",
      actor: viewer.actor,
      payload: {
        action_intent_id: intentId,
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
    ...decisionEntries(base, intentId, input.actionType, ev.input, result, ev.modeSource, budget, ev.alwaysOnMissing),
  ];
  let execution: Decided["execution"] = null;
  if (status === "SUCCEEDED" && artifact) {
    const executionId = newRowId();
    const toolCallId = newRowId();
    const response = { kind: artifact.kind, title: artifact.title };
    execution = {
      execution: { id: executionId, tenantId, intentId, approvalSource: "POLICY", autoExecuted: true },
      toolCall: {
        id: toolCallId,
        connector: "internal",
        operation: input.actionType,
        idempotencyKey: `${executionId}:internal`,
        request: canonicalJson({ parameters: input.parameters, target: input.target }),
        response: canonicalJson(response),
      },
      artifact: { accountId: input.accountId, ...artifact },
      outcome: { label: "EXECUTION_SUCCEEDED", details: canonicalJson(response) },
    };
    entries.push(
      {
        ...base,
        type: "EXECUTION_STARTED",
        actor: AUTOPILOT,
        payload: {
          execution_id: executionId,
          action_intent_id: intentId,
          action_type: input.actionType,
          approval_source: "POLICY",
          auto_executed: true,
        },
      },
      {
        ...base,
        type: "EXECUTION_SUCCEEDED",
        actor: AUTOPILOT,
        payload: {
          execution_id: executionId,
          action_intent_id: intentId,
          connector: "internal",
          tool_call_id: toolCallId,
          auto_executed: true,
          response,
        },
      },
      {
        ...base,
        type: "OUTCOME_RECORDED",
        actor: AUTOPILOT,
        payload: { action_intent_id: intentId, execution_id: executionId, label: "EXECUTION_SUCCEEDED" },
      },
    );
  }
  return {
    view: {
      actionIntentId: intentId,
      status,
      decision: result.decision,
      reason: result.reason,
      explanation: result.explanation,
      policyVersion: result.policyVersion,
      policyClause: result.policyClause,
      executionId: execution?.execution.id ?? null,
    },
    intent: {
      id: intentId,
      ...intentRow(viewer, input, correlationId),
      features: canonicalJson(featureSnapshot(input, account, tier)),
      idempotencyKey: input.idempotencyKey ?? null,
      requestHash: input.idempotencyKey ? a.hash : null,
      status,
      ...decisionFields(result, now),
    },
    evaluation: evaluationRow(tenantId, intentId, ev.input, result, ev.modeSource, account, budget, ev.alwaysOnMissing),
    logOnly,
    execution,
    entries,
  };
}
