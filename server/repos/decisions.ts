import { randomUUID } from "node:crypto";
import type { DbOrTx, Tx } from "../db";
import { tenantWhere } from "./scope";

/** Persistence for signals, trigger windows, run state and decision runs. */

export function insertSignal(
  tx: Tx,
  data: {
    tenantId: string;
    accountId: string;
    type: string;
    severity: string;
    evidence: string;
    dedupeKey: string;
    source: string;
    correlationId: string;
    occurredAt: Date;
  },
  now: Date,
) {
  return tx.signal.create({ data: { ...data, receivedAt: now } });
}

export function findSignalByKey(db: DbOrTx, tenantId: string, dedupeKey: string) {
  return db.signal.findUnique({ where: { tenantId_dedupeKey: { tenantId, dedupeKey } } });
}

export function recentSignals(db: DbOrTx, tenantId: string, accountId: string, since: Date, take = 20) {
  return db.signal.findMany({
    where: tenantWhere(tenantId, { accountId, receivedAt: { gte: since } }),
    orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
    take,
  });
}

export function findWindow(db: DbOrTx, tenantId: string, accountId: string, triggerType: string) {
  return db.triggerWindow.findUnique({ where: { tenantId_accountId_triggerType: { tenantId, accountId, triggerType } } });
}

/**
 * Open a window unless one exists; true when this caller opened it. Safe under concurrency. The
 * window takes the opener's correlation id: the story of everything it gathers.
 */
export async function openWindow(
  tx: Tx,
  w: {
    tenantId: string;
    accountId: string;
    triggerType: string;
    openedAt: Date;
    fireAt: Date;
    correlationId: string;
    signalId: string | null;
  },
) {
  const n =
    await tx.$executeRaw`INSERT INTO "TriggerWindow" ("id", "tenantId", "accountId", "triggerType", "openedAt", "lastEventAt", "events", "fireAt", "correlationId", "signalIds")
    VALUES (${randomUUID()}, ${w.tenantId}, ${w.accountId}, ${w.triggerType}, ${w.openedAt}, ${w.openedAt}, 1, ${w.fireAt}, ${w.correlationId}, ${w.signalId ?? ""})
    ON CONFLICT ("tenantId", "accountId", "triggerType") DO NOTHING`;
  return n === 1;
}

/**
 * Coalesce one more event into an open window. The signal id is appended in the UPDATE itself
 * (string concatenation, on both databases), so concurrent coalescers never lose one another's
 * ids; beyond `maxSignals` events only the count grows. 0 when the window fired (was deleted)
 * meanwhile.
 */
export async function extendWindow(tx: Tx, id: string, lastEventAt: Date, fireAt: Date, signalId: string | null, maxSignals: number) {
  const suffix = signalId ? ` ${signalId}` : "";
  return tx.$executeRaw`UPDATE "TriggerWindow" SET "lastEventAt" = ${lastEventAt}, "fireAt" = ${fireAt}, "events" = "events" + 1,
    "signalIds" = CASE WHEN "events" < ${maxSignals} THEN "signalIds" || ${suffix} ELSE "signalIds" END WHERE "id" = ${id}`;
}

/** The signal ids a window gathered, oldest first, each once. */
export function windowSignalIds(w: { signalIds: string }) {
  return [...new Set(w.signalIds.split(" ").filter(Boolean))];
}

export function setSignalCorrelation(tx: Tx, tenantId: string, id: string, correlationId: string) {
  return tx.signal.updateMany({ where: tenantWhere(tenantId, { id }), data: { correlationId } });
}

