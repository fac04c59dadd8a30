import type { DbOrTx } from "../db";
import type { DigestRunStatus } from "../engine/digest";
import type { ConfigTx } from "./autonomy";
import { tenantWhere } from "./scope";

/**
 * The daily digest's storage: settings per user, one DigestRun per user per covered local day
 * (insert-once: the unique key is the "sent once" guarantee), and the indexed ledger reads a
 * digest counts from.
 */

export function findDigestSettings(db: DbOrTx, tenantId: string, userId: string) {
  return db.digestSettings.findUnique({ where: { tenantId_userId: { tenantId, userId } } });
}

/** Digest settings are an always-on condition the gate reads: written only through withConfigWrite. */
export function upsertDigestSettings(
  tx: ConfigTx,
  key: { tenantId: string; userId: string },
  data: { enabled: boolean; email: string; hourLocal: number; timezone: string; updatedBy: string | null; updatedAt: Date },
) {
  return tx.digestSettings.upsert({
    where: { tenantId_userId: key },
    create: { ...key, ...data },
    update: data,
  });
}

/** Every enabled digest, in pages (keyset on the primary key) so the job's memory stays flat. */
export function listEnabledDigestSettings(db: DbOrTx, after: { tenantId: string; userId: string } | null, take: number) {
  return db.digestSettings.findMany({
    where: {
      enabled: true,
      ...(after ? { OR: [{ tenantId: { gt: after.tenantId } }, { tenantId: after.tenantId, userId: { gt: after.userId } }] } : {}),
    },
    orderBy: [{ tenantId: "asc" }, { userId: "asc" }],
    take,
  });
}

export function findDigestRun(db: DbOrTx, tenantId: string, userId: string, dateKey: string) {
  return db.digestRun.findUnique({ where: { tenantId_userId_dateKey: { tenantId, userId, dateKey } } });
}

/** Claim a day's digest: the row is created once; a concurrent claim fails on the unique key (P2002). */
export function insertDigestRun(db: DbOrTx, row: { tenantId: string; userId: string; dateKey: string }, now: Date) {
  return db.digestRun.create({ data: { ...row, status: "SENDING" satisfies DigestRunStatus, createdAt: now } });
}

/** Take a FAILED run back for another attempt; false when another tick took it first. */
export async function reclaimFailedDigestRun(db: DbOrTx, id: string): Promise<boolean> {
  const { count } = await db.digestRun.updateMany({
    where: { id, status: "FAILED" satisfies DigestRunStatus },
    data: { status: "SENDING" satisfies DigestRunStatus, error: null },
  });
  return count === 1;
}

export function finishDigestRun(
  db: DbOrTx,
  id: string,
  data: { status: DigestRunStatus; counts: string; messageId: string | null; error: string | null; sentAt: Date | null },
) {
  return db.digestRun.update({ where: { id }, data });
}

/** The member's role in the tenant, or null when the user is not a member (another tenant's user). */
export async function memberRole(db: DbOrTx, tenantId: string, userId: string): Promise<string | null> {
  const m = await db.membership.findUnique({ where: { tenantId_userId: { tenantId, userId } }, select: { role: true } });
  return m?.role ?? null;
}

export function userEmail(db: DbOrTx, userId: string) {
  return db.user.findUnique({ where: { id: userId }, select: { email: true, name: true } });
}

export function ownedAccounts(db: DbOrTx, tenantId: string, userId: string) {
  return db.account.findMany({
    where: tenantWhere(tenantId, { ownerId: userId }),
    select: { id: true, name: true },
    orderBy: { name: "asc" },
  });
}

// ─────────────────────────────── the day's ledger ───────────────────────────────

/**
 * The seq bounds that contain every entry created in [from, to): a binary search over the
 * (tenantId, seq) unique index, a few dozen point reads however long the chain. Entries are
 * appended under the tenant's head lock with a `now` read just before, so createdAt is
 * non-decreasing in seq up to the skew of transactions in flight; the bounds are taken a
 * SKEW_MS wider on each side and the day's own filter is createdAt, exactly as the ledger API's
 * `from`/`to` filter is, so the counts agree with it.
 */
