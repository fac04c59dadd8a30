import type { DbOrTx } from "../db";
import type { DigestFacts } from "../engine/alwaysOn";
import type { ConfigTx } from "./autonomy";

/**
 * Always-on opt-ins (SPEC §4.6): one row per tenant (accountKey "") and per opted account. A
 * missing row means "not opted in". Writes take a ConfigTx: an opt-in widens autonomy, so it bumps
 * the configuration version like every other gate setting (withConfigWrite).
 */

const DIGEST_SELECT = { enabled: true, email: true, hourLocal: true, timezone: true } as const;

/** The tenant's and (when given) the account's opt-in, in one query. */
export async function readOptIns(db: DbOrTx, tenantId: string, accountId: string | null) {
  const keys = accountId ? ["", accountId] : [""];
  const rows = await db.alwaysOnOptIn.findMany({
    where: { tenantId, accountKey: { in: keys } },
    select: { accountKey: true, enabled: true },
  });
  return {
    tenant: rows.some((r) => r.accountKey === "" && r.enabled),
    account: accountId !== null && rows.some((r) => r.accountKey === accountId && r.enabled),
  };
}

/** The opted-in account ids among `accountIds` (for lists). */
export async function optedInAccounts(db: DbOrTx, tenantId: string, accountIds: string[]): Promise<Set<string>> {
  if (accountIds.length === 0) return new Set();
  const rows = await db.alwaysOnOptIn.findMany({
    where: { tenantId, accountKey: { in: accountIds }, enabled: true },
    select: { accountKey: true },
  });
  return new Set(rows.map((r) => r.accountKey));
}

/** One user's digest settings as the always-on rule needs them; null when none are stored. */
export function readDigestFacts(db: DbOrTx, tenantId: string, userId: string | null): Promise<DigestFacts | null> {
  if (!userId) return Promise.resolve(null);
  return db.digestSettings.findUnique({ where: { tenantId_userId: { tenantId, userId } }, select: DIGEST_SELECT });
}

/** Several users' digest settings at once, keyed by user id. */
export async function readDigestFactsFor(db: DbOrTx, tenantId: string, userIds: string[]): Promise<Map<string, DigestFacts>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.digestSettings.findMany({
    where: { tenantId, userId: { in: userIds } },
    select: { userId: true, ...DIGEST_SELECT },
  });
  return new Map(rows.map(({ userId, ...facts }) => [userId, facts]));
}

/** Set one opt-in; answers the stored value before the write (false when there was no row). */
export async function setOptIn(tx: ConfigTx, tenantId: string, accountKey: string, enabled: boolean, actorId: string | null, now: Date) {
  const before = await tx.alwaysOnOptIn.findUnique({ where: { tenantId_accountKey: { tenantId, accountKey } }, select: { enabled: true } });
  if ((before?.enabled ?? false) !== enabled) {
    await tx.alwaysOnOptIn.upsert({
      where: { tenantId_accountKey: { tenantId, accountKey } },
      create: { tenantId, accountKey, enabled, updatedBy: actorId, updatedAt: now },
      update: { enabled, updatedBy: actorId, updatedAt: now },
    });
  }
  return before?.enabled ?? false;
}
