import type { DbOrTx, Tx } from "../db";
import { tenantWhere } from "./scope";

const publicFields = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
  createdById: true,
} as const;

export function insertApiKey(
  tx: Tx,
  data: {
    tenantId: string;
    name: string;
    prefix: string;
    secretHash: string;
    scopes: string;
    createdById: string | null;
    signingSecret: string | null;
  },
  now: Date,
) {
  return tx.apiKey.create({ data: { ...data, createdAt: now }, select: { ...publicFields, tenantId: true } });
}

/** Lookup by the public prefix only; the secret is compared in constant time by the caller. */
export function findApiKeyByPrefix(db: DbOrTx, prefix: string) {
  return db.apiKey.findUnique({ where: { prefix } });
}

export function listApiKeys(db: DbOrTx, tenantId: string) {
  return db.apiKey.findMany({ where: tenantWhere(tenantId), select: publicFields, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
}

export function revokeApiKey(tx: Tx, tenantId: string, id: string, now: Date) {
  return tx.apiKey.updateMany({ where: tenantWhere(tenantId, { id, revokedAt: null }), data: { revokedAt: now } });
}

/**
 * Last-used is advisory; refreshing it at most once a minute keeps hot keys from writing per
 * request. The guard stays in the statement (two instances refreshing at once write once).
 */
export const TOUCH_EVERY_MS = 60_000;
export function touchApiKey(db: DbOrTx, id: string, now: Date) {
  return db.apiKey.updateMany({
    where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now.getTime() - TOUCH_EVERY_MS) } }] },
    data: { lastUsedAt: now },
  });
}
