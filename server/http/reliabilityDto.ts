import type { ConnectorReliability } from "../services/resilience";

/** The REST (snake_case) form, SPEC §5.1 `GET /api/v1/reliability/connectors`. */
export function reliabilityDto(c: ConnectorReliability) {
  return {
    connector: c.connector,
    state: c.state,
    in_flight: c.inFlight,
    max_concurrency: c.maxConcurrency,
    p50_ms: c.p50Ms,
    p99_ms: c.p99Ms,
    error_rate: c.errorRate,
    calls: c.calls,
    slo: { p99_ms: c.slo.p99Ms, error_rate: c.slo.errorRate, window_seconds: c.slo.windowSeconds, min_samples: c.slo.minSamples },
    alert: c.alert,
    breached: c.breached,
    retry_at: c.retryAt?.toISOString() ?? null,
    forced_reason: c.forcedReason,
    last_error: c.lastError,
    breaker: {
      failure_threshold: c.breaker.failureThreshold,
      window_seconds: c.breaker.windowSeconds,
      cooldown_seconds: c.breaker.cooldownSeconds,
    },
  };
}
