import type { DbOrTx, Tx } from "../db";
import { tenantWhere } from "./scope";

/**
 * Create the execution row. The unique `nonReplayKey` (= intentId for non-replays) makes a
 * second original execution of one intent impossible at the database level, whatever the race.
 */
export function insertExecution(
  tx: Tx,
  data: {
    tenantId: string;
    intentId: string;
    approvalSource: "HUMAN" | "POLICY";
    autoExecuted: boolean;
    replayOf?: string | null;
    replayReason?: string | null;
    requestedBy?: string | null;
    /** created already terminal when the work ran inside the same transaction */
    status?: "EXECUTING" | "SUCCEEDED";
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
