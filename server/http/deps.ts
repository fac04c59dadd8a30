import type { Clock } from "../clock";
import { smtpConfigFromUrl } from "../connectors/email";
import { type SecretKey, secretKeyFrom } from "../connectors/secretBox";
import type { Db } from "../db";
import { env } from "../env";
import type { JobDeps } from "../jobs/registry";
import type { ConnectorDeps } from "../services/executor";
import { synthesizerFromEnv } from "../services/llmSynthesizer";

/** Connector settings from the environment, built at the edge so services never read env. */
export function connectorDepsFromEnv(): ConnectorDeps {
  const e = env();
  return {
    smtp: e.SMTP_URL ? smtpConfigFromUrl(e.SMTP_URL, e.SMTP_FROM) : null,
    secretKey: connectorSecretKeyFromEnv(),
    publicUrl: (e.APP_URL ?? e.BETTER_AUTH_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ""),
    ...(e.CONNECTOR_MAX_CONCURRENCY ? { resilience: { globalMaxConcurrency: e.CONNECTOR_MAX_CONCURRENCY } } : {}),
  };
}

/** The key that seals connector tokens: CONNECTOR_SECRET_KEY, else one derived from BETTER_AUTH_SECRET. */
export function connectorSecretKeyFromEnv(): SecretKey | null {
  const e = env();
  if (e.CONNECTOR_SECRET_KEY) return secretKeyFrom(e.CONNECTOR_SECRET_KEY);
  if (e.BETTER_AUTH_SECRET) return secretKeyFrom(e.BETTER_AUTH_SECRET, "autopilot-connector-secret-from-auth");
  return null;
}

/** Everything a scheduled job needs, for the cron route, the CLI and the local scheduler. */
export function jobDepsFromEnv(db: Db, clock: Clock, workerId: string): JobDeps {
  return {
    db,
    clock,
    workerId,
    connectors: connectorDepsFromEnv(),
    synthesizer: synthesizerFromEnv(env()),
    exports: { dir: env().EXPORT_DIR, databaseUrl: env().DATABASE_URL },
  };
}
