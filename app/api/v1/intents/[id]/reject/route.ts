import { connectorDepsFromEnv } from "@/server/http/deps";
import { gateViewDto } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { RejectBody } from "@/server/schemas/autonomy";
import { IdParam } from "@/server/schemas/rest";
import { rejectIntent } from "@/server/services/reviews";

export const dynamic = "force-dynamic";

export const POST = restRoute<{ id: string }>(["approve"], async ({ req, params, db, clock, viewer }) => {
  const { id } = IdParam.parse(params);
  const b = await jsonBody(req, RejectBody);
  return gateViewDto(
    await rejectIntent({ db, clock, connectors: connectorDepsFromEnv() }, viewer, id, { reason: b.reason, actorLabel: b.actor }),
  );
});
