import { connectorDto, connectorNameParam } from "@/server/http/connectorDto";
import { connectorDepsFromEnv, connectorSecretKeyFromEnv } from "@/server/http/deps";
import { jsonBody, restRoute } from "@/server/http/rest";
import { ConnectorPutBody } from "@/server/schemas/connectors";
import { getConnector, putConnector } from "@/server/services/connectors";

export const dynamic = "force-dynamic";

type Params = { name: string };

export const GET = restRoute<Params>(["read"], async ({ params, db, viewer }) => {
  const name = connectorNameParam(params.name);
  return connectorDto(await getConnector({ db, smtpConfigured: connectorDepsFromEnv().smtp !== null }, viewer, name));
});

export const PUT = restRoute<Params>(["admin"], async ({ req, params, db, viewer, clock }) => {
  const name = connectorNameParam(params.name);
  const b = await jsonBody(req, ConnectorPutBody);
  const view = await putConnector(
    { db, clock, secretKey: connectorSecretKeyFromEnv(), smtpConfigured: connectorDepsFromEnv().smtp !== null },
    viewer,
    name,
    {
      enabled: b.enabled,
      baseUrl: b.base_url,
      token: b.token,
      rateLimitPerMinute: b.rate_limit_per_minute,
      maxConcurrency: b.max_concurrency,
      breaker: b.breaker,
      slo: b.slo,
      reason: b.reason,
    },
  );
  return { ...connectorDto(view), ...(view.signingSecret ? { signing_secret: view.signingSecret } : {}) };
});
