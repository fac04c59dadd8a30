import type { Db } from "../../db";
import { notFound } from "../../errors";
import { originalExecution } from "../../repos/executions";
import { findIntent } from "../../repos/intents";
import type { GateView } from "./types";

export async function intentView(db: Db, tenantId: string, intentId: string): Promise<GateView> {
  const intent = await findIntent(db, tenantId, intentId);
  if (!intent) throw notFound("Intent");
  const execution = await originalExecution(db, tenantId, intentId);
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
