import { queryParams, restRoute } from "@/server/http/rest";
import { RestHeatQuery } from "@/server/schemas/heat";
import { heatOverview } from "@/server/services/heat";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], async ({ req, db, viewer }) => {
  const { limit, cursor } = queryParams(req, RestHeatQuery);
  const o = await heatOverview(db, viewer, { limit, cursor });
  return {
    tiers: o.tiers,
    items: o.items.map((i) => ({ account_id: i.accountId, score: i.score, tier: i.tier })),
    next_cursor: o.nextCursor,
  };
});
