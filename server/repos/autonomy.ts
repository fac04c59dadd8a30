import { randomUUID } from "node:crypto";
import type { Db, DbOrTx, Tx } from "../db";
import { AppError } from "../errors";
import { Prisma } from "../generated/sqlite/client.ts";
import { activeProposals } from "./policyLab";
import { accountWhere, tenantWhere, type Viewer } from "./scope";
import { inTransaction, isPostgres } from "./tx";

type TenantGateConfig = Awaited<ReturnType<typeof loadTenantGateConfig>>;

async function loadTenantGateConfig(db: DbOrTx, tenantId: string) {
  const [modes, allowlist, killSwitches, policy, budgets, proposals] = await Promise.all([
    db.autonomyConfig.findMany({ where: tenantWhere(tenantId) }),
    db.allowlistEntry.findMany({ where: tenantWhere(tenantId) }),
    // GLOBAL switches are stored with tenantId "" and apply to every tenant.
    db.killSwitch.findMany({ where: { tenantId: { in: [tenantId, ""] }, enabled: true } }),
    db.tenantPolicy.findUnique({ where: { tenantId } }),
    db.autonomyBudget.findMany({ where: tenantWhere(tenantId) }),
    // Log-only policy proposals (SPEC §4.8) are started and ended through withConfigWrite, so
    // the version-keyed cache sees one from the very next evaluation.
    activeProposals(db, tenantId),
  ]);
  return { modes, allowlist, killSwitches, policy, budgets, proposals };
}

/**
 * The gate's configuration cache, per process. An entry is used only while the tenant's
 * `configVersion` (read inside the evaluating transaction) is unchanged, and every configuration
 * write bumps that version in its own transaction — so a change applies to the very next
 * evaluation on every instance, while unchanged configuration costs one indexed read.
 */
const gateConfigCache = new Map<string, { version: number; config: TenantGateConfig }>();

/** Everything the gate reads for one (tenant, account) evaluation. */
export async function loadGateConfig(db: DbOrTx, tenantId: string, accountId: string, version: number) {
  let entry = gateConfigCache.get(tenantId);
  if (!entry || entry.version !== version) {
    entry = { version, config: await loadTenantGateConfig(db, tenantId) };
    gateConfigCache.set(tenantId, entry);
  }
  const c = entry.config;
  const forAccount = <T extends { accountKey: string }>(rows: T[]) => rows.filter((r) => r.accountKey === "" || r.accountKey === accountId);
  const budget = c.budgets.find((b) => b.accountKey === accountId) ?? c.budgets.find((b) => b.accountKey === "") ?? null;
  return {
    modes: forAccount(c.modes),
    allowlist: forAccount(c.allowlist),
    killSwitches: c.killSwitches,
    policy: c.policy,
    budget,
    proposals: c.proposals,
  };
}

declare const configWriteBrand: unique symbol;

/**
 * A transaction opened by `withConfigWrite`, which has already bumped the configuration version.
 * Every function that changes autonomy configuration takes this type instead of `Tx`, and the
 * only way to obtain one is `withConfigWrite` — so a writer cannot forget to invalidate the
 * gate's cache (SPEC §4.1: "by construction").
 */
export type ConfigTx = Tx & { readonly [configWriteBrand]: true };

/**
 * The one write path for autonomy configuration (modes, allowlist, budgets, kill switches,
 * tenant policy, decision settings). It opens the transaction, takes the tenant's ledger head
 * lock and bumps `Tenant.configVersion` before the caller changes anything, so:
 *  - every instance's cache misses on its next evaluation (the version moved), and
 *  - an admission that evaluated on the old version cannot commit after this write: the gate
 *    re-reads the version once it holds the same head lock (`assertConfigUnchanged`), which it
 *    can only do before this write takes it or after it committed.
 * `"ALL"` is for GLOBAL kill switches, which change every tenant's configuration.
 */
export function withConfigWrite<T>(db: Db, tenantId: string | "ALL", fn: (tx: ConfigTx) => Promise<T>): Promise<T> {
  return inTransaction(db, async (tx) => {
    if (tenantId === "ALL") {
      await tx.$executeRaw`UPDATE "LedgerHead" SET "seq" = "seq"`;
      await tx.tenant.updateMany({ data: { configVersion: { increment: 1 } } });
    } else {
      await tx.$executeRaw`UPDATE "LedgerHead" SET "seq" = "seq" WHERE "tenantId" = ${tenantId}`;
      await tx.tenant.update({ where: { id: tenantId }, data: { configVersion: { increment: 1 } } });
    }
    return fn(tx as ConfigTx);
  });
}

/** The tenant's configuration version: what the gate's cache is keyed on. */
export async function configVersion(db: DbOrTx, tenantId: string): Promise<number | null> {
  const t = await db.tenant.findUnique({ where: { id: tenantId }, select: { configVersion: true } });
  return t?.configVersion ?? null;
}

