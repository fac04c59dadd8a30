import type { Clock } from "../../clock";
import type { Db } from "../../db";
import { canonicalJson } from "../../engine/canonical";
import type { FeatureSnapshot } from "../../engine/learning";
import type { Actor } from "../../engine/ledger";
import type { PolicyResult } from "../../engine/policy";
import type { appendLedgerBatch } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import type { ConnectorDeps } from "../executor";

/** What the gate needs from its caller: the database, the clock and the outbound connectors. */
export interface GateDeps {
  db: Db;
  clock: Clock;
  connectors: ConnectorDeps;
}

export interface IntentInput {
  accountId: string;
  actionType: string;
  confidence: number;
  riskLevel: string;
  why: string[];
  parameters: Record<string, unknown>;
  target: Record<string, unknown>;
  blockingUnknowns: string[];
  rankScore?: number;
  idempotencyKey?: string;
  correlationId?: string;
  source: "API" | "DECISION";
  /** what led to it, for the learning loop's snapshot (decision runs): never a policy input */
  signalTypes?: string[];
  trigger?: string;
}

export interface GateView {
  actionIntentId: string;
  status: string;
  decision: string | null;
  reason: string | null;
  explanation: string | null;
  policyVersion: string | null;
  policyClause: string | null;
  executionId: string | null;
}

export type LedgerDraft = Parameters<typeof appendLedgerBatch>[2][number];

export const GATE: Actor = { type: "SYSTEM", id: "gate" };
export const AUTOPILOT: Actor = { type: "SYSTEM", id: "autopilot" };

export const STATUS_FOR = { AUTO_EXECUTE: "AUTO_APPROVED", REQUIRE_APPROVAL: "PENDING_APPROVAL", BLOCK: "BLOCKED" } as const;

/** The decided state written onto an intent, whichever path decided it. */
export function decisionFields(result: PolicyResult, now: Date) {
  return {
    decision: result.decision,
    reason: result.reason,
    explanation: result.explanation,
    policyVersion: result.policyVersion,
    policyClause: result.policyClause,
    decidedAt: now,
  };
}

/**
 * What the learning loop will see of this proposal as it was made (engine/learning.ts). Taken at
 * intake because tier, posture and owner move on; the policy never reads it.
 */
export function featureSnapshot(
  input: IntentInput,
  account: { lifecycle: string; posture: string; ownerId: string | null },
  tier: string | null,
): FeatureSnapshot {
  return {
    v: 1,
    tier,
    posture: account.posture,
    lifecycle: account.lifecycle,
    owner_id: account.ownerId,
    signal_types: [...new Set(input.signalTypes ?? [])].sort(),
    trigger: input.trigger ?? (input.source === "API" ? "API" : null),
  };
}

/** The stored form of an intake: JSON fields as canonical text, the proposer as creator. */
export function intentRow(viewer: Viewer, input: IntentInput, correlationId: string) {
  return {
    tenantId: viewer.tenantId,
    accountId: input.accountId,
    correlationId,
    actionType: input.actionType,
    target: canonicalJson(input.target),
    parameters: canonicalJson(input.parameters),
    why: canonicalJson(input.why),
    confidence: input.confidence,
    riskLevel: input.riskLevel,
    blockingUnknowns: canonicalJson(input.blockingUnknowns),
    rankScore: input.rankScore ?? input.confidence,
    source: input.source,
    createdBy: viewer.actor.id,
  };
}

/**
 * Stored configuration the gate could not read (e.g. an unparseable cap map). Thrown while
 * evaluating; the intake then fails closed with this explanation instead of a generic one.
 */
export class GateConfigError extends Error {
  override name = "GateConfigError";
  constructor(readonly explanation: string) {
    super(explanation);
  }
}
