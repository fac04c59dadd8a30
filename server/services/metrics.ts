import { createHash, randomBytes } from "node:crypto";
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { breakerState } from "../engine/breaker";
import { utcDateKey } from "../engine/budget";
import { AppError } from "../errors";
import { callOutcomeCounts, listBreakers } from "../repos/breaker";
import { appendLedger } from "../repos/ledger";
import {
  autonomyBudgetToday,
  type DurationBuckets,
  decisionRunCounts,
  executionCounts,
  findMetricsToken,
  findMetricsTokenByHash,
  markMetricsTokenUsed,
  openJobs,
  pullBudgetToday,
  pullDuration,
  replaceMetricsToken,
  toolCallLatency,
  wrapperCallLatency,
} from "../repos/metrics";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { BREAKER_STATES } from "../schemas/reliability";
import { authenticateApiKey } from "./apiKeys";
import { flushCallSamples } from "./callSamples";
import { tenantReliability } from "./resilience";

/**
 * `GET /api/metrics` (SPEC §5.1): Prometheus text for one tenant — the one its admin API key or
 * metrics token belongs to. The numbers come from the database at scrape time (so every instance
 * answers the same) into a fresh registry per request; only the process's own default metrics
 * live in a long-lived registry. Label values are connector names, statuses, verdicts and job
 * kinds — never ids of people, keys, emails or accounts.
 */

/** Seconds; tool calls are HTTP requests, so the interesting range is 5 ms … 30 s. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
export const LATENCY_WINDOW_MS = 24 * 3_600_000;

const TOKEN_PATTERN = /^mt_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

// Default metrics register timers and GC observers: once per process, not once per scrape.
const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: "autopilot_" });

/** Who may scrape: the tenant of an admin-scope API key, or of a metrics token. 401 / 403 otherwise. */
export async function authenticateMetrics(db: Db, authorization: string | null, clock: Clock): Promise<string> {
  const presented = authorization?.startsWith("Bearer ") ? authorization.slice(7).trim() : "";
  if (TOKEN_PATTERN.test(presented)) {
    const hash = sha256(presented);
    const row = await findMetricsTokenByHash(db, hash);
    if (!row) throw new AppError("UNAUTHORIZED", "Missing or invalid metrics token or API key");
    await markMetricsTokenUsed(db, hash, clock.now());
    return row.tenantId;
  }
  // Anything else is treated as an API key; its own errors are 401 without detail.
  const principal = await authenticateApiKey(db, authorization, clock);
  if (!principal.scopes.includes("admin")) throw new AppError("FORBIDDEN", "Metrics need an admin API key or the tenant's metrics token");
  return principal.tenantId;
}

/**
 * A histogram whose buckets were counted by the database. prom-client's Histogram only learns
 * through observe(); this speaks the registry's metric interface with the aggregated values.
 */
