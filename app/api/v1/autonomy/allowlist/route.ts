import { jsonBody, queryParams, restRoute } from "@/server/http/rest";
import { AccountQuery, AllowlistPutBody } from "@/server/schemas/autonomy";
import { getAllowlist, putAllowlist } from "@/server/services/autonomyConfig";

export const dynamic = "force-dynamic";

export const GET = restRoute(["admin"], async ({ req, db, viewer }) => {
  const q = queryParams(req, AccountQuery);
  return { account_id: q.account_id ?? null, action_types: await getAllowlist(db, viewer, q.account_id) };
});

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, AllowlistPutBody);
  return {
    account_id: b.account_id ?? null,
    action_types: await putAllowlist(db, viewer, { accountId: b.account_id, actionTypes: b.action_types }, clock),
  };
});
