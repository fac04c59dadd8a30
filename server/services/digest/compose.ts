import type { Db } from "../../db";
import { approvalExpiresAt, readApprovalSettings } from "../../engine/approvals";
import { readBudgetSettings } from "../../engine/budget";
import {
  DIGEST_LIST_CAP,
  type DigestCounts,
  dayWindow,
  heldReason,
  isAutonomousStart,
  isBlocked,
  isDateKey,
  lastCompleteDay,
  oneLineWhy,
} from "../../engine/digest";
import { storedObject } from "../../engine/storedJson";
import { badRequest, notFound } from "../../errors";
import {
  approvalSettingsRow,
  budgetRows,
  dayEntriesOfType,
  daySeqRange,
  findDigestSettings,
  intentsByIds,
  memberRole,
  ownedAccounts,
  pendingIntents,
} from "../../repos/digest";
import type { Viewer } from "../../repos/scope";

export interface DigestItem {
  intent_id: string;
  account_id: string;
  account_name: string;
  action_type: string;
  why: string;
}

export interface Digest {
  date: string;
  user_id: string;
  timezone: string;
  window: { start: string; end: string };
  autonomous: (DigestItem & { execution_id: string; at: string })[];
  waiting: (DigestItem & { reason: string | null; requested_at: string; expires_at: string | null })[];
  blocked: (DigestItem & { reason: string; at: string })[];
  /** would have run on its own, but was held for a person (not opted in, budget spent, kill switch) */
  held: (DigestItem & { reason: string; at: string })[];
  budget: { account_id: string; account_name: string; used: number; cap: number }[];
  counts: DigestCounts;
  /** true when a list shows fewer items than its count (each list is capped; counts are exact) */
  truncated: boolean;
}

/**
 * Whose digest the viewer may read: a seller only their own (another user's reads as not found,
 * so ids are not probed); admins, auditors and API keys any member of the tenant. A user who is
 * not a member of the viewer's tenant is not found.
 */
export async function resolveDigestUser(db: Db, viewer: Viewer, userId: string | undefined): Promise<string> {
  const id = userId ?? viewer.userId;
  if (!id) throw badRequest("user_id", "user_id is required: an API key has no user of its own");
  if (viewer.role === "SELLER" && id !== viewer.userId) throw notFound("User");
  if (!(await memberRole(db, viewer.tenantId, id))) throw notFound("User");
  return id;
}

/** The user's zone for day arithmetic: their digest settings', else UTC. */
export async function digestTimezone(db: Db, tenantId: string, userId: string): Promise<string> {
  return (await findDigestSettings(db, tenantId, userId))?.timezone ?? "UTC";
}

const str = (v: unknown) => (typeof v === "string" ? v : "");

/**
 * A user's digest of one local day over the accounts they own. Autonomous, blocked, held and
 * budget come from that day's ledger (entries created within the local day's [start, end)), so
 * the counts are the ledger's; waiting is what waits now. Lists are capped, counts exact.
 */