/** Thrown when configuration changed while an admission was deciding: it is re-run on the new one. */
export class ConfigChangedError extends Error {
  override name = "ConfigChangedError";
}

/**
 * Call after the admission's ledger append (which holds the tenant's ledger head lock until
 * commit): if a configuration write committed since the version was read, the decision was made
 * on stale configuration and must not commit.
 */
export async function assertConfigUnchanged(tx: Tx, tenantId: string, version: number) {
  if ((await configVersion(tx, tenantId)) !== version) throw new ConfigChangedError();
}

/** An account as the viewer may see it (a seller only their own), with what the gate snapshots. */
export function findVisibleAccount(db: DbOrTx, viewer: Viewer, accountId: string) {
  return db.account.findFirst({
    where: accountWhere(viewer, { id: accountId }),
    select: GATE_ACCOUNT,
  });
}

/**
 * The accounts of a group of admissions, in one read. Tenant-scoped only: the admissions may come
 * from different viewers, so each one checks its own with `accountVisibleTo`.
 */
export async function gateAccounts(db: DbOrTx, tenantId: string, ids: string[]) {
  const rows = await db.account.findMany({ where: tenantWhere(tenantId, { id: { in: [...new Set(ids)] } }), select: GATE_ACCOUNT });
  return new Map(rows.map((r) => [r.id, r]));
}

const GATE_ACCOUNT = { id: true, name: true, lifecycle: true, posture: true, momentum: true, ownerId: true } as const;
export type GateAccount = NonNullable<Awaited<ReturnType<typeof findVisibleAccount>>>;

