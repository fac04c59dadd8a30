import { connectorDepsFromEnv } from "@/server/http/deps";
import { snake } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { AlertHookBody } from "@/server/schemas/alertHook";
import { getAlertHook, rotateAlertHook } from "@/server/services/alertHook";

export const dynamic = "force-dynamic";

export const GET = restRoute(["admin"], async ({ db, viewer }) => snake(await getAlertHook(db, viewer)));

/** Create or rotate: `{ url, token }` is in this answer only. */
export const POST = restRoute(["admin"], async ({ req, db, viewer, clock }) =>
  Response.json(snake(await rotateAlertHook(db, connectorDepsFromEnv(), viewer, await jsonBody(req, AlertHookBody), clock)), {
    status: 201,
  }),
);
