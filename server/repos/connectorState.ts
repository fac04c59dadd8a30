import type { DbOrTx } from "../db";

/**
 * ConnectorState: a connector's sync position and the throttle every instance obeys (it is state,
 * not configuration — writing it does not bump the config version). All throttle updates are
 * single statements so concurrent instances never lose one another's 429.
 */

const key = (tenantId: string, connector: string) => ({ tenantId_connector: { tenantId, connector } });

export function findConnectorState(db: DbOrTx, tenantId: string, connector: string) {
  return db.connectorState.findUnique({ where: key(tenantId, connector) });
}

export function listConnectorStates(db: DbOrTx, tenantId: string) {
  return db.connectorState.findMany({ where: { tenantId } });
}

/**
 * Make sure the row exists. Prisma's upsert is select-then-insert, so two instances creating the
 * first row at once collide on the primary key: the loser's row exists either way. Call it on the
 * database handle, not inside a transaction (a failed insert would abort a PostgreSQL transaction).
 */
async function ensure(db: DbOrTx, tenantId: string, connector: string, now: Date) {
  if (await findConnectorState(db, tenantId, connector)) return;
  try {
    await db.connectorState.create({ data: { tenantId, connector, updatedAt: now } });
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
  }
}

/**
 * Before a request: when may it go? Blocked (a 429 or an exhausted window) → the end of the block.
 * A known window with requests left → take one (a conditional decrement, so N instances share the
 * CRM's remaining count instead of each spending it); none left → the window's end.
 */
export async function acquireRequestSlot(db: DbOrTx, tenantId: string, connector: string, now: Date): Promise<Date | null> {
  const s = await findConnectorState(db, tenantId, connector);
  if (!s) return null;
  if (s.blockedUntil && s.blockedUntil.getTime() > now.getTime()) return s.blockedUntil;
  if (s.remaining !== null && s.windowEndsAt && s.windowEndsAt.getTime() > now.getTime()) {
    const took = await db.connectorState.updateMany({
      where: { tenantId, connector, remaining: { gt: 0 }, windowEndsAt: { gt: now } },
      data: { remaining: { decrement: 1 } },
    });
    if (took.count === 0) return s.windowEndsAt;
  }
  return null;
}

/** After a response: a 429 blocks everyone until Retry-After; a reported Remaining starts a window. */
export async function recordThrottle(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  obs: { status: number; retryAfterMs: number | null; remaining: number | null; intervalMs: number | null },
  now: Date,
) {
  await ensure(db, tenantId, connector, now);
  const interval = obs.intervalMs && obs.intervalMs > 0 ? obs.intervalMs : 10_000;
  if (obs.status === 429) {
    const until = new Date(now.getTime() + (obs.retryAfterMs ?? interval));
    await db.connectorState.update({
      where: key(tenantId, connector),
      data: { blockedUntil: until, remaining: 0, windowEndsAt: until, throttles: { increment: 1 }, lastThrottleAt: now, updatedAt: now },
    });
    return;
  }
  if (obs.remaining === null) return;
  // The CRM's interval is rolling and we do not know where it started: count it from now, which
  // can only make us wait longer than needed, never shorter.
  const windowEndsAt = new Date(now.getTime() + interval);
  const exhausted = obs.remaining <= 0;
  await db.connectorState.update({
    where: key(tenantId, connector),
    data: {
      remaining: Math.max(0, obs.remaining),
      windowEndsAt,
      ...(exhausted ? { blockedUntil: windowEndsAt, throttles: { increment: 1 }, lastThrottleAt: now } : {}),
      updatedAt: now,
    },
  });
}

export async function saveSyncResult(
  db: DbOrTx,
  tenantId: string,
  connector: string,
  data: { cursor?: string; status: string; error: string | null; counts: string },
  now: Date,
) {
  await ensure(db, tenantId, connector, now);
  await db.connectorState.update({
    where: key(tenantId, connector),
    data: {
      ...(data.cursor !== undefined ? { cursor: data.cursor } : {}),
      lastSyncAt: now,
      lastStatus: data.status,
      lastError: data.error,
      lastCounts: data.counts,
      updatedAt: now,
    },
  });
}

/** Tenants whose connector of this kind is enabled (the crm-sync job's work list). */
export async function tenantsWithConnectorEnabled(db: DbOrTx, kind: string) {
  const rows = await db.connectorConfig.findMany({ where: { kind, enabled: true }, select: { tenantId: true } });
  return rows.map((r) => r.tenantId);
}

/**
 * Take the tenant's sync for this connector (one at a time: the cron job and a "Sync now" must not
 * both import the same companies). A conditional update, so exactly one concurrent caller wins; a
 * RUNNING row untouched for `leaseMs` belonged to a dead process and may be taken over.
 */
export async function claimConnectorSync(db: DbOrTx, tenantId: string, connector: string, now: Date, leaseMs: number) {
  await ensure(db, tenantId, connector, now);
  const stale = new Date(now.getTime() - leaseMs);
  const res = await db.connectorState.updateMany({
    where: { tenantId, connector, OR: [{ lastStatus: null }, { lastStatus: { not: "RUNNING" } }, { updatedAt: { lt: stale } }] },
    data: { lastStatus: "RUNNING", updatedAt: now },
  });
  return res.count === 1;
}
