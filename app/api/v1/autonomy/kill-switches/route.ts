import { snake } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { KillSwitchPutBody } from "@/server/schemas/autonomy";
import { getKillSwitches, putKillSwitch } from "@/server/services/autonomyConfig";

export const dynamic = "force-dynamic";

export const GET = restRoute(["admin"], async ({ db, viewer }) => ({ items: snake(await getKillSwitches(db, viewer)) }));

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) =>
  snake(await putKillSwitch(db, viewer, await jsonBody(req, KillSwitchPutBody), clock)),
);
