import type { DbOrTx, Tx } from "../db";
import { decodeCursor, encodeCursor } from "./cursor";
import { newRowId } from "./ids";
import { insertRows } from "./rows";
import { tenantWhere } from "./scope";

export interface NewIntent {
  tenantId: string;
  accountId: string;
  correlationId: string;
  actionType: string;
  target: string;
  parameters: string;
  why: string;
  confidence: number;
  riskLevel: string;
  blockingUnknowns: string;
  rankScore: number;
  source: string;
  idempotencyKey: string | null;
  requestHash?: string | null;
  createdBy: string | null;
  /** the learning loop's snapshot (engine/learning.ts FeatureSnapshot), canonical JSON */
  features?: string | null;
  version?: number;
  parentId?: string | null;
  status?: string;
  decision?: string;
  reason?: string;
  explanation?: string;
  policyVersion?: string;
  policyClause?: string;
  decidedAt?: Date;
}

export function insertIntent(tx: Tx, data: NewIntent, now: Date) {
  return tx.actionIntent.create({ data: { ...data, status: data.status ?? "PROPOSED", createdAt: now, updatedAt: now } });
}

export function findIntent(db: DbOrTx, tenantId: string, id: string) {
  return db.actionIntent.findFirst({ where: tenantWhere(tenantId, { id }) });
}

/** The new version an edit-then-approve made of this intent. */
export function findSuccessor(db: DbOrTx, tenantId: string, parentId: string) {
  return db.actionIntent.findFirst({ where: tenantWhere(tenantId, { parentId }) });
}

export function findIntentByKey(db: DbOrTx, tenantId: string, idempotencyKey: string) {
  return db.actionIntent.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey } } });
}

/**
 * The per-intent reservation: only the caller whose conditional update moves the intent out of
 * `from` wins. Everything with side effects (budget, execution) happens only for the winner.
 */
export async function transitionIntent(
  tx: Tx,
  tenantId: string,
  id: string,
  from: string | string[],
  data: {
    status: string;
    decision?: string;
    reason?: string;
    explanation?: string;
    policyVersion?: string;
    policyClause?: string;
    decidedAt?: Date;
  },
  now: Date,
) {
  const res = await tx.actionIntent.updateMany({
    where: tenantWhere(tenantId, { id, status: Array.isArray(from) ? { in: from } : from }),
    data: { ...data, updatedAt: now },
  });
  return res.count === 1;
}

/**
 * A tenant's intents approved before `before` that never started (still APPROVED), oldest first —
 * per tenant so the (tenantId, status, …) index answers it rather than a scan of every intent.
 */
export function stalledApprovals(db: DbOrTx, tenantId: string, before: Date, limit: number) {
  return db.actionIntent.findMany({
    where: tenantWhere(tenantId, { status: "APPROVED", updatedAt: { lte: before } }),
    orderBy: [{ updatedAt: "asc" }, { id: "asc" }],
    take: limit,
    select: { id: true },
  });
}

const INTENT_COLUMNS = [
  "id",
  "tenantId",
  "accountId",
  "correlationId",
  "actionType",
  "target",
  "parameters",
  "why",
  "confidence",
  "riskLevel",
  "blockingUnknowns",
  "rankScore",
  "source",
  "idempotencyKey",
  "requestHash",
  "createdBy",
  "features",
  "version",
  "parentId",
  "status",
  "decision",
  "reason",
  "explanation",
  "policyVersion",
  "policyClause",
  "decidedAt",
  "createdAt",
  "updatedAt",
] as const;

/** The gate's rows for a group of admissions: one multi-row insert per table (see rows.ts for why raw). */
export async function insertIntents(tx: Tx, rows: (NewIntent & { id: string })[], now: Date) {
  await insertRows(
    tx,
    "ActionIntent",
    INTENT_COLUMNS,
    rows.map((r) => [
      r.id,
      r.tenantId,
      r.accountId,
      r.correlationId,
      r.actionType,
      r.target,
      r.parameters,
      r.why,
      r.confidence,
      r.riskLevel,
      r.blockingUnknowns,
      r.rankScore,
      r.source,
      r.idempotencyKey,
      r.requestHash ?? null,
      r.createdBy,
      r.features ?? null,
      r.version ?? 1,
      r.parentId ?? null,
      r.status ?? "PROPOSED",
      r.decision ?? null,
      r.reason ?? null,
      r.explanation ?? null,
      r.policyVersion ?? null,
      r.policyClause ?? null,
      r.decidedAt ?? null,
      now,
      now,
    ]),
  );
}

export async function insertPolicyEvaluations(
  tx: Tx,
  rows: {
    tenantId: string;
    intentId: string;
    decision: string;
    reason: string;
    explanation: string;
    policyVersion: string;
    clauses: string;
    input: string;
  }[],
  now: Date,
) {
  await insertRows(
    tx,
    "PolicyEvaluation",
    ["id", "tenantId", "intentId", "decision", "reason", "explanation", "policyVersion", "clauses", "input", "createdAt"],
    rows.map((r) => [newRowId(), r.tenantId, r.intentId, r.decision, r.reason, r.explanation, r.policyVersion, r.clauses, r.input, now]),
  );
}

export function insertReview(
  tx: Tx,
  data: {
    tenantId: string;
    intentId: string;
    newIntentId: string | null;
    decision: string;
    reason: string | null;
    diff: string | null;
    actorType: string;
    actorId: string | null;
  },
  now: Date,
) {
  return tx.intentReview.create({ data: { ...data, createdAt: now } });
}

export interface IntentListFilter {
  statuses?: string[];
  accountIds?: string[];
  ownerId?: string;
}

/** Newest first by (createdAt, id). Seller scoping is by account ownership, resolved by the caller. */
export async function listIntents(db: DbOrTx, tenantId: string, f: IntentListFilter, page: { limit: number; cursor?: string }) {
  const c = page.cursor ? decodeCursor(page.cursor, { t: "iso", i: "id" }) : undefined;
  const rows = await db.actionIntent.findMany({
    where: tenantWhere(tenantId, {
      ...(f.statuses ? { status: { in: f.statuses } } : {}),
      ...(f.accountIds ? { accountId: { in: f.accountIds } } : {}),
      ...(c ? { OR: [{ createdAt: { lt: new Date(c.t) } }, { createdAt: new Date(c.t), id: { lt: c.i } }] } : {}),
    }),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > page.limit && last ? encodeCursor({ t: last.createdAt.toISOString(), i: last.id }) : null };
}

export function evaluationsFor(db: DbOrTx, tenantId: string, intentId: string) {
  return db.policyEvaluation.findMany({ where: tenantWhere(tenantId, { intentId }), orderBy: { createdAt: "asc" } });
}

export function reviewsFor(db: DbOrTx, tenantId: string, intentId: string) {
  return db.intentReview.findMany({ where: tenantWhere(tenantId, { intentId }), orderBy: { createdAt: "asc" } });
}
