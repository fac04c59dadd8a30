import type { DbOrTx, Tx } from "../db";
import { decodeCursor, encodeCursor } from "./cursor";
import { newRowId } from "./ids";
import { insertRows } from "./rows";
import { tenantWhere } from "./scope";

/**
 * Create the execution row. The unique `nonReplayKey` (= intentId for non-replays) makes a
 * second original execution of one intent impossible at the database level, whatever the race.
 */
export function insertExecution(
  tx: Tx,
  data: {
    /** chosen by the caller when an entry written before the row must name it (a replay's REPLAY_REQUESTED) */
    id?: string;
    tenantId: string;
    intentId: string;
    approvalSource: "HUMAN" | "POLICY";
    autoExecuted: boolean;
    replayOf?: string | null;
    replayReason?: string | null;
    requestedBy?: string | null;
    /**
     * created already terminal when the work ran inside the same transaction; QUEUED when a job
     * will start it (a replay), EXECUTING (the default) when the caller goes on to make the call
     */
    status?: "QUEUED" | "EXECUTING" | "SUCCEEDED";
    finishedAt?: Date;
  },
  now: Date,
) {
  return tx.execution.create({
    data: { ...data, nonReplayKey: data.replayOf ? null : data.intentId, status: data.status ?? "EXECUTING", startedAt: now },
  });
}

/** Terminal states are immutable: only an EXECUTING row can be finished. */
export async function finishExecution(
  tx: Tx,
  tenantId: string,
  id: string,
  data: { status: "SUCCEEDED" | "FAILED"; outcome?: string; error?: string },
  now: Date,
) {
  const res = await tx.execution.updateMany({
    where: tenantWhere(tenantId, { id, status: "EXECUTING" }),
    data: { ...data, finishedAt: now },
  });
  return res.count === 1;
}

/**
 * A queued execution's job starts it: QUEUED → EXECUTING, conditional so of any number of
 * deliveries of the job exactly one starts it. `startedAt` becomes the real start, so the implicit
 * lease (startedAt + EXECUTION_LEASE_MS) counts from here however long it waited in the queue.
 */
export async function startQueuedExecution(tx: Tx, tenantId: string, id: string, now: Date) {
  const res = await tx.execution.updateMany({
    where: tenantWhere(tenantId, { id, status: "QUEUED" }),
    data: { status: "EXECUTING", startedAt: now, leaseExpiresAt: null },
  });
  return res.count === 1;
}

/** A queued execution that will never start (kill switch, its job failed) ends FAILED; only a QUEUED row moves. */
export async function failQueuedExecution(tx: Tx, tenantId: string, id: string, error: string, now: Date) {
  const res = await tx.execution.updateMany({
    where: tenantWhere(tenantId, { id, status: "QUEUED" }),
    data: { status: "FAILED", error, finishedAt: now },
  });
  return res.count === 1;
}

/** QUEUED executions across tenants, oldest first (the executions sweeper looks for ones whose job is gone). */
export function queuedExecutions(db: DbOrTx, limit: number) {
  return db.execution.findMany({
    where: { status: "QUEUED" },
    orderBy: [{ startedAt: "asc" }, { id: "asc" }],
    take: limit,
  });
}

export function findExecution(db: DbOrTx, tenantId: string, id: string) {
  return db.execution.findFirst({ where: tenantWhere(tenantId, { id }) });
}

/** The intent's one non-replay execution, if it started. */
export function originalExecution(db: DbOrTx, tenantId: string, intentId: string) {
  return db.execution.findFirst({ where: tenantWhere(tenantId, { intentId, replayOf: null }) });
}

export function accountName(db: DbOrTx, tenantId: string, accountId: string) {
  return db.account.findFirst({ where: tenantWhere(tenantId, { id: accountId }), select: { name: true } });
}

export function executionsForIntent(db: DbOrTx, tenantId: string, intentId: string) {
  return db.execution.findMany({ where: tenantWhere(tenantId, { intentId }), orderBy: { startedAt: "desc" } });
}

export function insertToolCall(
  tx: Tx,
  data: {
    tenantId: string;
    executionId: string;
    connector: string;
    operation: string;
    idempotencyKey: string;
    request: string;
    status?: "STARTED" | "SUCCEEDED";
    response?: string;
    finishedAt?: Date;
  },
  now: Date,
) {
  return tx.toolCall.create({ data: { ...data, status: data.status ?? "STARTED", startedAt: now } });
}

