import type { Clock } from "../clock";
import type { Db } from "../db";
import { activeKillSwitch } from "../engine/autonomy";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import { decideRecovery, EXECUTION_LEASE_MS, LEASE_EXPIRED, leaseEnd, leaseExpired, recoveryError } from "../engine/recovery";
import { queuedReplayFate, replayEndEntry, replayJobKey } from "../engine/replay";
import { allTenantIds, enabledKillSwitches } from "../repos/autonomy";
import { pruneCallSamples } from "../repos/breaker";
import {
  claimExecutionRetry,
  failExpiredExecution,
  failStartedToolCalls,
  insertOutcome,
  queuedExecutions,
  stuckExecutions,
} from "../repos/executions";
import { findIntent, stalledApprovals, transitionIntent } from "../repos/intents";
import { jobsByDedupeKeys } from "../repos/jobs";
import { appendLedger } from "../repos/ledger";
import { inTransaction } from "../repos/tx";
import { CONNECTOR_NAMES } from "../schemas/connectors";
import { resolveConnector } from "./crmWrites";
import { type ConnectorDeps, completeExecution, EXECUTE_APPROVED } from "./executor";
import { enqueue } from "./jobQueue";
import { endQueuedReplay } from "./replay";

const SWEEPER: Actor = { type: "SYSTEM", id: "executions-sweep" };
/** How long connector call samples are kept: the metrics read 24 hours, the page's charts 48. */
export const SAMPLE_RETENTION_MS = 48 * 3_600_000;

export interface SweepDeps {
  db: Db;
  clock: Clock;
  connectors: ConnectorDeps;
}

export interface SweepResult {
  ok: boolean;
  /** expired executions looked at */
  expired: number;
  /** retried by this sweeper (with the same tool idempotency key), and how each retry ended */
  retried: { executionId: string; status: string }[];
  /** ended FAILED / LEASE_EXPIRED by this sweeper */
  failed: string[];
  /** claimed by another sweeper (or finished by their own process) between our read and our claim */
  lost: number;
  /** approved intents found without their EXECUTE_APPROVED job, queued again (their ids) */
  queued: string[];
  /** QUEUED replay executions whose job ended without starting them, ended FAILED (their ids) */
  strandedReplays: string[];
  /** connector call samples past SAMPLE_RETENTION_MS deleted */
  prunedSamples: number;
}

/**
 * Recover executions left EXECUTING by a process that died during the connector call.
 *
 * For each execution past its lease, the engine decides (`decideRecovery`): retry the call with
 * the SAME tool idempotency key `<execution>:<connector>` — the receiver dedupes, so a call that did
 * arrive before the crash is not acted on twice — or end it FAILED with reason LEASE_EXPIRED.
 * Either way the claim is a conditional update on the attempt count this sweeper read, so any
 * number of concurrent sweepers recover each execution once; the winner ledgers what it did in the
 * same transaction.
 */
export async function sweepExecutions(deps: SweepDeps, opts: { limit?: number } = {}): Promise<SweepResult> {
  const { db, clock } = deps;
  const now = clock.now();
  // A retry may wait out a connector's 10 s timeout, so a tick takes few enough to fit in one cron
  // invocation; the rest are the next minute's.
  const rows = (await stuckExecutions(db, now, EXECUTION_LEASE_MS, opts.limit ?? 10)).filter((e) => leaseExpired(e, now));
  const out: SweepResult = {
    ok: true,
    expired: rows.length,
    retried: [],
    failed: [],
    lost: 0,
    queued: [],
    strandedReplays: [],
    prunedSamples: 0,
  };

  for (const execution of rows) {
    try {
      await recoverOne(deps, execution, out);
    } catch (err) {
      // One bad row must not stop the others; it stays EXECUTING and the next tick tries again.
      out.ok = false;
      console.error(`executions-sweep: execution ${execution.id} not recovered (${err instanceof Error ? err.name : "error"})`);
    }
  }
  await requeueStalledApprovals(deps, out, opts.limit ?? 10);
  await endStrandedReplays(deps, out, opts.limit ?? 10);
  out.prunedSamples = await pruneCallSamples(db, CONNECTOR_NAMES, new Date(now.getTime() - SAMPLE_RETENTION_MS));
  return out;
}

/**
 * An approval is committed together with its EXECUTE_APPROVED job (services/reviews.ts), so an
 * intent still APPROVED past the execution lease has lost its job — approved before approvals
 * were queued, or its job was removed. Queue it again under the same dedupe key: a job that does
 * exist (waiting out backpressure, say) makes this a no-op, so any number of sweepers queue it
 * once, and the queue's worker runs it with backpressure and retries like any other.
 */
async function requeueStalledApprovals(deps: SweepDeps, out: SweepResult, limit: number) {
  const before = new Date(deps.clock.now().getTime() - EXECUTION_LEASE_MS);
  for (const tenantId of await allTenantIds(deps.db)) {
    for (const intent of await stalledApprovals(deps.db, tenantId, before, limit)) {
      const { created } = await enqueue(
        deps.db,
        { tenantId, kind: EXECUTE_APPROVED, payload: { intentId: intent.id, actor: SWEEPER }, dedupeKey: `execute:${intent.id}` },
        deps.clock,
      );
      if (created) out.queued.push(intent.id);
    }
  }
}

/** How many QUEUED executions one sweep looks at: replays waiting out backpressure are QUEUED too. */
const QUEUED_SCAN = 1000;

