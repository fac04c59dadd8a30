import { randomUUID } from "node:crypto";
import type { Clock } from "../../clock";
import type { Db } from "../../db";
import type { TriggerType } from "../../engine/triggers";
import { isUniqueViolation } from "../../errors";
import { findRunByKey, insertRun } from "../../repos/decisions";
import { appendLedger } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import { inTransaction } from "../../repos/tx";
import { requireTenantAccount } from "../guards";
import { enqueue } from "../jobQueue";
import { RUN_DECISION } from "./shared";

export type RunRequestResult = { runId: string; result: "QUEUED" | "SKIP"; reason?: "DUPLICATE_IDEMPOTENCY_KEY" };

/**
 * Reserve a run and queue its job in one transaction. A second request with the same key is
 * SKIP / DUPLICATE_IDEMPOTENCY_KEY — even if the first run failed: at most once per key. A
 * requested run has no trigger window and no signals of its own: it starts its own story.
 */
export async function requestRun(
  db: Db,
  viewer: Viewer,
  input: { accountId: string; triggerType: TriggerType; idempotencyKey: string; correlationId?: string },
  clock: Clock,
): Promise<RunRequestResult> {
  await requireTenantAccount(db, viewer.tenantId, input.accountId);
  const existing = await findRunByKey(db, viewer.tenantId, input.idempotencyKey);
  if (existing) return skipDuplicate(db, viewer, existing, clock);
  try {
    return await inTransaction(db, async (tx) => {
      const now = clock.now();
      const run = await insertRun(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          triggerType: input.triggerType,
          idempotencyKey: input.idempotencyKey,
          correlationId: input.correlationId ?? randomUUID(),
          signalIds: [],
        },
        now,
      );
      await appendLedger(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          correlationId: run.correlationId,
          type: "TRIGGER_FIRED",
          actor: viewer.actor,
          payload: {
            trigger_type: input.triggerType,
            run_id: run.id,
            idempotency_key: input.idempotencyKey,
            source: viewer.actor.type === "API_KEY" ? "api" : "system",
            signal_ids: [],
          },
        },
        now,
      );
      await enqueue(tx, { tenantId: viewer.tenantId, kind: RUN_DECISION, payload: { runId: run.id }, dedupeKey: `run:${run.id}` }, clock);
      return { runId: run.id, result: "QUEUED" as const };
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const winner = await findRunByKey(db, viewer.tenantId, input.idempotencyKey);
    if (!winner) throw err;
    return skipDuplicate(db, viewer, winner, clock);
  }
}

async function skipDuplicate(
  db: Db,
  viewer: Viewer,
  run: { id: string; accountId: string; correlationId: string; idempotencyKey: string },
  clock: Clock,
): Promise<RunRequestResult> {
  await inTransaction(db, (tx) =>
    appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        accountId: run.accountId,
        correlationId: run.correlationId,
        type: "DECISION_RUN_SKIPPED",
        actor: viewer.actor,
        payload: { run_id: run.id, reason: "DUPLICATE_IDEMPOTENCY_KEY", idempotency_key: run.idempotencyKey },
      },
      clock.now(),
    ),
  );
  return { runId: run.id, result: "SKIP", reason: "DUPLICATE_IDEMPOTENCY_KEY" };
}