/**
 * Executions the gate ran inside its own transaction (autonomous internal actions): each with its
 * tool call, artifact and outcome, already terminal. Multi-row inserts, one per table, for a whole
 * group of admissions; ids are the caller's because the ledger entries name them.
 */
export async function insertCompletedExecutions(
  tx: Tx,
  rows: {
    execution: { id: string; tenantId: string; intentId: string; approvalSource: "POLICY"; autoExecuted: true };
    toolCall: { id: string; connector: string; operation: string; idempotencyKey: string; request: string; response: string };
    artifact: { accountId: string; kind: string; title: string; body: string };
    outcome: { label: string; details: string };
  }[],
  now: Date,
) {
  await insertRows(
    tx,
    "Execution",
    ["id", "tenantId", "intentId", "nonReplayKey", "approvalSource", "autoExecuted", "status", "startedAt", "finishedAt", "attempts"],
    rows.map(({ execution: e }) => [e.id, e.tenantId, e.intentId, e.intentId, e.approvalSource, e.autoExecuted, "SUCCEEDED", now, now, 1]),
  );
  await insertRows(
    tx,
    "ToolCall",
    [
      "id",
      "tenantId",
      "executionId",
      "connector",
      "operation",
      "idempotencyKey",
      "request",
      "response",
      "status",
      "startedAt",
      "finishedAt",
    ],
    rows.map(({ execution: e, toolCall: c }) => [
      c.id,
      e.tenantId,
      e.id,
      c.connector,
      c.operation,
      c.idempotencyKey,
      c.request,
      c.response,
      "SUCCEEDED",
      now,
      now,
    ]),
  );
  await insertRows(
    tx,
    "InternalArtifact",
    ["id", "tenantId", "accountId", "executionId", "kind", "title", "body", "createdAt"],
    rows.map(({ execution: e, artifact: a }) => [newRowId(), e.tenantId, a.accountId, e.id, a.kind, a.title, a.body, now]),
  );
  await insertRows(
    tx,
    "Outcome",
    ["id", "tenantId", "intentId", "executionId", "label", "details", "createdAt"],
    rows.map(({ execution: e, outcome: o }) => [newRowId(), e.tenantId, e.intentId, e.id, o.label, o.details, now]),
  );
}

export function finishToolCall(tx: Tx, id: string, data: { status: "SUCCEEDED" | "FAILED"; response?: string; error?: string }, now: Date) {
  return tx.toolCall.update({ where: { id }, data: { ...data, finishedAt: now } });
}

export function toolCallsFor(db: DbOrTx, tenantId: string, executionId: string) {
  return db.toolCall.findMany({ where: tenantWhere(tenantId, { executionId }), orderBy: { startedAt: "asc" } });
}

export function insertArtifact(
  tx: Tx,
  data: { tenantId: string; accountId: string; executionId: string; kind: string; title: string; body: string },
  now: Date,
) {
  return tx.internalArtifact.create({ data: { ...data, createdAt: now } });
}