export function signalsByIds(db: DbOrTx, tenantId: string, ids: string[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db.signal.findMany({ where: tenantWhere(tenantId, { id: { in: ids } }), orderBy: [{ receivedAt: "asc" }, { id: "asc" }] });
}

/**
 * What the synthesizer is given about an account: its CRM data, its recent signals and the
 * recent intents on it (activity). One read, outside any transaction.
 */
export async function synthesisContext(db: DbOrTx, tenantId: string, accountId: string, since: Date) {
  const [account, contacts, opportunities, signals, activity] = await Promise.all([
    db.account.findFirst({
      where: tenantWhere(tenantId, { id: accountId }),
      select: { name: true, domain: true, lifecycle: true, posture: true, momentum: true },
    }),
    db.contact.findMany({
      where: tenantWhere(tenantId, { accountId }),
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: 50,
      select: { id: true, name: true, email: true, title: true },
    }),
    db.opportunity.findMany({
      where: tenantWhere(tenantId, { accountId }),
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: 20,
      select: { id: true, name: true, stage: true, amountCents: true, closeDate: true },
    }),
    recentSignals(db, tenantId, accountId, since),
    db.actionIntent.findMany({
      where: tenantWhere(tenantId, { accountId, createdAt: { gte: since } }),
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: 30,
      select: { actionType: true, status: true, createdAt: true },
    }),
  ]);
  return account ? { account, contacts, opportunities, signals, activity } : null;
}

export function recordRunGate(tx: Tx, runId: string, data: { costGateResult: string; reason: string; explanation: string }, now: Date) {
  return tx.decisionRun.updateMany({ where: { id: runId }, data: { ...data, updatedAt: now } });
}

/** Signals since the account's last run: how many, and how many above low severity. */
export async function newEvidenceSince(db: DbOrTx, tenantId: string, accountId: string, since: Date | null) {
  const where = tenantWhere(tenantId, { accountId, ...(since ? { receivedAt: { gt: since } } : {}) });
  const [all, significant] = await Promise.all([
    db.signal.count({ where }),
    db.signal.count({ where: { ...where, severity: { not: "low" } } }),
  ]);
  return { all, significant };
}

export function dueWindows(db: DbOrTx, now: Date, take = 200) {
  return db.triggerWindow.findMany({ where: { fireAt: { lte: now } }, orderBy: { fireAt: "asc" }, take });
}

/**
 * Take a due window exactly once: only the caller whose delete removed it fires it, and only as
 * it was listed. A signal that joined the window after it was listed changed `events` (every
 * extension adds one), so the delete misses and the window stays for the next tick, which fires
 * it with that signal. The fireAt condition alone is not enough: once the window is past its
 * maximum wait, an extension leaves fireAt where it was, and the fire would name the signals read
 * before the extension, dropping the newcomer from its story (seen with two instances behind a
 * load balancer, test/scaleout).
 */
export async function takeWindow(tx: Tx, listed: { id: string; events: number }, now: Date) {
  const res = await tx.triggerWindow.deleteMany({ where: { id: listed.id, events: listed.events, fireAt: { lte: now } } });
  return res.count === 1;
}

export async function ensureRunState(tx: Tx, tenantId: string, accountId: string) {
  await tx.$executeRaw`INSERT INTO "AccountRunState" ("tenantId", "accountId", "hourKey", "runsThisHour") VALUES (${tenantId}, ${accountId}, '', 0)
    ON CONFLICT ("tenantId", "accountId") DO NOTHING`;
  await tx.$executeRaw`INSERT INTO "TenantRunState" ("tenantId", "hourKey", "runsThisHour", "dayKey", "runsToday", "tokensToday") VALUES (${tenantId}, '', 0, '', 0, 0)
    ON CONFLICT ("tenantId") DO NOTHING`;
}

export function accountRunState(db: DbOrTx, tenantId: string, accountId: string) {
  return db.accountRunState.findUnique({ where: { tenantId_accountId: { tenantId, accountId } } });
}

export function tenantRunState(db: DbOrTx, tenantId: string) {
  return db.tenantRunState.findUnique({ where: { tenantId } });
}

/**
 * Count a fire against the hourly caps with conditional updates (`runsThisHour < cap`), so a
 * storm of concurrent fires can never exceed the caps, on either database. Counters roll over
 * when the hour key changes.
 */
export async function countFire(
  tx: Tx,
  tenantId: string,
  accountId: string,
  hourKey: string,
  caps: { account: number; tenant: number },
  now: Date,
) {
  await tx.accountRunState.updateMany({ where: { tenantId, accountId, NOT: { hourKey } }, data: { hourKey, runsThisHour: 0 } });
  await tx.tenantRunState.updateMany({ where: { tenantId, NOT: { hourKey } }, data: { hourKey, runsThisHour: 0 } });
  const acc = await tx.accountRunState.updateMany({
    where: { tenantId, accountId, hourKey, runsThisHour: { lt: caps.account } },
    data: { runsThisHour: { increment: 1 }, lastFiredAt: now },
  });
  if (acc.count !== 1) return "ACCOUNT" as const;
  const ten = await tx.tenantRunState.updateMany({
    where: { tenantId, hourKey, runsThisHour: { lt: caps.tenant } },
    data: { runsThisHour: { increment: 1 } },
  });
  if (ten.count !== 1) {
    // Give the account's unit back: the tenant cap refused this fire as a whole.
    await tx.accountRunState.updateMany({ where: { tenantId, accountId }, data: { runsThisHour: { decrement: 1 } } });
    return "TENANT" as const;
  }
  return null;
}

/** The admission lock: an atomic run-state update that only one run per account can win. */
export async function takeAdmissionLock(tx: Tx, tenantId: string, accountId: string, owner: string, now: Date, ttlSeconds: number) {
  const res = await tx.accountRunState.updateMany({
    where: { tenantId, accountId, OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }, { lockOwner: owner }] },
    data: { lockedUntil: new Date(now.getTime() + ttlSeconds * 1000), lockOwner: owner },
  });
  return res.count === 1;
}

