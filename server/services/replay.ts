import { randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { actionSpec } from "../engine/actions";
import { activeKillSwitch } from "../engine/autonomy";
import type { Actor } from "../engine/ledger";
import {
  BULK_REPLAY_CAP,
  killSwitchRefusal,
  latestFailedPerIntent,
  pendingExecution,
  previewReplay,
  type ReplaySideEffect,
  replayJobKey,
  replayRefusal,
} from "../engine/replay";
import { AppError, notFound } from "../errors";
import { accountNames } from "../repos/accounts";
import { enabledKillSwitches } from "../repos/autonomy";
import {
  executionsForIntent,
  executionsForIntents,
  failQueuedExecution,
  findExecution,
  insertExecution,
  intentsByIds,
  listFailedExecutions,
  startQueuedExecution,
  toolCallsForExecutions,
} from "../repos/executions";
import { findIntent } from "../repos/intents";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import type { Page } from "../schemas/common";
import { resolveConnector } from "./crmWrites";
import { admitExecution, type ConnectorDeps, completeExecution } from "./executor";
import { enqueue, type JobContext, JobError } from "./jobQueue";
import { releasePermit, resilienceDeps } from "./resilience";

/**
 * Replay (SPEC §4.7, §5.1 `executions/:id/replay-preview`, `executions/:id/replay`): an admin re-runs
 * a finished execution as a NEW execution (`replayOf`, `replayReason`, `requestedBy`) after seeing
 * which side effects would repeat. The original execution, its tool calls and the intent are never
 * written (completeExecution leaves the intent alone for a replay); the tool receives the original
 * execution's idempotency key (engine/replay.ts). REPLAY_REQUESTED / STARTED / COMPLETED / FAILED
 * go on the intent's correlation id, so they are part of its story.
 *
 * The replay runs on the durable queue, like a human approval (EXECUTE_APPROVED): the request
 * checks, then in ONE transaction writes REPLAY_REQUESTED, creates the new execution QUEUED and
 * enqueues its REPLAY_EXECUTION job — so a replay is never committed without the job that runs it.
 * The job (`handleReplayJob`, drained by the `decisions` tick) checks the kill switch again, waits
 * out backpressure, starts the execution (QUEUED → EXECUTING, REPLAY_STARTED) and finishes it
 * through the executor like any other. A QUEUED row is never the executions sweeper's stalled
 * EXECUTING one; a replay whose job ended without starting it is ended FAILED by the sweeper.
 */

export interface ReplayDeps {
  db: Db;
  clock: Clock;
  connectors: ConnectorDeps;
}

export interface ReplayPreviewView {
  executionId: string;
  actionIntentId: string;
  actionType: string;
  status: string;
  /** why it cannot be replayed now (still EXECUTING), else null */
  refusal: "NOT_TERMINAL" | null;
  /** the kill switch that would refuse a replay now, else null */
  killSwitch: { scope: string; key: string; reason: string } | null;
  /** SPEC §5.1's shape: { connector, idempotency_key, would_repeat, … } */
  sideEffects: ReplaySideEffect[];
}

export interface ReplayResult {
  executionId: string;
  replayOf: string;
  /**
   * QUEUED: the new execution exists and its job will run it; its result (SUCCEEDED | FAILED) is
   * the execution's status once the queue has drained it.
   */
  status: string;
}

export interface FailedExecutionView {
  executionId: string;
  actionIntentId: string;
  actionType: string;
  accountId: string;
  accountName: string | null;
  /** the tool the failed call went to; null when it failed before any call */
  connector: string | null;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  replayOf: string | null;
  /** the newest later execution of the same intent (a replay), if any */
  laterExecution: { executionId: string; status: string } | null;
}

export interface BulkReplayPreview {
  items: (FailedExecutionView & { sideEffects: ReplaySideEffect[] })[];
  /** the most one request replays */
  cap: number;
  /** more failed executions matched the range than `cap`; replay again for the rest */
  truncated: boolean;
}

export interface BulkReplayResult {
  items: { replayOf: string; executionId: string | null; status: string; error: string | null }[];
  cap: number;
  truncated: boolean;
}

type ExecutionRow = NonNullable<Awaited<ReturnType<typeof findExecution>>>;
type IntentRow = NonNullable<Awaited<ReturnType<typeof findIntent>>>;

async function load(db: Db, viewer: Viewer, executionId: string) {
  const execution = await findExecution(db, viewer.tenantId, executionId);
  const intent = execution ? await findIntent(db, viewer.tenantId, execution.intentId) : null;
  if (!execution || !intent) throw notFound("Execution");
  return { execution, intent };
}

/** The connector a replay would use now and the kill switch that would refuse it — the gate's rule: one on the declared connector or on the one that would carry it. */
async function replayRoute(db: Db, intent: IntentRow) {
  const [connector, switches] = await Promise.all([
    resolveConnector(db, intent.tenantId, intent.actionType),
    enabledKillSwitches(db, intent.tenantId),
  ]);
  const kill =
    activeKillSwitch(switches, intent.actionType, actionSpec(intent.actionType)?.connector) ??
    activeKillSwitch(switches, intent.actionType, connector);
  return { connector, kill };
}

async function sideEffectsOf(db: Db, intent: IntentRow, execution: ExecutionRow, connector: string): Promise<ReplaySideEffect[]> {
  const all = await executionsForIntent(db, intent.tenantId, intent.id);
  const original = all.find((e) => e.replayOf === null) ?? execution;
  const calls = await toolCallsForExecutions(
    db,
    intent.tenantId,
    all.map((e) => e.id),
  );
  return previewReplay({ originalExecutionId: original.id, connector, priorCalls: calls }).side_effects;
}

export async function replayPreview(db: Db, viewer: Viewer, executionId: string): Promise<ReplayPreviewView> {
  const { execution, intent } = await load(db, viewer, executionId);
  const { connector, kill } = await replayRoute(db, intent);
  return {
    executionId: execution.id,
    actionIntentId: intent.id,
    actionType: intent.actionType,
    status: execution.status,
    refusal: replayRefusal(execution.status),
    killSwitch: kill ? { scope: kill.scope, key: kill.key, reason: kill.reason } : null,
    sideEffects: await sideEffectsOf(db, intent, execution, connector),
  };
}

export async function replayExecution(
  deps: ReplayDeps,
  viewer: Viewer,
  executionId: string,
  opts: { replayReason: string; requestedBy: string },
): Promise<ReplayResult> {
  const { db, clock } = deps;
  const { execution, intent } = await load(db, viewer, executionId);
  const tenantId = viewer.tenantId;
  if (replayRefusal(execution.status))
    throw new AppError("CONFLICT", `The execution is ${execution.status}; only a finished one can be replayed`, "id", "NOT_TERMINAL");

  const actor: Actor = viewer.actor;
  const base = { tenantId, accountId: intent.accountId, correlationId: intent.correlationId, actor };
  const ids = { action_intent_id: intent.id, original_execution_id: execution.id };
  const requested = { ...ids, replay_reason: opts.replayReason, requested_by: opts.requestedBy };

  const { kill } = await replayRoute(db, intent);
  if (kill) {
    const error = killSwitchRefusal(kill);
    await inTransaction(db, async (tx) => {
      const now = clock.now();
      await appendLedger(tx, { ...base, type: "REPLAY_REQUESTED", payload: requested }, now);
      await appendLedger(
        tx,
        {
          ...base,
          type: "REPLAY_FAILED",
          payload: { ...ids, execution_id: null, error, kill_switch: { scope: kill.scope, key: kill.key } },
        },
        now,
      );
    });
    throw new AppError("CONFLICT", error, undefined, "KILL_SWITCH_ACTIVE", { kill_switch: { scope: kill.scope, key: kill.key } });
  }

  // The id is chosen here so REPLAY_REQUESTED (written first, see below) can name the execution it queues.
  const replayId = randomUUID();
  await inTransaction(db, async (tx) => {
    const now = clock.now();
    // REPLAY_REQUESTED first: its ledger append takes the tenant's chain lock, so two concurrent
    // replays of one intent check for each other's queued or running execution one after the other.
    await appendLedger(tx, { ...base, type: "REPLAY_REQUESTED", payload: { ...requested, execution_id: replayId } }, now);
    const pending = (await executionsForIntent(tx, tenantId, intent.id)).find((e) => pendingExecution(e.status));
    if (pending)
      throw new AppError(
        "CONFLICT",
        `Execution ${pending.id} of this intent is still ${pending.status === "QUEUED" ? "queued" : "running"}; replay once it has finished`,
        "id",
        "REPLAY_IN_PROGRESS",
      );
    await insertExecution(
      tx,
      {
        id: replayId,
        tenantId,
        intentId: intent.id,
        // A person (or their API key) asked for this run; the policy's approval was for the original.
        approvalSource: "HUMAN",
        autoExecuted: false,
        replayOf: execution.id,
        replayReason: opts.replayReason,
        requestedBy: opts.requestedBy,
        status: "QUEUED",
      },
      now,
    );
    await enqueue(
      tx,
      { tenantId, kind: REPLAY_EXECUTION, payload: { executionId: replayId, actor }, dedupeKey: replayJobKey(replayId) },
      clock,
    );
  });
  return { executionId: replayId, replayOf: execution.id, status: "QUEUED" };
}

// ─────────────────────────── the replay job ───────────────────────────

/**
 * The durable-queue job that runs a queued replay (payload `{ executionId, actor }`, dedupe key
 * `replay:<execution id>`), queued by `replayExecution` in the transaction that created the
 * execution. Idempotent: only the delivery that moves the execution QUEUED → EXECUTING calls the
 * tool; a repeat finds it moved and reports its status (a crash mid-call is the executions
 * sweeper's, as for any EXECUTING row). Kill switch at the start → the replay ends FAILED with
 * the switch's reason (REPLAY_FAILED, nothing sent); over the connector's concurrency cap it is
 * deferred — re-queued after retry_after without spending an attempt, the execution still QUEUED.
 */
export const REPLAY_EXECUTION = "REPLAY_EXECUTION";

const ACTOR_TYPES = ["USER", "API_KEY", "SYSTEM"] as const;

export async function handleReplayJob(deps: ReplayDeps, payload: unknown, ctx: JobContext) {
  const { db, clock } = deps;
  const p = (payload ?? {}) as { executionId?: unknown; actor?: { type?: unknown; id?: unknown } };
  const actor = p.actor;
  if (
    typeof p.executionId !== "string" ||
    !actor ||
    !(ACTOR_TYPES as readonly unknown[]).includes(actor.type) ||
    typeof actor.id !== "string"
  )
    throw new JobError("REPLAY_EXECUTION needs { executionId, actor: { type, id } }", { permanent: true });
  const tenantId = ctx.job.tenantId;
  const execution = await findExecution(db, tenantId, p.executionId);
  if (!execution?.replayOf) throw new JobError(`no replay execution ${p.executionId} in this tenant`, { permanent: true });
  const replayOf = execution.replayOf;
  if (execution.status !== "QUEUED") return { executionId: execution.id, status: execution.status };
  const intent = await findIntent(db, tenantId, execution.intentId);
  // An execution always has its intent (same transaction); the sweeper ends one whose job gave up.
  if (!intent) throw new JobError(`the intent of replay ${execution.id} is missing`, { permanent: true });

  // The kill switch is read again now: one turned on while the replay waited is a person saying stop.
  const { connector, kill } = await replayRoute(db, intent);
  if (kill) {
    const ended = await endQueuedReplay(deps, execution, intent, actor as Actor, killSwitchRefusal(kill), {
      kill_switch: { scope: kill.scope, key: kill.key },
    });
    return {
      executionId: execution.id,
      status: ended ? "FAILED" : await statusOf(db, tenantId, execution.id),
      reason: "KILL_SWITCH_ACTIVE",
    };
  }
  const permit = await admitExecution(deps, tenantId, connector, intent.actionType);
  if (permit.kind === "DEFER")
    throw new JobError(`CONCURRENCY_LIMIT: the connector has no free slot; retrying in ${permit.retryAfterSeconds} s`, {
      deferred: true,
      retryAfterSeconds: permit.retryAfterSeconds,
    });
  let started: boolean;
  try {
    started = await inTransaction(db, async (tx) => {
      const now = clock.now();
      if (!(await startQueuedExecution(tx, tenantId, execution.id, now))) return false;
      await appendLedger(
        tx,
        {
          tenantId,
          accountId: intent.accountId,
          correlationId: intent.correlationId,
          actor: actor as Actor,
          type: "REPLAY_STARTED",
          payload: { action_intent_id: intent.id, original_execution_id: replayOf, execution_id: execution.id },
        },
        now,
      );
      return true;
    });
  } catch (err) {
    if (permit.kind === "PERMIT") await releasePermit(resilienceDeps(deps), permit);
    throw err;
  }
  if (!started) {
    if (permit.kind === "PERMIT") await releasePermit(resilienceDeps(deps), permit);
    return { executionId: execution.id, status: await statusOf(db, tenantId, execution.id) };
  }
  // REPLAY_COMPLETED / REPLAY_FAILED are written by completeExecution with the execution's end.
  return completeExecution(deps, intent, execution, actor as Actor, { connector, permit });
}

async function statusOf(db: Db, tenantId: string, executionId: string) {
  return (await findExecution(db, tenantId, executionId))?.status ?? "UNKNOWN";
}

/**
 * End a replay that will never start — a kill switch at its start, or (the executions sweeper)
 * its job gave up: QUEUED → FAILED with `error`, and REPLAY_FAILED naming the execution. Nothing
 * was sent, so there is no tool call, outcome or EXECUTION_* entry — as for a replay the request
 * itself refused. Conditional on QUEUED: false when the job started it meanwhile.
 */
export async function endQueuedReplay(
  deps: { db: Db; clock: Clock },
  execution: { id: string; tenantId: string; intentId: string; replayOf: string | null },
  intent: { accountId: string; correlationId: string } | null,
  actor: Actor,
  error: string,
  extra: Record<string, unknown>,
): Promise<boolean> {
  const { tenantId } = execution;
  return inTransaction(deps.db, async (tx) => {
    const now = deps.clock.now();
    if (!(await failQueuedExecution(tx, tenantId, execution.id, error, now))) return false;
    await appendLedger(
      tx,
      {
        tenantId,
        accountId: intent?.accountId ?? null,
        correlationId: intent?.correlationId ?? execution.id,
        actor,
        type: "REPLAY_FAILED",
        payload: {
          action_intent_id: execution.intentId,
          original_execution_id: execution.replayOf ?? execution.id,
          execution_id: execution.id,
          error,
          ...extra,
        },
      },
      now,
    );
    return true;
  });
}

// ─────────────────────────── failed executions and bulk replay ───────────────────────────

async function failedViews(db: Db, tenantId: string, rows: ExecutionRow[]): Promise<FailedExecutionView[]> {
  if (rows.length === 0) return [];
  const intentIds = rows.map((r) => r.intentId);
  const [intents, calls, siblings] = await Promise.all([
    intentsByIds(db, tenantId, intentIds),
    toolCallsForExecutions(
      db,
      tenantId,
      rows.map((r) => r.id),
    ),
    executionsForIntents(db, tenantId, intentIds),
  ]);
  const intentOf = new Map(intents.map((i) => [i.id, i]));
  const names = await accountNames(
    db,
    tenantId,
    intents.map((i) => i.accountId),
  );
  return rows.map((r) => {
    const intent = intentOf.get(r.intentId);
    const later = siblings.filter((s) => s.intentId === r.intentId && s.id !== r.id && s.startedAt >= r.startedAt).at(-1);
    return {
      executionId: r.id,
      actionIntentId: r.intentId,
      actionType: intent?.actionType ?? "UNKNOWN",
      accountId: intent?.accountId ?? "",
      accountName: intent ? (names.get(intent.accountId) ?? null) : null,
      connector: calls.filter((c) => c.executionId === r.id).at(-1)?.connector ?? null,
      error: r.error,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      replayOf: r.replayOf,
      laterExecution: later ? { executionId: later.id, status: later.status } : null,
    };
  });
}

/** The tenant's FAILED executions, newest failure first; optional from ≤ finishedAt < to. */
export async function listFailed(
  db: Db,
  viewer: Viewer,
  input: { from?: Date; to?: Date; limit: number; cursor?: string },
): Promise<Page<FailedExecutionView>> {
  checkRange(input.from, input.to);
  const page = await listFailedExecutions(db, viewer.tenantId, input, input);
  return { items: await failedViews(db, viewer.tenantId, page.items), nextCursor: page.nextCursor };
}

function checkRange(from: Date | undefined, to: Date | undefined) {
  if (from && to && to <= from) throw new AppError("UNPROCESSABLE", "to must be after from", "to");
}

const SCAN_PAGE = 200;

/**
 * What a bulk replay of [from, to) takes: per intent its latest execution when that one FAILED
 * (engine `latestFailedPerIntent`), newest first, at most `cap` of them.
 */
async function bulkCandidates(db: Db, tenantId: string, from: Date, to: Date, cap: number) {
  const picked: ExecutionRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await listFailedExecutions(db, tenantId, { from, to }, { limit: SCAN_PAGE, cursor });
    const siblings = await executionsForIntents(
      db,
      tenantId,
      page.items.map((e) => e.intentId),
    );
    picked.push(...latestFailedPerIntent(page.items, siblings));
    cursor = page.nextCursor ?? undefined;
  } while (cursor && picked.length <= cap);
  return { rows: picked.slice(0, cap), truncated: picked.length > cap };
}

