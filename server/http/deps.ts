import type { Clock } from "../clock";
import { smtpConfigFromUrl } from "../connectors/email";
import type { Db } from "../db";
import { env } from "../env";
import type { JobDeps } from "../jobs/registry";
import type { ConnectorDeps } from "../services/executor";
import { synthesizerFromEnv } from "../services/llmSynthesizer";

/** Connector settings from the environment, built at the edge so services never read env. */
export function connectorDepsFromEnv(): ConnectorDeps {
  const e = env();
  return { smtp: e.SMTP_URL ? smtpConfigFromUrl(e.SMTP_URL, e.SMTP_FROM) : null };
}

/** Everything a scheduled job needs, for the cron route, the CLI and the local scheduler. */
export function jobDepsFromEnv(db: Db, clock: Clock, workerId: string): JobDeps {
  return { db, clock, workerId, connectors: connectorDepsFromEnv(), synthesizer: synthesizerFromEnv(env()) };
}