export function releaseAdmissionLock(tx: DbOrTx, tenantId: string, accountId: string, owner: string, data: { lastRunAt?: Date } = {}) {
  return tx.accountRunState.updateMany({
    where: { tenantId, accountId, lockOwner: owner },
    data: { lockedUntil: null, lockOwner: null, ...data },
  });
}

export function insertRun(
  db: DbOrTx,
  data: { tenantId: string; accountId: string; triggerType: string; idempotencyKey: string; correlationId: string; signalIds: string[] },
  now: Date,
) {
  return db.decisionRun.create({
    data: { ...data, signalIds: JSON.stringify(data.signalIds), status: "RESERVED", createdAt: now, updatedAt: now },
  });
}

export function findRun(db: DbOrTx, tenantId: string, id: string) {
  return db.decisionRun.findFirst({ where: tenantWhere(tenantId, { id }) });
}

export function findRunByKey(db: DbOrTx, tenantId: string, idempotencyKey: string) {
  return db.decisionRun.findUnique({ where: { tenantId_idempotencyKey: { tenantId, idempotencyKey } } });
}

export async function transitionRun(tx: DbOrTx, tenantId: string, id: string, from: string[], data: Record<string, unknown>, now: Date) {
  const res = await tx.decisionRun.updateMany({
    where: tenantWhere(tenantId, { id, status: { in: from } }),
    data: { ...data, updatedAt: now },
  });
  return res.count === 1;
}

/** Daily run and token counters for the cost gate, rolled over by UTC day. */
export async function rollDay(tx: Tx, tenantId: string, dayKey: string) {
  await tx.tenantRunState.updateMany({ where: { tenantId, NOT: { dayKey } }, data: { dayKey, runsToday: 0, tokensToday: 0 } });
}

export function meterRun(tx: Tx, tenantId: string, tokens: number) {
  return tx.tenantRunState.updateMany({ where: { tenantId }, data: { runsToday: { increment: 1 }, tokensToday: { increment: tokens } } });
}

export function openIntentCount(db: DbOrTx, tenantId: string, accountId: string) {
  return db.actionIntent.count({ where: tenantWhere(tenantId, { accountId, status: "PENDING_APPROVAL" }) });
}

export function decisionSettingsRow(db: DbOrTx, tenantId: string) {
  return db.decisionSettings.findUnique({ where: { tenantId } });
}

export function listRuns(db: DbOrTx, tenantId: string, take = 50) {
  return db.decisionRun.findMany({ where: tenantWhere(tenantId), orderBy: [{ createdAt: "desc" }, { id: "desc" }], take });
}