const SKEW_MS = 10 * 60_000;

async function firstSeqAtOrAfter(db: DbOrTx, tenantId: string, at: Date, headSeq: number): Promise<number> {
  let lo = 1;
  let hi = headSeq + 1; // hi: an entry at or after `at`, or one past the end
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const e = await db.ledgerEntry.findFirst({
      where: tenantWhere(tenantId, { seq: { gte: mid } }),
      orderBy: { seq: "asc" },
      select: { seq: true, createdAt: true },
    });
    if (!e || e.seq >= hi) {
      hi = mid;
      continue;
    }
    if (e.createdAt.getTime() >= at.getTime()) hi = mid;
    else lo = e.seq + 1;
  }
  return lo;
}

export async function daySeqRange(db: DbOrTx, tenantId: string, from: Date, to: Date): Promise<{ lo: number; hi: number } | null> {
  const head = await db.ledgerHead.findUnique({ where: { tenantId }, select: { seq: true } });
  if (!head || head.seq === 0) return null;
  const lo = await firstSeqAtOrAfter(db, tenantId, new Date(from.getTime() - SKEW_MS), head.seq);
  const hi = await firstSeqAtOrAfter(db, tenantId, new Date(to.getTime() + SKEW_MS), head.seq);
  return { lo, hi };
}

/**
 * One type's entries of the day, ascending, in keyset pages over the (tenantId, type, seq) index
 * within the day's seq bounds; the caller folds them (counts stay exact, memory flat).
 */
export async function* dayEntriesOfType(
  db: DbOrTx,
  tenantId: string,
  type: string,
  window: { from: Date; to: Date; lo: number; hi: number },
  batch = 500,
) {
  let after = window.lo - 1;
  for (;;) {
    const rows = await db.ledgerEntry.findMany({
      where: tenantWhere(tenantId, { type, seq: { gt: after, lt: window.hi }, createdAt: { gte: window.from, lt: window.to } }),
      orderBy: { seq: "asc" },
      take: batch,
      select: { seq: true, accountId: true, payload: true, createdAt: true },
    });
    for (const r of rows) yield r;
    const last = rows.at(-1);
    if (!last || rows.length < batch) return;
    after = last.seq;
  }
}

export function intentsByIds(db: DbOrTx, tenantId: string, ids: string[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db.actionIntent.findMany({
    where: tenantWhere(tenantId, { id: { in: ids } }),
    select: { id: true, accountId: true, actionType: true, explanation: true, why: true, status: true, reason: true },
  });
}

/** What waits for a person now on these accounts: the count, and the oldest first (capped). */
export async function pendingIntents(db: DbOrTx, tenantId: string, accountIds: string[], take: number) {
  if (accountIds.length === 0) return { total: 0, items: [] };
  const where = tenantWhere(tenantId, { status: "PENDING_APPROVAL", accountId: { in: accountIds } });
  const [total, items] = await Promise.all([
    db.actionIntent.count({ where }),
    db.actionIntent.findMany({
      where,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take,
      select: {
        id: true,
        accountId: true,
        actionType: true,
        explanation: true,
        why: true,
        reason: true,
        status: true,
        createdAt: true,
        escalatedAt: true,
      },
    }),
  ]);
  return { total, items };
}

export function approvalSettingsRow(db: DbOrTx, tenantId: string) {
  return db.approvalSettings.findUnique({ where: { tenantId } });
}

/** Budget rows for these accounts and the tenant default (accountKey ""). */
export function budgetRows(db: DbOrTx, tenantId: string, accountIds: string[]) {
  return db.autonomyBudget.findMany({ where: tenantWhere(tenantId, { accountKey: { in: ["", ...accountIds] } }) });
}

export function digestRunsOfUser(db: DbOrTx, tenantId: string, userId: string, take: number) {
  return db.digestRun.findMany({
    where: tenantWhere(tenantId, { userId }),
    orderBy: { createdAt: "desc" },
    take,
  });
}
