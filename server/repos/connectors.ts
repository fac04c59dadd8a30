import type { DbOrTx, Tx } from "../db";

/** The tenant's settings row for one connector kind (WEBHOOK, EMAIL, …), or null. */
export function findConnectorConfig(db: DbOrTx, tenantId: string, kind: string) {
  return db.connectorConfig.findUnique({ where: { tenantId_kind: { tenantId, kind } } });
}

/** Create or replace a connector's settings; `secret` undefined keeps the stored one. */
export function saveConnectorConfig(
  tx: Tx,
  key: { tenantId: string; kind: string },
  data: { enabled: boolean; config: string; secret?: string },
  now: Date,
) {
  return tx.connectorConfig.upsert({
    where: { tenantId_kind: key },
    create: { ...key, enabled: data.enabled, config: data.config, secret: data.secret ?? null, updatedAt: now },
    update: { enabled: data.enabled, config: data.config, ...(data.secret ? { secret: data.secret } : {}), updatedAt: now },
  });
}