export async function bulkReplayPreview(
  db: Db,
  viewer: Viewer,
  input: { from: Date; to: Date },
  cap = BULK_REPLAY_CAP,
): Promise<BulkReplayPreview> {
  checkRange(input.from, input.to);
  const { rows, truncated } = await bulkCandidates(db, viewer.tenantId, input.from, input.to, cap);
  const views = await failedViews(db, viewer.tenantId, rows);
  const items = [];
  for (const [i, v] of views.entries()) {
    const row = rows[i] as ExecutionRow;
    const intent = await findIntent(db, viewer.tenantId, row.intentId);
    items.push({ ...v, sideEffects: intent ? await sideEffectsOf(db, intent, row, (await replayRoute(db, intent)).connector) : [] });
  }
  return { items, cap, truncated };
}

/**
 * Queues a replay of each one (its own transaction and job, as a single replay), at most `cap`; a
 * refusal (kill switch, one already queued or running) is reported, not thrown. Nothing is sent
 * in the request: the queue runs them.
 */
export async function bulkReplay(
  deps: ReplayDeps,
  viewer: Viewer,
  input: { from: Date; to: Date; replayReason: string; requestedBy: string },
  cap = BULK_REPLAY_CAP,
): Promise<BulkReplayResult> {
  checkRange(input.from, input.to);
  const { rows, truncated } = await bulkCandidates(deps.db, viewer.tenantId, input.from, input.to, cap);
  const items: BulkReplayResult["items"] = [];
  for (const row of rows) {
    try {
      const r = await replayExecution(deps, viewer, row.id, { replayReason: input.replayReason, requestedBy: input.requestedBy });
      items.push({ replayOf: r.replayOf, executionId: r.executionId, status: r.status, error: null });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      items.push({ replayOf: row.id, executionId: null, status: "REFUSED", error: err.message });
    }
  }
  return { items, cap, truncated };
}
