import { z } from "zod";

/** Connector settings (SPEC §5.1 `GET/PUT /api/v1/connectors/:name`), shared by REST, tRPC and the admin page. */

export const CONNECTOR_NAMES = ["internal", "webhook", "email", "crm"] as const;
export const ConnectorName = z.enum(CONNECTOR_NAMES);
export type ConnectorName = z.infer<typeof ConnectorName>;
export const isConnectorName = (s: string): s is ConnectorName => (CONNECTOR_NAMES as readonly string[]).includes(s);

/**
 * Circuit-breaker settings: `failure_threshold` failures within `window_seconds` open the breaker
 * for `cooldown_seconds`, then one probe decides (services/resilience.ts). Unset → the defaults.
 */
export const BreakerSettings = z.strictObject({
  failure_threshold: z.number().int().min(1).max(1000),
  window_seconds: z.number().int().min(1).max(86_400),
  cooldown_seconds: z.number().int().min(1).max(86_400),
});
export type BreakerSettings = z.infer<typeof BreakerSettings>;

/**
 * A connector's service-level target (SPEC §4.7): the reliability page alerts when its p99 latency
 * or its error rate over the last `window_seconds` is above it, once `min_samples` real calls were
 * made. The same field names as the `slo` that `GET /api/v1/reliability/connectors` reports, so a
 * target read there can be written back here. Unset → the default (engine/slo.ts DEFAULT_SLO).
 * The window is at most a day: call samples are kept 48 hours (services/sweeper.ts).
 */
export const SloSettings = z.strictObject({
  p99_ms: z.number().int().min(1).max(600_000),
  error_rate: z.number().min(0).max(1),
  window_seconds: z.number().int().min(60).max(86_400),
  min_samples: z.number().int().min(1).max(100_000).optional(),
});
export type SloSettings = z.infer<typeof SloSettings>;

/** A private-app token: one line of printable characters (HubSpot's are `pat-<region>-<uuid>`). */
export const ConnectorToken = z
  .string()
  .min(8, "token is too short")
  .max(512)
  .regex(/^[\x21-\x7e]+$/, "token must be one line of printable characters without spaces");

export const ConnectorPutBody = z.strictObject({
  enabled: z.boolean(),
  base_url: z.string().min(1).max(2000).optional(),
  /** write-only: stored encrypted, never returned (GET says token_set) */
  token: ConnectorToken.optional(),
  rate_limit_per_minute: z.number().int().min(1).max(100_000).nullable().optional(),
  max_concurrency: z.number().int().min(1).max(1000).nullable().optional(),
  breaker: BreakerSettings.nullable().optional(),
  slo: SloSettings.nullable().optional(),
  /** why (kept in CONFIG_CHANGED); the admin page asks for one before widening */
  reason: z.string().trim().min(1).max(500).optional(),
});
export type ConnectorPutBody = z.infer<typeof ConnectorPutBody>;

/** The tRPC form of the same write (camelCase like the other procedures). */
export const ConnectorPutInput = z.strictObject({
  name: ConnectorName,
  enabled: z.boolean(),
  baseUrl: z.string().min(1).max(2000).optional(),
  token: ConnectorToken.optional(),
  rateLimitPerMinute: z.number().int().min(1).max(100_000).nullable().optional(),
  maxConcurrency: z.number().int().min(1).max(1000).nullable().optional(),
  breaker: BreakerSettings.nullable().optional(),
  slo: SloSettings.nullable().optional(),
  reason: z.string().trim().min(1).max(500).optional(),
});
export type ConnectorPutInput = z.infer<typeof ConnectorPutInput>;

export const ConnectorNameInput = z.strictObject({ name: ConnectorName });
