import { smtpConfigFromUrl } from "../connectors/email";
import { env } from "../env";
import type { ConnectorDeps } from "../services/executor";

/** Connector settings from the environment, built at the edge so services never read env. */
export function connectorDepsFromEnv(): ConnectorDeps {
  const e = env();
  return { smtp: e.SMTP_URL ? smtpConfigFromUrl(e.SMTP_URL, e.SMTP_FROM) : null };
}
