import type { DbOrTx } from "../db";
import { Prisma } from "../generated/sqlite/client.ts";
import { tenantWhere } from "./scope";
import { isPostgres } from "./tx";

/**
 * Aggregates for `GET /api/metrics`, all computed by the database (GROUP BY), never by loading
 * rows: a scrape must stay cheap however many rows there are, and every process answers the same.
 */

export interface DurationBuckets {
  labels: Record<string, string>;
  /** cumulative counts, one per bound of `bounds` (le) */
  buckets: number[];
  count: number;
  sumSeconds: number;
}

/**
 * A latency histogram of finished rows started since `since`, by (`group` columns): one statement
 * with a SUM(CASE …) per bucket. Durations in seconds: PostgreSQL subtracts timestamps; SQLite
 * (dates stored as ISO text) through julianday.
 */
async function durationHistogram(
  db: DbOrTx,
  table: "ToolCall" | "PullJob",
  start: "startedAt" | "createdAt",
  groups: Record<string, string>,
  tenantId: string,
  since: Date,
  bounds: readonly number[],
): Promise<DurationBuckets[]> {
  const seconds = isPostgres(db)
    ? `EXTRACT(EPOCH FROM ("finishedAt" - "${start}"))`
    : `((julianday("finishedAt") - julianday("${start}")) * 86400.0)`;
  const groupCols = Object.values(groups).map((c) => `"${c}"`);
  const bucketCols = bounds.map((b, i) => `SUM(CASE WHEN ${seconds} <= ${b} THEN 1 ELSE 0 END) AS "b${i}"`);
  const select = Prisma.raw(
    [...groupCols.map((c, i) => `${c} AS "g${i}"`), ...bucketCols, `COUNT(*) AS "n"`, `COALESCE(SUM(${seconds}), 0) AS "s"`].join(", "),
  );
  const rows = await db.$queryRaw<Record<string, unknown>[]>`SELECT ${select} FROM ${Prisma.raw(`"${table}"`)}
    WHERE "tenantId" = ${tenantId} AND ${Prisma.raw(`"${start}"`)} >= ${since} AND "finishedAt" IS NOT NULL
    GROUP BY ${Prisma.raw(groupCols.join(", "))}`;
  const names = Object.keys(groups);
  return rows.map((r) => ({
    labels: Object.fromEntries(names.map((n, i) => [n, String(r[`g${i}`])])),
    buckets: bounds.map((_, i) => Number(r[`b${i}`] ?? 0)),
    count: Number(r.n),
    sumSeconds: Math.max(0, Number(r.s)),
  }));
}

export function toolCallLatency(db: DbOrTx, tenantId: string, since: Date, bounds: readonly number[]) {
  return durationHistogram(db, "ToolCall", "startedAt", { connector: "connector", status: "status" }, tenantId, since, bounds);
}

export function pullDuration(db: DbOrTx, tenantId: string, since: Date, bounds: readonly number[]) {
  return durationHistogram(db, "PullJob", "createdAt", { connector: "connector", status: "status" }, tenantId, since, bounds);
}

/**
 * The resilience wrapper's own latency histogram: every real call it made (SUCCESS, ERROR,
 * TIMEOUT samples) by connector and outcome — refusals made no call and have no latency.
 */
export async function wrapperCallLatency(db: DbOrTx, tenantId: string, since: Date, bounds: readonly number[]): Promise<DurationBuckets[]> {
  const bucketCols = bounds.map((b, i) => `SUM(CASE WHEN "durationMs" <= ${b * 1000} THEN 1 ELSE 0 END) AS "b${i}"`);
  const select = Prisma.raw(
    ['"connector" AS "g0"', '"outcome" AS "g1"', ...bucketCols, 'COUNT(*) AS "n"', 'COALESCE(SUM("durationMs"), 0) AS "s"'].join(", "),
  );
  const rows = await db.$queryRaw<Record<string, unknown>[]>`SELECT ${select} FROM "ConnectorCallSample"
    WHERE "tenantId" = ${tenantId} AND "at" >= ${since} AND "outcome" IN ('SUCCESS', 'ERROR', 'TIMEOUT')
    GROUP BY "connector", "outcome"`;
  return rows.map((r) => ({
    labels: { connector: String(r.g0), outcome: String(r.g1) },
    buckets: bounds.map((_, i) => Number(r[`b${i}`] ?? 0)),
    count: Number(r.n),
    sumSeconds: Math.max(0, Number(r.s) / 1000),
  }));
}

export function executionCounts(db: DbOrTx, tenantId: string) {
  return db.execution.groupBy({
    by: ["status", "outcome", "approvalSource", "autoExecuted"],
    where: tenantWhere(tenantId),
    _count: { _all: true },
  });
}

export function decisionRunCounts(db: DbOrTx, tenantId: string) {
  return db.decisionRun.groupBy({ by: ["status", "costGateResult"], where: tenantWhere(tenantId), _count: { _all: true } });
}

/** Jobs not finished yet, by kind and status, with the oldest one's creation time. */
export function openJobs(db: DbOrTx, tenantId: string) {
  return db.job.groupBy({
    by: ["kind", "status"],
    where: tenantWhere(tenantId, { status: { in: ["QUEUED", "LEASED"] } }),
    _count: { _all: true },
    _min: { createdAt: true },
  });
}

/** Autonomous actions consumed today (the per-account totals, action type ""), and the tenant-wide default cap. */
export async function autonomyBudgetToday(db: DbOrTx, tenantId: string, dateKey: string) {
  const [used, cap] = await Promise.all([
    db.budgetUsage.aggregate({ where: tenantWhere(tenantId, { dateKey, actionType: "" }), _sum: { consumed: true } }),
    db.autonomyBudget.findUnique({ where: { tenantId_accountKey: { tenantId, accountKey: "" } }, select: { maxPerDay: true } }),
  ]);
  return { used: used._sum.consumed ?? 0, defaultCapPerAccount: cap?.maxPerDay ?? null };
}

/** Perception pull units used today (tenant total, connector "") and the daily cap. */
export async function pullBudgetToday(db: DbOrTx, tenantId: string, dateKey: string) {
  const [usage, settings] = await Promise.all([
    db.pullUsage.findUnique({ where: { tenantId_dateKey_connector: { tenantId, dateKey, connector: "" } }, select: { units: true } }),
    db.perceptionSettings.findUnique({ where: { tenantId }, select: { unitsPerDay: true } }),
  ]);
  return { used: usage?.units ?? 0, cap: settings?.unitsPerDay ?? null };
}

export function findMetricsTokenByHash(db: DbOrTx, tokenHash: string) {
  return db.metricsToken.findUnique({ where: { tokenHash } });
}

export function findMetricsToken(db: DbOrTx, tenantId: string) {
  return db.metricsToken.findUnique({ where: { tenantId } });
}

export function replaceMetricsToken(
  db: DbOrTx,
  row: { tenantId: string; tokenHash: string; prefix: string; createdBy: string | null },
  now: Date,
) {
  const data = { tokenHash: row.tokenHash, prefix: row.prefix, createdBy: row.createdBy, createdAt: now, lastUsedAt: null };
  return db.metricsToken.upsert({ where: { tenantId: row.tenantId }, create: { tenantId: row.tenantId, ...data }, update: data });
}

/** Conditional on the hash, so a token rotated meanwhile is not marked used by the old one. */
export function markMetricsTokenUsed(db: DbOrTx, tokenHash: string, now: Date) {
  return db.metricsToken.updateMany({ where: { tokenHash }, data: { lastUsedAt: now } });
}
