import type { Db } from "../db";
import { approvalExpiresAt } from "../engine/approvals";
import { readStoredJson } from "../engine/storedJson";
import { notFound } from "../errors";
import { accountSummaries, visibleAccountIds as visibleIds } from "../repos/accounts";
import { artifactsForAccount, executionsForIntent, outcomesFor } from "../repos/executions";
import { evaluationsFor, findIntent, listIntents } from "../repos/intents";
import type { Viewer } from "../repos/scope";
import { userNames } from "../repos/tenants";
import { originalExecutionsFor, reviewsTouching } from "../repos/timeline";
import type { InboxSort } from "../schemas/nextActions";
import { loadApprovalSettings } from "./approvals/settings";
import { DEMO_HISTORY_ACTOR, DEMO_HISTORY_LABEL } from "./demoHistory";
import { requireViewerAccount, viewerSeesAccount } from "./guards";
import { rankedOpenProposals } from "./nextActions";

/** Seller views: "Needs your input", "Autopilot did X", and one intent in full. */

// Stored JSON is read defensively: one bad row must not fail a whole inbox or timeline page.
const parse = (s: string) => readStoredJson(s);

async function visibleAccountIds(db: Db, viewer: Viewer) {
  // Sellers are scoped to the accounts they own; admins, auditors and API keys see the tenant.
  if (viewer.role !== "SELLER") return undefined;
  return visibleIds(db, viewer);
}

async function withAccounts<T extends { accountId: string }>(db: Db, tenantId: string, rows: T[]) {
  const ids = rows.map((r) => r.accountId);
  const accounts = await accountSummaries(db, tenantId, ids);
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

type Waiting = NonNullable<Awaited<ReturnType<typeof findIntent>>>;

/**
 * A waiting item as the inbox shows it: when its request expires under the TTL in force now (a
 * changed TTL moves every countdown at once), and whether it was escalated — to this viewer.
 */
async function inboxItems(db: Db, viewer: Viewer, rows: Waiting[]) {
  const settings = await loadApprovalSettings(db, viewer.tenantId);
  const items = rows.map((i) => ({
    ...intentDto(i),
    expiresAt: approvalExpiresAt(i, settings),
    escalatedAt: i.escalatedAt,
    escalatedToViewer: !!i.escalatedTo && i.escalatedTo === viewer.userId,
  }));
  return withAccounts(db, viewer.tenantId, items);
}

export async function listInbox(db: Db, viewer: Viewer, page: { limit: number; cursor?: string; sort?: InboxSort }) {
  if (page.sort === "suggested") return listInboxSuggested(db, viewer, page);
  // Escalated items need no filter of their own: admins see every waiting item of the tenant.
  const accountIds = await visibleAccountIds(db, viewer);
  const res = await listIntents(db, viewer.tenantId, { statuses: ["PENDING_APPROVAL"], accountIds }, page);
  return { items: await inboxItems(db, viewer, res.items), nextCursor: res.nextCursor };
}

/**
 * "Suggested order": the same open proposals ranked as the next-actions feed ranks them (the
 * ACTIVE weights, else the rules ranking), with that feed's cursor. Newest first stays the default.
 */
async function listInboxSuggested(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }) {
  const res = await rankedOpenProposals(db, viewer, page);
  const rows = res.page.flatMap((p) => {
    const i = res.intents.get(p.key.i);
    return i && i.status === "PENDING_APPROVAL" ? [i] : [];
  });
  return { items: await inboxItems(db, viewer, rows), nextCursor: res.nextCursor };
}

const TIMELINE_STATUSES = ["EXECUTING", "SUCCEEDED", "FAILED", "REJECTED", "BLOCKED", "SUPERSEDED"];

/** "Autopilot did X": decided intents newest first, each with its execution (if any). */
export async function listTimeline(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }) {
  const accountIds = await visibleAccountIds(db, viewer);
  const res = await listIntents(db, viewer.tenantId, { statuses: TIMELINE_STATUSES, accountIds }, page);
  const ids = res.items.map((i) => i.id);
  const execs = await originalExecutionsFor(db, viewer.tenantId, ids);
  const byIntent = new Map(execs.map((e) => [e.intentId, e]));
  // Who decided, and why, for human decisions — a timeline should say "rejected by Sam: …".
  const reviews = await reviewsTouching(db, viewer.tenantId, ids);
  const reviewers = reviews.map((r) => r.actorId);
  const userName = await userNames(db, reviewers);
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
  if (!intent || !(await viewerSeesAccount(db, viewer, intent.accountId))) throw notFound("Intent");
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
  await requireViewerAccount(db, viewer, accountId);
  return artifactsForAccount(db, viewer.tenantId, accountId);
}
