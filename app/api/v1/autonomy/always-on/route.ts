import { snake } from "@/server/http/dto";
import { jsonBody, queryParams, restRoute } from "@/server/http/rest";
import { AlwaysOnPutBody, AlwaysOnQuery } from "@/server/schemas/alwaysOn";
import { getAlwaysOnStatus, setAccountAlwaysOn, setTenantAlwaysOn } from "@/server/services/alwaysOn";

export const dynamic = "force-dynamic";

export const GET = restRoute(["admin"], async ({ req, db, viewer }) =>
  snake(await getAlwaysOnStatus(db, viewer, queryParams(req, AlwaysOnQuery).account_id)),
);

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const body = await jsonBody(req, AlwaysOnPutBody);
  return snake(
    body.account_id === undefined
      ? await setTenantAlwaysOn(db, viewer, body.enabled, clock)
      : await setAccountAlwaysOn(db, viewer, body.account_id, body.enabled, clock),
  );
});
