import { connectorDepsFromEnv } from "@/server/http/deps";
import { jsonBody, restRoute } from "@/server/http/rest";
import { PullPostBody } from "@/server/schemas/perception";
import { requestPull } from "@/server/services/perception";

export const dynamic = "force-dynamic";

/** One pull decision (SPEC §4.4): RUN executes the connector before answering; DEFER says when to retry. */
export const POST = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, PullPostBody);
  const a = await requestPull({ db, clock, connectors: connectorDepsFromEnv() }, viewer, {
    accountId: b.account_id,
    connector: b.connector,
    depth: b.depth,
    pullJobId: b.pull_job_id,
    source: "api",
  });
  return {
    result: a.result,
    reason: a.reason,
    ...(a.retryAfterSeconds !== undefined ? { retry_after_seconds: a.retryAfterSeconds } : {}),
    pull_job_id: b.pull_job_id,
    tier: a.tier,
    units: a.units,
    ...(a.run ? { run: { status: a.run.status, signals: a.run.signals } } : {}),
  };
});
