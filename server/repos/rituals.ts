import type { DbOrTx, Tx } from "../db";
import { tenantWhere } from "./scope";

/** Persistence for ritual cadences (tenant-wide rows have accountKey ""). */

export function listCadenceRows(db: DbOrTx, tenantId: string) {
  return db.ritualCadence.findMany({ where: tenantWhere(tenantId), orderBy: [{ accountKey: "asc" }, { ritual: "asc" }] });
}

const cadenceKey = (tenantId: string, accountKey: string, ritual: string) => ({
  tenantId_accountKey_ritual: { tenantId, accountKey, ritual },
});

export function findCadence(tx: DbOrTx, tenantId: string, accountKey: string, ritual: string) {
  return tx.ritualCadence.findUnique({ where: cadenceKey(tenantId, accountKey, ritual) });
}

export function upsertCadence(
  tx: Tx,
  tenantId: string,
  accountKey: string,
  ritual: string,
  data: { cron: string; timezone: string; enabled: boolean; updatedBy: string; updatedAt: Date; lastSlot?: Date },
  createdSlot: Date,
) {
  return tx.ritualCadence.upsert({
    where: cadenceKey(tenantId, accountKey, ritual),
    create: { tenantId, accountKey, ritual, ...data, lastSlot: createdSlot },
    update: data,
  });
}

/** Every enabled cadence, across tenants: the ritual tick's work list. */
export function enabledCadences(db: DbOrTx) {
  return db.ritualCadence.findMany({ where: { enabled: true } });
}

/** Claim a slot once: only the caller whose conditional update moved `lastSlot` fires it. */
export async function claimSlot(db: DbOrTx, id: string, lastSlot: Date | null, now: Date) {
  const res = await db.ritualCadence.updateMany({ where: { id, lastSlot }, data: { lastSlot: now } });
  return res.count === 1;
}

/** Accounts with their own cadence for this ritual (they follow it instead of the tenant's). */
export async function overriddenAccounts(db: DbOrTx, tenantId: string, ritual: string) {
  const rows = await db.ritualCadence.findMany({
    where: { tenantId, ritual, NOT: { accountKey: "" } },
    select: { accountKey: true },
  });
  return rows.map((r) => r.accountKey);
}

export function ritualAccounts(db: DbOrTx, tenantId: string, filter: { lifecycle?: string; exclude: string[] }) {
  return db.account.findMany({
    where: tenantWhere(tenantId, {
      ...(filter.lifecycle ? { lifecycle: filter.lifecycle } : {}),
      ...(filter.exclude.length ? { id: { notIn: filter.exclude } } : {}),
    }),
    select: { id: true },
  });
}
