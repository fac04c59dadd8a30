import { connectorDepsFromEnv } from "@/server/http/deps";
import { gateViewDto } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { ReviewBody } from "@/server/schemas/autonomy";
import { IdParam } from "@/server/schemas/rest";
import { approveIntent } from "@/server/services/reviews";

export const dynamic = "force-dynamic";

export const POST = restRoute<{ id: string }>(["approve"], async ({ req, params, db, clock, viewer }) => {
  const { id } = IdParam.parse(params);
  const b = await jsonBody(req, ReviewBody);
  const v = await approveIntent({ db, clock, connectors: connectorDepsFromEnv() }, viewer, id, {
    reason: b.reason,
    editedParameters: b.edited_parameters,
    actorLabel: b.actor,
  });
  return { ...gateViewDto(v), edited: v.edited };
});
