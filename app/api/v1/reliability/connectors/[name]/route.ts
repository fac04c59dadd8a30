import { connectorNameParam } from "@/server/http/connectorDto";
import { reliabilityDto } from "@/server/http/reliabilityDto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { ReliabilityPutBody } from "@/server/schemas/reliability";
import { setForcedOpen } from "@/server/services/resilience";

export const dynamic = "force-dynamic";

type Params = { name: string };

export const PUT = restRoute<Params>(["admin"], async ({ req, params, db, viewer, clock }) => {
  const name = connectorNameParam(params.name);
  const b = await jsonBody(req, ReliabilityPutBody);
  return reliabilityDto(await setForcedOpen({ db, clock }, viewer, { name, forcedOpen: b.forced_open, reason: b.reason }));
});