/**
 * A replay's execution is created QUEUED together with its job (services/replay.ts), and only that
 * job starts it. A job that ended without starting it — FAILED after its last attempt (a worker
 * killed on every attempt, an error that kept coming back) — would leave the replay QUEUED for
 * ever and block every later replay of the intent (REPLAY_IN_PROGRESS). The engine decides from
 * the job (`queuedReplayFate`); the end is conditional on QUEUED, so a job that starts the
 * execution meanwhile wins and concurrent sweepers end it once.
 */
async function endStrandedReplays(deps: SweepDeps, out: SweepResult, limit: number) {
  const queued = await queuedExecutions(deps.db, QUEUED_SCAN);
  const byTenant = new Map<string, typeof queued>();
  for (const e of queued) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
  for (const [tenantId, rows] of byTenant) {
    if (out.strandedReplays.length >= limit) return;
    const jobs = await jobsByDedupeKeys(
      deps.db,
      tenantId,
      rows.map((r) => replayJobKey(r.id)),
    );
    const jobOf = new Map(jobs.map((j) => [j.dedupeKey, j]));
    for (const execution of rows) {
      const fate = queuedReplayFate(jobOf.get(replayJobKey(execution.id)) ?? null);
      if (fate.kind === "WAIT") continue;
      const intent = await findIntent(deps.db, tenantId, execution.intentId);
      if (await endQueuedReplay(deps, execution, intent, SWEEPER, fate.error, { reason: "REPLAY_JOB_FAILED" }))
        out.strandedReplays.push(execution.id);
      if (out.strandedReplays.length >= limit) return;
    }
  }
}

type StuckExecution = Awaited<ReturnType<typeof stuckExecutions>>[number];

async function recoverOne(deps: SweepDeps, execution: StuckExecution, out: SweepResult) {
  const { db, clock } = deps;
  const { tenantId } = execution;
  const intent = await findIntent(db, tenantId, execution.intentId);
  // An execution always has its intent (same transaction); without one there is nothing to call.
  const connector = intent ? await resolveConnector(db, tenantId, intent.actionType) : "internal";
  const kill = intent ? activeKillSwitch(await enabledKillSwitches(db, tenantId), intent.actionType, connector) : null;
  const recovery = intent
    ? decideRecovery({ connector, attempts: execution.attempts, killSwitchActive: kill !== null })
    : ({ kind: "FAIL", reason: LEASE_EXPIRED, refusal: "NOT_RETRY_SAFE" } as const);
  const base = { tenantId, accountId: intent?.accountId ?? null, correlationId: intent?.correlationId ?? execution.id, actor: SWEEPER };
  const common = {
    execution_id: execution.id,
    action_intent_id: execution.intentId,
    connector,
    reason: LEASE_EXPIRED,
    lease_expired_at: leaseEnd(execution).toISOString(),
    attempts: execution.attempts,
  };

  if (recovery.kind === "RETRY" && intent) {
    const claimed = await inTransaction(db, async (tx) => {
      const at = clock.now();
      const lease = new Date(at.getTime() + EXECUTION_LEASE_MS);
      if (!(await claimExecutionRetry(tx, tenantId, execution.id, execution.attempts, lease))) return false;
      await appendLedger(
        tx,
        {
          ...base,
          type: "EXECUTION_STARTED",
          payload: {
            ...common,
            action_type: intent.actionType,
            approval_source: execution.approvalSource,
            auto_executed: execution.autoExecuted,
            attempt: recovery.attempt,
            retry: true,
            idempotency_key: `${execution.id}:${connector}`,
          },
        },
        at,
      );
      return true;
    });
    if (!claimed) {
      out.lost++;
      return;
    }
    const done = await completeExecution(deps, intent, execution, SWEEPER);
    out.retried.push({ executionId: execution.id, status: done.status });
    return;
  }

  const refusal = recovery.kind === "FAIL" ? recovery.refusal : "NOT_RETRY_SAFE";
  const error = recoveryError(refusal, execution.attempts);
  const failed = await inTransaction(db, async (tx) => {
    const at = clock.now();
    if (!(await failExpiredExecution(tx, tenantId, execution.id, execution.attempts, error, at))) return false;
    await failStartedToolCalls(tx, tenantId, execution.id, error, at);
    if (!execution.replayOf) await transitionIntent(tx, tenantId, execution.intentId, "EXECUTING", { status: "FAILED" }, at);
    await insertOutcome(
      tx,
      {
        tenantId,
        intentId: execution.intentId,
        executionId: execution.id,
        label: "EXECUTION_FAILED",
        details: canonicalJson({ error, reason: LEASE_EXPIRED, refusal }),
      },
      at,
    );
    await appendLedger(
      tx,
      {
        ...base,
        type: "EXECUTION_FAILED",
        payload: {
          ...common,
          auto_executed: execution.autoExecuted,
          error,
          retryable: false,
          refusal,
          ...(kill ? { kill_switch: { scope: kill.scope, key: kill.key } } : {}),
        },
      },
      at,
    );
    await appendLedger(
      tx,
      {
        ...base,
        type: "OUTCOME_RECORDED",
        payload: { action_intent_id: execution.intentId, execution_id: execution.id, label: "EXECUTION_FAILED", reason: LEASE_EXPIRED },
      },
      at,
    );
    if (execution.replayOf) {
      const ids = { actionIntentId: execution.intentId, originalExecutionId: execution.replayOf, executionId: execution.id };
      await appendLedger(tx, { ...base, ...replayEndEntry(ids, { ok: false, error }) }, at);
    }
    return true;
  });
  if (failed) out.failed.push(execution.id);
  else out.lost++;
}