export function artifactsForAccount(db: DbOrTx, tenantId: string, accountId: string, limit = 50) {
  return db.internalArtifact.findMany({
    where: tenantWhere(tenantId, { accountId }),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

export function insertOutcome(
  tx: Tx,
  data: { tenantId: string; intentId: string; executionId: string | null; label: string; details: string },
  now: Date,
) {
  return tx.outcome.create({ data: { ...data, createdAt: now } });
}

export function outcomesFor(db: DbOrTx, tenantId: string, intentId: string) {
  return db.outcome.findMany({ where: tenantWhere(tenantId, { intentId }), orderBy: { createdAt: "asc" } });
}

export function connectorConfig(db: DbOrTx, tenantId: string, kind: string) {
  return db.connectorConfig.findUnique({ where: { tenantId_kind: { tenantId, kind } } });
}

// ---- Execution leases: the executions sweeper (server/services/sweeper.ts) ----

/**
 * EXECUTING rows, across tenants, whose lease may have expired: the oldest first. Rows without a
 * stored lease are returned once their implicit one (startedAt + leaseMs) is over; the caller
 * re-checks the exact lease with the engine's `leaseExpired`.
 */
export function stuckExecutions(db: DbOrTx, now: Date, leaseMs: number, limit: number) {
  return db.execution.findMany({
    where: {
      status: "EXECUTING",
      OR: [{ leaseExpiresAt: { lte: now } }, { leaseExpiresAt: null, startedAt: { lte: new Date(now.getTime() - leaseMs) } }],
    },
    orderBy: [{ startedAt: "asc" }, { id: "asc" }],
    take: limit,
  });
}

/**
 * A sweeper's claim on an expired execution, for a retry: a conditional update on the attempt
 * count it read, so of any number of concurrent sweepers exactly one wins each attempt.
 */
export async function claimExecutionRetry(tx: Tx, tenantId: string, id: string, seenAttempts: number, leaseExpiresAt: Date) {
  const res = await tx.execution.updateMany({
    where: tenantWhere(tenantId, { id, status: "EXECUTING", attempts: seenAttempts }),
    data: { attempts: seenAttempts + 1, leaseExpiresAt },
  });
  return res.count === 1;
}

/** The same claim, ending the execution FAILED instead (a retry is not safe or not allowed). */
export async function failExpiredExecution(tx: Tx, tenantId: string, id: string, seenAttempts: number, error: string, now: Date) {
  const res = await tx.execution.updateMany({
    where: tenantWhere(tenantId, { id, status: "EXECUTING", attempts: seenAttempts }),
    data: { status: "FAILED", error, finishedAt: now, leaseExpiresAt: null },
  });
  return res.count === 1;
}

/** The tool call a retry re-sends: same row, same idempotency key. */
export function toolCallByKey(db: DbOrTx, tenantId: string, idempotencyKey: string) {
  return db.toolCall.findFirst({ where: tenantWhere(tenantId, { idempotencyKey }) });
}

/** Close the tool calls a dead process left STARTED. */
export function failStartedToolCalls(tx: Tx, tenantId: string, executionId: string, error: string, now: Date) {
  return tx.toolCall.updateMany({
    where: tenantWhere(tenantId, { executionId, status: "STARTED" }),
    data: { status: "FAILED", error, finishedAt: now },
  });
}

/**
 * A call on `connector` that already SUCCEEDED for any execution of the intent — every one of
 * them sent the tool the original's key, so this is "the key already succeeded" for a replay.
 */
export async function succeededToolCall(db: DbOrTx, tenantId: string, intentId: string, connector: string) {
  const executions = await db.execution.findMany({ where: tenantWhere(tenantId, { intentId }), select: { id: true } });
  return db.toolCall.findFirst({
    where: tenantWhere(tenantId, { executionId: { in: executions.map((e) => e.id) }, connector, status: "SUCCEEDED" }),
    orderBy: { startedAt: "asc" },
  });
}

// ---- Replay (server/services/replay.ts) ----

/** Every tool call of these executions (one query, tenant-scoped). */
export function toolCallsForExecutions(db: DbOrTx, tenantId: string, executionIds: string[]) {
  return db.toolCall.findMany({
    where: tenantWhere(tenantId, { executionId: { in: [...new Set(executionIds)] } }),
    orderBy: [{ startedAt: "asc" }, { id: "asc" }],
  });
}

/** Every execution of these intents, original and replays (one query, tenant-scoped). */
export function executionsForIntents(db: DbOrTx, tenantId: string, intentIds: string[]) {
  return db.execution.findMany({
    where: tenantWhere(tenantId, { intentId: { in: [...new Set(intentIds)] } }),
    orderBy: [{ startedAt: "asc" }, { id: "asc" }],
  });
}

/** The intents of a page of executions: action type, account, correlation id (one query, tenant-scoped). */
export function intentsByIds(db: DbOrTx, tenantId: string, ids: string[]) {
  return db.actionIntent.findMany({ where: tenantWhere(tenantId, { id: { in: [...new Set(ids)] } }) });
}

/**
 * FAILED executions newest first (by when they failed, then id), optionally with
 * from ≤ finishedAt < to; keyset cursor on (finishedAt, id).
 */
export async function listFailedExecutions(
  db: DbOrTx,
  tenantId: string,
  range: { from?: Date; to?: Date },
  page: { limit: number; cursor?: string },
) {
  const after = page.cursor ? decodeCursor(page.cursor, { t: "epochMs", i: "id" }) : undefined;
  const finishedAt = { not: null, ...(range.from ? { gte: range.from } : {}), ...(range.to ? { lt: range.to } : {}) };
  const rows = await db.execution.findMany({
    where: tenantWhere(tenantId, {
      status: "FAILED",
      finishedAt,
      ...(after ? { OR: [{ finishedAt: { lt: new Date(after.t) } }, { finishedAt: new Date(after.t), id: { lt: after.i } }] } : {}),
    }),
    orderBy: [{ finishedAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > page.limit && last?.finishedAt ? encodeCursor({ t: last.finishedAt.getTime(), i: last.id }) : null,
  };
}
