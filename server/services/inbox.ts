import type { Db } from "../db";
import { notFound } from "../errors";
import { artifactsForAccount, executionsForIntent, outcomesFor } from "../repos/executions";
import { evaluationsFor, findIntent, listIntents } from "../repos/intents";
import { accountWhere, type Viewer } from "../repos/scope";
import { DEMO_HISTORY_ACTOR, DEMO_HISTORY_LABEL } from "./demoHistory";

/** Seller views: "Needs your input", "Autopilot did X", and one intent in full. */

const parse = (s: string) => JSON.parse(s) as unknown;

async function visibleAccountIds(db: Db, viewer: Viewer) {
  // Sellers are scoped to the accounts they own; admins, auditors and API keys see the tenant.
  if (viewer.role !== "SELLER") return undefined;
  const rows = await db.account.findMany({ where: accountWhere(viewer), select: { id: true } });
  return rows.map((r) => r.id);
}

async function withAccounts<T extends { accountId: string }>(db: Db, tenantId: string, rows: T[]) {
  const ids = [...new Set(rows.map((r) => r.accountId))];
  const accounts = await db.account.findMany({
    where: { tenantId, id: { in: ids } },
    select: { id: true, name: true, owner: { select: { name: true } } },
  });
  const byId = new Map(accounts.map((a) => [a.id, a]));
  return rows.map((r) => ({
    ...r,
    account: { id: r.accountId, name: byId.get(r.accountId)?.name ?? "(deleted)", owner: byId.get(r.accountId)?.owner?.name ?? null },
  }));
}

function intentDto(i: NonNullable<Awaited<ReturnType<typeof findIntent>>>) {
  return {
    id: i.id,
    accountId: i.accountId,
    correlationId: i.correlationId,
    actionType: i.actionType,
    parameters: parse(i.parameters) as Record<string, unknown>,
    target: parse(i.target) as Record<string, unknown>,
    why: parse(i.why) as string[],
    confidence: i.confidence,
    riskLevel: i.riskLevel,
    blockingUnknowns: parse(i.blockingUnknowns) as string[],
    rankScore: i.rankScore,
    status: i.status,
    version: i.version,
    parentId: i.parentId,
    source: i.source,
    decision: i.decision,
    reason: i.reason,
    explanation: i.explanation,
    policyVersion: i.policyVersion,
    policyClause: i.policyClause,
    createdAt: i.createdAt,
    decidedAt: i.decidedAt,
  };
}

export async function listInbox(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }) {
  const accountIds = await visibleAccountIds(db, viewer);
  const res = await listIntents(db, viewer.tenantId, { statuses: ["PENDING_APPROVAL"], accountIds }, page);
  return { items: await withAccounts(db, viewer.tenantId, res.items.map(intentDto)), nextCursor: res.nextCursor };
}

const TIMELINE_STATUSES = ["EXECUTING", "SUCCEEDED", "FAILED", "REJECTED", "BLOCKED", "SUPERSEDED"];

/** "Autopilot did X": decided intents newest first, each with its execution (if any). */
export async function listTimeline(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }) {
  const accountIds = await visibleAccountIds(db, viewer);
  const res = await listIntents(db, viewer.tenantId, { statuses: TIMELINE_STATUSES, accountIds }, page);
  const ids = res.items.map((i) => i.id);
  const execs = await db.execution.findMany({ where: { tenantId: viewer.tenantId, intentId: { in: ids }, replayOf: null } });
  const byIntent = new Map(execs.map((e) => [e.intentId, e]));
  // Who decided, and why, for human decisions — a timeline should say "rejected by Sam: …".
  const reviews = await db.intentReview.findMany({
    where: { tenantId: viewer.tenantId, OR: [{ intentId: { in: ids } }, { newIntentId: { in: ids } }] },
    orderBy: { createdAt: "asc" },
  });
  const users = await db.user.findMany({
    where: { id: { in: reviews.map((r) => r.actorId).filter((x): x is string => !!x) } },
    select: { id: true, name: true },
  });
  const userName = new Map(users.map((u) => [u.id, u.name]));
  const reviewFor = new Map<string, { decision: string; reason: string | null; by: string }>();
  for (const r of reviews) {
    const simulated = r.actorType === DEMO_HISTORY_ACTOR.type && r.actorId === DEMO_HISTORY_ACTOR.id;
    const by = simulated
      ? DEMO_HISTORY_LABEL
      : ((r.actorId ? userName.get(r.actorId) : undefined) ?? (r.actorType === "API_KEY" ? "an integration" : "a person"));
    reviewFor.set(r.newIntentId ?? r.intentId, { decision: r.decision, reason: r.reason, by });
  }
  const items = res.items.map((i) => {
    const e = byIntent.get(i.id);
    return {
      ...intentDto(i),
      execution: e
        ? {
            id: e.id,
            status: e.status,
            approvalSource: e.approvalSource,
            autoExecuted: e.autoExecuted,
            finishedAt: e.finishedAt,
            error: e.error,
          }
        : null,
      review: reviewFor.get(i.id) ?? null,
    };
  });
  return { items: await withAccounts(db, viewer.tenantId, items), nextCursor: res.nextCursor };
}

export async function intentDetail(db: Db, viewer: Viewer, id: string) {
  const intent = await findIntent(db, viewer.tenantId, id);
  if (!intent || !(await db.account.findFirst({ where: accountWhere(viewer, { id: intent.accountId }), select: { id: true } })))
    throw notFound("Intent");
  const [evaluations, executions, outcomes] = await Promise.all([
    evaluationsFor(db, viewer.tenantId, id),
    executionsForIntent(db, viewer.tenantId, id),
    outcomesFor(db, viewer.tenantId, id),
  ]);
  const last = evaluations.at(-1);
  return {
    ...intentDto(intent),
    policyResult: last
      ? {
          decision: last.decision,
          reason: last.reason,
          explanation: last.explanation,
          policyVersion: last.policyVersion,
          clauses: parse(last.clauses) as string[],
          evaluatedAt: last.createdAt,
        }
      : null,
    executions: executions.map((e) => ({
      id: e.id,
      status: e.status,
      approvalSource: e.approvalSource,
      autoExecuted: e.autoExecuted,
      replayOf: e.replayOf,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
      error: e.error,
    })),
    outcome: outcomes.at(-1) ? { label: outcomes.at(-1)?.label, at: outcomes.at(-1)?.createdAt } : null,
  };
}

export async function accountArtifacts(db: Db, viewer: Viewer, accountId: string) {
  if (!(await db.account.findFirst({ where: accountWhere(viewer, { id: accountId }), select: { id: true } }))) throw notFound("Account");
  return artifactsForAccount(db, viewer.tenantId, accountId);
}