/** Every tenant id (a GLOBAL switch is ledgered in each tenant's chain). */
export async function allTenantIds(db: DbOrTx) {
  return (await db.tenant.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((t) => t.id);
}

export function enabledKillSwitches(db: DbOrTx, tenantId: string) {
  return db.killSwitch.findMany({ where: { tenantId: { in: [tenantId, ""] }, enabled: true }, orderBy: { updatedAt: "desc" } });
}

export function listKillSwitches(db: DbOrTx, tenantId: string) {
  return db.killSwitch.findMany({ where: { tenantId: { in: [tenantId, ""] } }, orderBy: [{ scope: "asc" }, { key: "asc" }] });
}

export function listModes(db: DbOrTx, tenantId: string, accountKey?: string) {
  return db.autonomyConfig.findMany({
    where: tenantWhere(tenantId, accountKey === undefined ? {} : { accountKey }),
    orderBy: [{ accountKey: "asc" }, { actionType: "asc" }],
  });
}

export function listAllowlist(db: DbOrTx, tenantId: string, accountKey: string) {
  return db.allowlistEntry.findMany({ where: tenantWhere(tenantId, { accountKey }), orderBy: { actionType: "asc" } });
}

export function findBudget(db: DbOrTx, tenantId: string, accountKey: string) {
  return db.autonomyBudget.findUnique({ where: { tenantId_accountKey: { tenantId, accountKey } } });
}

/**
 * Optimistic concurrency for configuration rows: the caller passes the `updatedAt` it last saw;
 * a row changed since then is a CONFLICT, never a silent overwrite.
 */
export async function upsertMode(
  tx: ConfigTx,
  key: { tenantId: string; accountKey: string; actionType: string },
  mode: string,
  ifMatch: Date | undefined,
  actorId: string | null,
  now: Date,
) {
  const existing = await tx.autonomyConfig.findUnique({ where: { tenantId_accountKey_actionType: key } });
  if (!existing) {
    if (ifMatch) throw new AppError("CONFLICT", "This setting was removed or never existed; reload and try again", "if_match");
    const created = await tx.autonomyConfig.create({ data: { ...key, mode, updatedBy: actorId, updatedAt: now } });
    return { before: null, after: created };
  }
  const res = await tx.autonomyConfig.updateMany({
    where: { id: existing.id, ...(ifMatch ? { updatedAt: ifMatch } : {}) },
    data: { mode, updatedBy: actorId, updatedAt: now },
  });
  if (res.count !== 1) throw new AppError("CONFLICT", "Someone changed this setting since you loaded it; reload and try again", "if_match");
  return { before: existing, after: await tx.autonomyConfig.findUniqueOrThrow({ where: { id: existing.id } }) };
}

export async function deleteMode(tx: ConfigTx, key: { tenantId: string; accountKey: string; actionType: string }) {
  const existing = await tx.autonomyConfig.findUnique({ where: { tenantId_accountKey_actionType: key } });
  if (existing) await tx.autonomyConfig.delete({ where: { id: existing.id } });
  return existing;
}

export async function replaceAllowlist(tx: ConfigTx, tenantId: string, accountKey: string, actionTypes: string[]) {
  await tx.allowlistEntry.deleteMany({ where: tenantWhere(tenantId, { accountKey }) });
  for (const actionType of actionTypes) await tx.allowlistEntry.create({ data: { tenantId, accountKey, actionType } });
}

export async function upsertBudget(
  tx: ConfigTx,
  key: { tenantId: string; accountKey: string },
  data: { maxPerDay: number; perTypeCaps: string; decayIfUnused: boolean },
  ifMatch: Date | undefined,
  actorId: string | null,
  now: Date,
) {
  const existing = await findBudget(tx, key.tenantId, key.accountKey);
  if (!existing) {
    if (ifMatch) throw new AppError("CONFLICT", "This budget was removed or never existed; reload and try again", "if_match");
    return { before: null, after: await tx.autonomyBudget.create({ data: { ...key, ...data, updatedBy: actorId, updatedAt: now } }) };
  }
  const res = await tx.autonomyBudget.updateMany({
    where: { id: existing.id, ...(ifMatch ? { updatedAt: ifMatch } : {}) },
    data: { ...data, updatedBy: actorId, updatedAt: now },
  });
  if (res.count !== 1) throw new AppError("CONFLICT", "Someone changed this budget since you loaded it; reload and try again", "if_match");
  return { before: existing, after: await tx.autonomyBudget.findUniqueOrThrow({ where: { id: existing.id } }) };
}

export async function setKillSwitch(
  tx: ConfigTx,
  key: { tenantId: string; scope: string; key: string },
  enabled: boolean,
  reason: string,
  actorId: string | null,
  now: Date,
) {
  const before = await tx.killSwitch.findUnique({ where: { tenantId_scope_key: key } });
  const after = await tx.killSwitch.upsert({
    where: { tenantId_scope_key: key },
    create: { ...key, enabled, reason, updatedBy: actorId, updatedAt: now },
    update: { enabled, reason, updatedBy: actorId, updatedAt: now },
  });
  return { before, after };
}

/** Decision settings (triggers, cost gate) are configuration too: same write path, same version. */
export function upsertDecisionSettings(
  tx: ConfigTx,
  tenantId: string,
  data: { triggers: string; costGate: string; updatedBy: string | null; updatedAt: Date },
) {
  return tx.decisionSettings.upsert({ where: { tenantId }, create: { tenantId, ...data }, update: data });
}

export const DEFAULT_TENANT_POLICY = { minConfidence: 0.75, prospectMinConfidence: 0.85, version: 1 } as const;

// ───────────────────────────── budget counters ─────────────────────────────

/** One budget counter: an account's units of a UTC day, for all action types ("") or one type. */
export interface CounterKey {
  accountId: string;
  dateKey: string;
  actionType: string;
}

/**
 * Read a budget counter and hold it for the rest of the transaction, so the caller can take units
 * from it in memory and write the total back once (the gate's admission groups; see
 * services/gate/budget.ts). The day's row is created at 0 if missing with `INSERT … ON CONFLICT
 * DO NOTHING` (same SQL on both databases, and unlike catching a unique violation it does not
 * abort a PostgreSQL transaction when another caller created it first). Then it is read: on
 * PostgreSQL `FOR UPDATE`, which another instance's admission waits on until this commits; on
 * SQLite the transaction holds the database write lock from its first statement (BEGIN
 * IMMEDIATE). Either way nobody else moves the counter until this transaction ends, so units
 * counted in memory are exact — the reserve-first contract, without a statement per unit.
 */
export async function lockBudgetCounter(tx: Tx, tenantId: string, k: CounterKey): Promise<{ id: string; consumed: number }> {
  await tx.$executeRaw`INSERT INTO "BudgetUsage" ("id", "tenantId", "accountId", "dateKey", "actionType", "consumed")
    VALUES (${randomUUID()}, ${tenantId}, ${k.accountId}, ${k.dateKey}, ${k.actionType}, 0)
    ON CONFLICT ("tenantId", "accountId", "dateKey", "actionType") DO NOTHING`;
  const forUpdate = isPostgres(tx) ? Prisma.sql` FOR UPDATE` : Prisma.empty;
  const [row] = await tx.$queryRaw<{ id: string; consumed: number | bigint }[]>`SELECT "id", "consumed" FROM "BudgetUsage"
    WHERE "tenantId" = ${tenantId} AND "accountId" = ${k.accountId} AND "dateKey" = ${k.dateKey} AND "actionType" = ${k.actionType}${forUpdate}`;
  if (!row) throw new Error("budget counter missing right after it was created");
  return { id: row.id, consumed: Number(row.consumed) };
}

/** Write back counters read with `lockBudgetCounter` in the same transaction. */
export async function setBudgetCounter(tx: Tx, tenantId: string, id: string, consumed: number) {
  await tx.budgetUsage.updateMany({ where: tenantWhere(tenantId, { id }), data: { consumed } });
}

export async function usageFor(db: DbOrTx, tenantId: string, accountId: string, dateKeys: string[]) {
  return db.budgetUsage.findMany({ where: tenantWhere(tenantId, { accountId, dateKey: { in: dateKeys } }) });
}
