import { z } from "zod";

/**
 * Environment, validated once. Only the edges (db bootstrap, auth, route handlers, scripts) read
 * it; services and the engine receive plain config values.
 */
const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  DATABASE_URL: z.string().min(1).default("file:./data/autopilot.db"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  BETTER_AUTH_SECRET: z.string().min(16).optional(),
  BETTER_AUTH_URL: z.string().url().optional(),
  BETTER_AUTH_TRUSTED_ORIGINS: z.string().optional(),
  /** Sign-in attempts allowed per IP per minute (better-auth's rate limiter, stored in the db). */
  AUTH_SIGNIN_RATE_LIMIT: z.coerce.number().int().min(1).default(10),
  /**
   * Reverse proxies in front of the app that append to X-Forwarded-For. 0 (default): the header
   * is ignored and the sign-in limit keys on the TCP peer address (server/auth/clientIp.ts).
   */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /** set by scripts/web.ts for its own process: proves the client-IP stamp came from it */
  AUTOPILOT_EDGE_SECRET: z.string().min(16).optional(),
  CRON_SECRET: z.string().min(16).optional(),
  /** smtp://user:pass@host:port or smtps://…; unset → SEND_EMAIL executions fail with a clear reason */
  SMTP_URL: z.string().optional(),
  SMTP_FROM: z.string().default("Autopilot <autopilot@autopilot.local>"),
  /** optional LLM synthesizer: openai | anthropic (default: whichever key is set; none → rules) */
  LLM_PROVIDER: z.enum(["openai", "anthropic"]).optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  LLM_MODEL: z.string().min(1).optional(),
  /**
   * Key that seals connector tokens at rest (AES-256-GCM): 64 hex chars, 32-byte base64, or any
   * passphrase (hashed). Unset → derived from BETTER_AUTH_SECRET; neither → no token can be stored.
   */
  CONNECTOR_SECRET_KEY: z.string().min(16).optional(),
  /** the origin people reach the product at, for links in emails and webhooks (default http://localhost:PORT) */
  APP_URL: z.string().url().optional(),
  /** where audit export files are written and served from (one directory shared by web and workers) */
  EXPORT_DIR: z.string().min(1).default("./data/exports"),
  /**
   * Calls in flight per connector across every tenant, shared by all instances (the resilience
   * wrapper's "*" slots): `crm=20,webhook=50`. Unset: only each tenant's own `max_concurrency`.
   */
  CONNECTOR_MAX_CONCURRENCY: z
    .string()
    .regex(
      /^\s*(internal|webhook|email|crm)\s*=\s*[1-9]\d{0,3}\s*(,\s*(internal|webhook|email|crm)\s*=\s*[1-9]\d{0,3}\s*)*$/,
      "CONNECTOR_MAX_CONCURRENCY must look like crm=20,webhook=50 (connectors internal, webhook, email, crm; 1–9999)",
    )
    .transform(
      (v) =>
        Object.fromEntries(
          v.split(",").map((pair) => {
            const [name, n] = pair.split("=").map((x) => x.trim());
            return [name, Number(n)];
          }),
        ) as Partial<Record<"internal" | "webhook" | "email" | "crm", number>>,
    )
    .optional(),
  DEMO_PASSWORD: z.string().min(8).default("autopilot-demo"),
  APP_VERSION: z.string().default("0.1.0"),
});

export type Env = z.infer<typeof EnvSchema>;

let cached: Env | undefined;

/** Validate an environment (process.env at the edges); a bad value throws naming the variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid environment: ${issues}`);
  }
  return parsed.data;
}

export function env(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