export async function composeDigest(
  db: Db,
  input: { tenantId: string; userId: string; date?: string; timezone?: string },
  now: Date,
): Promise<Digest> {
  const timezone = input.timezone ?? (await digestTimezone(db, input.tenantId, input.userId));
  const date = input.date ?? lastCompleteDay(now, timezone);
  if (!isDateKey(date)) throw badRequest("date", "date must be a calendar date written YYYY-MM-DD");
  const { start, end } = dayWindow(date, timezone);
  const { tenantId } = input;

  const accounts = await ownedAccounts(db, tenantId, input.userId);
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  const owned = (accountId: string | null): accountId is string => accountId !== null && names.has(accountId);

  const counts: DigestCounts = { autonomous: 0, waiting: 0, blocked: 0, held: 0, budget_used: 0 };
  const autonomousRaw: { executionId: string; intentId: string; accountId: string; actionType: string; at: Date }[] = [];
  const blockedRaw: { intentId: string; accountId: string; actionType: string; reason: string; explanation: string; at: Date }[] = [];
  const heldRaw: typeof blockedRaw = [];
  const used = new Map<string, { used: number; cap: number | null }>();

  const range = accounts.length ? await daySeqRange(db, tenantId, start, end) : null;
  if (range) {
    const win = { from: start, to: end, ...range };
    for await (const e of dayEntriesOfType(db, tenantId, "EXECUTION_STARTED", win)) {
      if (!owned(e.accountId)) continue;
      const p = storedObject(e.payload);
      if (!isAutonomousStart(p)) continue;
      counts.autonomous++;
      if (autonomousRaw.length < DIGEST_LIST_CAP) {
        autonomousRaw.push({
          executionId: str(p.execution_id),
          intentId: str(p.action_intent_id),
          accountId: e.accountId,
          actionType: str(p.action_type),
          at: e.createdAt,
        });
      }
    }
    for await (const e of dayEntriesOfType(db, tenantId, "POLICY_EVALUATED", win)) {
      if (!owned(e.accountId)) continue;
      const p = storedObject(e.payload);
      const item = {
        intentId: str(p.action_intent_id),
        accountId: e.accountId,
        actionType: str(p.action_type),
        reason: str(p.reason),
        explanation: str(p.explanation),
        at: e.createdAt,
      };
      if (isBlocked(p)) {
        counts.blocked++;
        if (blockedRaw.length < DIGEST_LIST_CAP) blockedRaw.push(item);
      } else if (heldReason(p)) {
        counts.held++;
        if (heldRaw.length < DIGEST_LIST_CAP) heldRaw.push(item);
      }
    }
    for await (const e of dayEntriesOfType(db, tenantId, "BUDGET_CONSUMED", win)) {
      if (!owned(e.accountId)) continue;
      const p = storedObject(e.payload);
      counts.budget_used++;
      const u = used.get(e.accountId) ?? { used: 0, cap: null };
      u.used++;
      // The cap in force when the unit was taken (decay included); the latest of the day wins.
      if (typeof p.cap === "number") u.cap = p.cap;
      used.set(e.accountId, u);
    }
  }

  const [pending, approvalRow, budgets] = await Promise.all([
    pendingIntents(
      db,
      tenantId,
      accounts.map((a) => a.id),
      DIGEST_LIST_CAP,
    ),
    approvalSettingsRow(db, tenantId),
    budgetRows(
      db,
      tenantId,
      accounts.map((a) => a.id),
    ),
  ]);
  counts.waiting = pending.total;
  const approvals = readApprovalSettings(approvalRow);

  const intentIds = [...new Set([...autonomousRaw, ...blockedRaw, ...heldRaw].map((x) => x.intentId).filter(Boolean))];
  const intents = new Map((await intentsByIds(db, tenantId, intentIds)).map((i) => [i.id, i]));
  const base = (intentId: string, accountId: string, actionType: string): DigestItem => ({
    intent_id: intentId,
    account_id: accountId,
    account_name: names.get(accountId) ?? accountId,
    action_type: actionType || intents.get(intentId)?.actionType || "",
    why: oneLineWhy(intents.get(intentId) ?? null),
  });
  const policyItem = (x: (typeof blockedRaw)[number]) => ({
    ...base(x.intentId, x.accountId, x.actionType),
    // what policy said at that moment, not what the intent says now
    ...(x.explanation ? { why: oneLineWhy({ explanation: x.explanation, why: "[]" }) } : {}),
    reason: x.reason,
    at: x.at.toISOString(),
  });

  const tenantDefault = budgets.find((b) => b.accountKey === "") ?? null;
  const budget = accounts.map((a) => {
    const row = budgets.find((b) => b.accountKey === a.id) ?? tenantDefault;
    const read = readBudgetSettings(row);
    const u = used.get(a.id);
    return { account_id: a.id, account_name: a.name, used: u?.used ?? 0, cap: u?.cap ?? (read.ok ? read.settings.maxPerDay : 0) };
  });

  const digest: Digest = {
    date,
    user_id: input.userId,
    timezone,
    window: { start: start.toISOString(), end: end.toISOString() },
    autonomous: autonomousRaw.map((x) => ({
      ...base(x.intentId, x.accountId, x.actionType),
      why: oneLineWhy(intents.get(x.intentId) ?? null, "stated"),
      execution_id: x.executionId,
      at: x.at.toISOString(),
    })),
    waiting: pending.items.map((i) => ({
      ...base(i.id, i.accountId, i.actionType),
      why: oneLineWhy(i),
      reason: i.reason,
      requested_at: i.createdAt.toISOString(),
      expires_at: approvalExpiresAt(i, approvals)?.toISOString() ?? null,
    })),
    blocked: blockedRaw.map(policyItem),
    held: heldRaw.map(policyItem),
    budget,
    counts,
    truncated: false,
  };
  digest.truncated =
    digest.autonomous.length < counts.autonomous ||
    digest.waiting.length < counts.waiting ||
    digest.blocked.length < counts.blocked ||
    digest.held.length < counts.held;
  return digest;
}

/** The digest a viewer asked for (REST and tRPC): scope checked, then composed. */
export async function digestFor(db: Db, viewer: Viewer, q: { userId?: string; date?: string }, now: Date): Promise<Digest> {
  const userId = await resolveDigestUser(db, viewer, q.userId);
  if (q.date !== undefined && !isDateKey(q.date)) throw badRequest("date", "date must be a calendar date written YYYY-MM-DD");
  return composeDigest(db, { tenantId: viewer.tenantId, userId, date: q.date }, now);
}
