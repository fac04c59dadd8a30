import { notFound } from "../errors";
import { CONNECTOR_NAMES, type ConnectorName } from "../schemas/connectors";
import type { ConnectorView } from "../services/connectors";

/** A path segment naming a connector; anything else is a connector that does not exist (404). */
export function connectorNameParam(raw: string): ConnectorName {
  if (!(CONNECTOR_NAMES as readonly string[]).includes(raw)) throw notFound("Connector");
  return raw as ConnectorName;
}

/** The REST (snake_case) form of a connector's settings. Never a token: only `token_set`. */
export function connectorDto(v: ConnectorView) {
  return {
    name: v.name,
    enabled: v.enabled,
    configured: v.configured,
    base_url: v.baseUrl,
    token_set: v.tokenSet,
    rate_limit_per_minute: v.rateLimitPerMinute,
    max_concurrency: v.maxConcurrency,
    breaker: v.breaker,
    breaker_enforced: v.breakerEnforced,
    slo: v.slo,
    detail: v.detail,
    updated_at: v.updatedAt?.toISOString() ?? null,
    sync: v.sync
      ? {
          last_sync_at: v.sync.lastSyncAt?.toISOString() ?? null,
          last_status: v.sync.lastStatus,
          last_error: v.sync.lastError,
          counts: v.sync.counts,
          throttles: v.sync.throttles,
          last_throttle_at: v.sync.lastThrottleAt?.toISOString() ?? null,
          blocked_until: v.sync.blockedUntil?.toISOString() ?? null,
        }
      : null,
  };
}
