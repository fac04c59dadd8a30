import { connectorDepsFromEnv } from "@/server/http/deps";
import { gateViewDto } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { IntentBody } from "@/server/schemas/autonomy";
import { submitIntent } from "@/server/services/gate";

export const dynamic = "force-dynamic";

export const POST = restRoute(["ingest"], async ({ req, db, clock, viewer }) => {
  const b = await jsonBody(req, IntentBody);
  const v = await submitIntent({ db, clock, connectors: connectorDepsFromEnv() }, viewer, {
    accountId: b.account_id,
    actionType: b.action_type,
    confidence: b.confidence,
    riskLevel: b.risk_level,
    why: b.why,
    parameters: b.parameters ?? {},
    target: b.target ?? {},
    blockingUnknowns: b.blocking_unknowns ?? [],
    rankScore: b.rank_score,
    idempotencyKey: b.idempotency_key,
    source: "API",
  });
  return Response.json({ ...gateViewDto(v), duplicate: v.duplicate }, { status: v.duplicate ? 200 : 201 });
});
