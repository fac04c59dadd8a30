import type { Clock } from "../clock";
import type { Db } from "../db";
import { hash32, type PullDepth } from "../engine/cadence";
import type { RunnerAvailability } from "../engine/perception";
import { AppError } from "../errors";
import { findConnectorConfig } from "../repos/connectors";
import { tenantSlugOf } from "../repos/perception";
import type { Viewer } from "../repos/scope";
import { connectorLimits } from "./connectors";
import { pullCrmAccount } from "./crmSync";
import type { ConnectorDeps } from "./executor";
import { DEMO_SIGNALS, prng } from "./seed";
import { ingestSignal } from "./signals";

/**
 * Pull connectors, by name. A runner reads one account from its source and turns what it finds
 * into signals through the normal intake (services/signals.ts). It is called only after the pull
 * was admitted (services/perception.ts) and outside the budget transaction.
 */
export interface PullContext {
  db: Db;
  clock: Clock;
  /** the admitted pull's id: a runner derives its dedupe keys from it, so a re-run adds nothing */
  pullJobId: string;
  /** outbound settings from the environment; the CRM runner needs the token's sealing key */
  connectors?: ConnectorDeps;
}

export interface RateLimits {
  perTenantPerMinute: number;
  globalPerMinute: number;
}

export interface PullRunner {
  /** READY, or why this tenant cannot use the connector (a clear SKIP reason upstream) */
  availability(db: Db, tenantId: string): Promise<RunnerAvailability>;
  /**
   * Requests per minute: per tenant, and for the connector across all tenants (counted in the
   * database, so shared by every instance). A function when they come from the tenant's connector
   * settings (the CRM's `rate_limit_per_minute`).
   */
  rateLimits: RateLimits | ((db: Db, tenantId: string) => Promise<RateLimits>);
  run(ctx: PullContext, tenantId: string, accountId: string, depth: PullDepth): Promise<{ signals: number }>;
}

export type PullRunners = Record<string, PullRunner>;

export function rateLimitsOf(runner: PullRunner, db: Db, tenantId: string): Promise<RateLimits> {
  return typeof runner.rateLimits === "function" ? runner.rateLimits(db, tenantId) : Promise.resolve(runner.rateLimits);
}

const HOUR = 3_600_000;

/**
 * The built-in demo source as a pull connector (SPEC §4.4): for an account of the `demo` tenant
 * it "finds" realistic activity — a shallow pull looks back an hour and finds at most one thing,
 * a deep pull looks back a day and finds one to three. Seeded by the pull-job id, so the same
 * pull always finds the same facts, and their dedupe keys make a repeated run a no-op.
 */
export const demoPullRunner: PullRunner = {
  async availability(db, tenantId) {
    return (await tenantSlugOf(db, tenantId)) === "demo" ? "READY" : "NOT_CONFIGURED";
  },
  rateLimits: { perTenantPerMinute: 120, globalPerMinute: 600 },
  async run(ctx, tenantId, accountId, depth) {
    const r = prng(hash32(`${tenantId}:${ctx.pullJobId}`));
    const now = ctx.clock.now();
    const lookback = depth === "DEEP" ? 24 * HOUR : HOUR;
    const count = depth === "DEEP" ? r.int(1, 3) : r.int(0, 1);
    const viewer: Viewer = { tenantId, actor: { type: "SYSTEM", id: "perception:demo" }, role: null, userId: null };
    let created = 0;
    for (let i = 0; i < count; i++) {
      const sig = r.pick(DEMO_SIGNALS);
      const res = await ingestSignal(
        ctx.db,
        viewer,
        {
          accountId,
          signalType: sig.type,
          severity: sig.severity,
          evidence: { ...sig.evidence(r), source: "demo", pull: depth.toLowerCase() },
          dedupeKey: `pull:demo:${ctx.pullJobId}:${i}`,
          occurredAt: new Date(now.getTime() - Math.floor(r.next() * lookback)),
          source: "demo-pull",
        },
        ctx.clock,
      );
      if (!res.duplicate) created += 1;
    }
    return { signals: created };
  },
};

/**
 * Without a configured `rate_limit_per_minute` a tenant's CRM pulls are held to HubSpot's
 * smallest published burst allowance (100 requests / 10 s for a private app) spread over a
 * minute; the global cap keeps one instance fleet well inside the shared daily limits.
 */
const CRM_DEFAULT_PER_TENANT_PER_MINUTE = 100;
const CRM_GLOBAL_PER_MINUTE = 1000;

/**
 * The CRM as a pull connector: a SHALLOW pull re-reads the company, a DEEP one also its contacts
 * and deals (services/crmSync.ts `pullCrmAccount`); changes become signals and triggers there.
 */
export const crmPullRunner: PullRunner = {
  async availability(db, tenantId) {
    const row = await findConnectorConfig(db, tenantId, "CRM");
    if (!row?.secret) return "NOT_CONFIGURED";
    return row.enabled ? "READY" : "DISABLED";
  },
  async rateLimits(db, tenantId) {
    const limits = await connectorLimits(db, tenantId, "crm");
    return { perTenantPerMinute: limits.rateLimitPerMinute ?? CRM_DEFAULT_PER_TENANT_PER_MINUTE, globalPerMinute: CRM_GLOBAL_PER_MINUTE };
  },
  run(ctx, tenantId, accountId, depth) {
    if (!ctx.connectors) throw new AppError("UNPROCESSABLE", "CRM pulls need the connector settings of this process (the token's key)");
    return pullCrmAccount({ db: ctx.db, clock: ctx.clock, connectors: ctx.connectors }, tenantId, accountId, depth);
  },
};

/** The registered pull runners, by the connector name a pull request names. */
export const PULL_RUNNERS: PullRunners = {
  demo: demoPullRunner,
  crm: crmPullRunner,
};