function aggregatedHistogram(name: string, help: string, bounds: readonly number[], series: DurationBuckets[]): Metric {
  const values = series.flatMap((s) => [
    ...bounds.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: s.buckets[i] ?? 0 })),
    { metricName: `${name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count },
    { metricName: `${name}_sum`, labels: s.labels, value: s.sumSeconds },
    { metricName: `${name}_count`, labels: s.labels, value: s.count },
  ]);
  return {
    name,
    help,
    type: "histogram",
    get: async () => ({ name, help, type: "histogram", values, aggregator: "sum" }),
  } as unknown as Metric;
}

export async function renderMetrics(db: Db, tenantId: string, clock: Clock) {
  // This process's buffered call samples count too (services/callSamples.ts).
  await flushCallSamples(db, tenantId);
  const now = clock.now();
  const since = new Date(now.getTime() - LATENCY_WINDOW_MS);
  const dateKey = utcDateKey(now);
  const [calls, pulls, executions, runs, jobs, budget, pullBudget, wrapped, outcomes, breakers, reliability] = await Promise.all([
    toolCallLatency(db, tenantId, since, LATENCY_BUCKETS),
    pullDuration(db, tenantId, since, LATENCY_BUCKETS),
    executionCounts(db, tenantId),
    decisionRunCounts(db, tenantId),
    openJobs(db, tenantId),
    autonomyBudgetToday(db, tenantId, dateKey),
    pullBudgetToday(db, tenantId, dateKey),
    wrapperCallLatency(db, tenantId, since, LATENCY_BUCKETS),
    callOutcomeCounts(db, tenantId, since),
    listBreakers(db, tenantId),
    tenantReliability({ db, clock }, tenantId),
  ]);

  const registry = new Registry();
  registry.registerMetric(
    aggregatedHistogram(
      "autopilot_connector_call_duration_seconds",
      "Connector (tool) call latency over the last 24 hours, by connector and call status",
      LATENCY_BUCKETS,
      calls,
    ),
  );
  registry.registerMetric(
    aggregatedHistogram(
      "autopilot_perception_pull_duration_seconds",
      "Perception pull duration over the last 24 hours, by connector and pull status",
      LATENCY_BUCKETS,
      pulls,
    ),
  );
  registry.registerMetric(
    aggregatedHistogram(
      "autopilot_connector_wrapper_call_duration_seconds",
      "Every connector call the resilience wrapper made over the last 24 hours (each attempt), by connector and outcome (SUCCESS | ERROR | TIMEOUT)",
      LATENCY_BUCKETS,
      wrapped,
    ),
  );
  // This scrape is one tenant's (its key or token), so no tenant label is needed — or added.
  const wrapperCalls = new Gauge({
    name: "autopilot_connector_calls_last_24h",
    help: "Connector calls seen by the resilience wrapper over the last 24 hours, by connector and outcome (SUCCESS | ERROR | TIMEOUT | FAIL_FAST | DEFERRED)",
    labelNames: ["connector", "outcome"],
    registers: [registry],
  });
  for (const o of outcomes) wrapperCalls.set({ connector: o.connector, outcome: o.outcome }, o.count);
  const breakerGauge = new Gauge({
    name: "autopilot_connector_breaker_state",
    help: "1 for each used connector's current breaker state (CLOSED | OPEN | HALF_OPEN | FORCED_OPEN), 0 for the others; an unused connector is absent (CLOSED)",
    labelNames: ["connector", "state"],
    registers: [registry],
  });
  // Only connectors this tenant's wrapper has touched (a breaker row exists): a connector the tenant
  // never used is absent, not a row of zeros — absence reads as CLOSED.
  for (const b of breakers) {
    const current = breakerState(b, now);
    for (const state of BREAKER_STATES) breakerGauge.set({ connector: b.connector, state }, current === state ? 1 : 0);
  }
  // Each connector's SLO over its own window against its own target (its `slo` setting, else the
  // default): what the reliability page shows, for alerting from Prometheus. Like the breaker
  // gauge, only connectors with calls in their window: no calls, nothing to judge.
  const sloFamilies = {
    alert: [
      "autopilot_connector_slo_alert",
      "1 when the connector's p99 latency or error rate breaches its SLO target over its window, else 0",
    ],
    p99: ["autopilot_connector_slo_p99_seconds", "p99 latency of the connector's calls over its SLO window"],
    errors: ["autopilot_connector_slo_error_ratio", "Error rate (0..1) of the connector's calls over its SLO window"],
    targetP99: ["autopilot_connector_slo_target_p99_seconds", "The connector's p99 latency target (its slo setting, else the default 2 s)"],
    targetErrors: [
      "autopilot_connector_slo_target_error_ratio",
      "The connector's error-rate target, 0..1 (its slo setting, else the default 0.05)",
    ],
  } as const;
  const slo = Object.fromEntries(
    Object.entries(sloFamilies).map(([k, [name, help]]) => [
      k,
      new Gauge({ name, help, labelNames: ["connector"], registers: [registry] }),
    ]),
  ) as Record<keyof typeof sloFamilies, Gauge>;
  for (const c of reliability) {
    if (c.calls === 0) continue;
    const connector = c.connector;
    slo.alert.set({ connector }, c.alert ? 1 : 0);
    if (c.p99Ms !== null) slo.p99.set({ connector }, c.p99Ms / 1000);
    if (c.errorRate !== null) slo.errors.set({ connector }, c.errorRate);
    slo.targetP99.set({ connector }, c.slo.p99Ms / 1000);
    slo.targetErrors.set({ connector }, c.slo.errorRate);
  }
  const executionsTotal = new Counter({
    name: "autopilot_executions_total",
    help: "Executions so far, by status, outcome, approval source (HUMAN | POLICY) and whether autopilot ran it",
    labelNames: ["status", "outcome", "approval_source", "auto_executed"],
    registers: [registry],
  });
  for (const e of executions)
    executionsTotal.inc(
      { status: e.status, outcome: e.outcome ?? "none", approval_source: e.approvalSource, auto_executed: String(e.autoExecuted) },
      e._count._all,
    );
  const runsTotal = new Counter({
    name: "autopilot_decision_runs_total",
    help: "Decision runs so far, by status and cost-gate verdict",
    labelNames: ["status", "verdict"],
    registers: [registry],
  });
  for (const r of runs) runsTotal.inc({ status: r.status, verdict: r.costGateResult ?? "none" }, r._count._all);
  const depth = new Gauge({
    name: "autopilot_job_queue_depth",
    help: "Jobs not finished yet, by kind and status (QUEUED | LEASED)",
    labelNames: ["kind", "status"],
    registers: [registry],
  });
  const age = new Gauge({
    name: "autopilot_job_queue_oldest_age_seconds",
    help: "Age of the oldest unfinished job, by kind and status",
    labelNames: ["kind", "status"],
    registers: [registry],
  });
  for (const j of jobs) {
    depth.set({ kind: j.kind, status: j.status }, j._count._all);
    const oldest = j._min.createdAt;
    age.set({ kind: j.kind, status: j.status }, oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0);
  }
  new Gauge({
    name: "autopilot_autonomy_budget_used_today",
    help: "Autonomous actions consumed today (UTC), all accounts",
    registers: [registry],
  }).set(budget.used);
  if (budget.defaultCapPerAccount !== null)
    new Gauge({
      name: "autopilot_autonomy_budget_cap_per_account",
      help: "The tenant's default daily cap of autonomous actions per account",
      registers: [registry],
    }).set(budget.defaultCapPerAccount);
  new Gauge({ name: "autopilot_pull_budget_used_today", help: "Perception pull units used today (UTC)", registers: [registry] }).set(
    pullBudget.used,
  );
  if (pullBudget.cap !== null)
    new Gauge({ name: "autopilot_pull_budget_cap_today", help: "Perception pull units allowed per day", registers: [registry] }).set(
      pullBudget.cap,
    );

  const merged = Registry.merge([processRegistry, registry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

// ───────────── the metrics token: one per tenant, only its SHA-256 stored ─────────────

export async function getMetricsToken(db: Db, viewer: Viewer) {
  const row = await findMetricsToken(db, viewer.tenantId);
  return row
    ? { exists: true as const, prefix: row.prefix, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt }
    : { exists: false as const };
}

/** Create or rotate: the previous token stops working with this commit. The token is in this answer only. */
export async function rotateMetricsToken(db: Db, viewer: Viewer, clock: Clock) {
  const prefix = randomBytes(6).toString("base64url").replace(/[-_]/g, "x").slice(0, 8);
  const token = `mt_${prefix}_${randomBytes(32).toString("base64url")}`;
  const now = clock.now();
  await inTransaction(db, async (tx) => {
    await replaceMetricsToken(
      tx,
      {
        tenantId: viewer.tenantId,
        tokenHash: sha256(token),
        prefix: `mt_${prefix}`,
        createdBy: viewer.actor.type === "USER" ? viewer.actor.id : null,
      },
      now,
    );
    await appendLedger(
      tx,
      { tenantId: viewer.tenantId, type: "METRICS_TOKEN_CREATED", actor: viewer.actor, payload: { prefix: `mt_${prefix}` } },
      now,
    );
  });
  return { token, prefix: `mt_${prefix}`, createdAt: now };
}
