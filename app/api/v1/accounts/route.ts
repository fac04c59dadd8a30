import { accountDto } from "@/server/http/dto";
import { queryParams, restRoute } from "@/server/http/rest";
import { RestAccountListQuery } from "@/server/schemas/rest";
import { listVisibleAccounts } from "@/server/services/accounts";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], async ({ req, db, viewer }) => {
  const { limit, cursor, ...filter } = queryParams(req, RestAccountListQuery);
  const page = await listVisibleAccounts(db, viewer, filter, { limit, cursor });
  return { items: page.items.map(accountDto), next_cursor: page.nextCursor };
});
