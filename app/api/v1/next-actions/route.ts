import { queryParams, restRoute } from "@/server/http/rest";
import { RestNextActionsQuery } from "@/server/schemas/nextActions";
import { nextActions } from "@/server/services/nextActions";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], async ({ req, db, viewer }) => {
  const q = queryParams(req, RestNextActionsQuery);
  return nextActions(db, viewer, { accountId: q.account_id, ownerId: q.owner_id, limit: q.limit, cursor: q.cursor });
});
