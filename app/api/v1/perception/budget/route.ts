import { jsonBody, restRoute } from "@/server/http/rest";
import { PullBudgetPutBody } from "@/server/schemas/perception";
import { getPullBudget, type PullBudgetView, putPullBudget } from "@/server/services/perception";

export const dynamic = "force-dynamic";

const budgetDto = (b: PullBudgetView) => ({
  units_per_day: b.unitsPerDay,
  per_connector: b.perConnector,
  used_today: b.usedToday,
  remaining_today: b.remainingToday,
  date_key: b.dateKey,
  per_connector_used: b.perConnectorUsed,
  updated_at: b.updatedAt?.toISOString() ?? null,
});

export const GET = restRoute(["read"], async ({ db, viewer, clock }) => budgetDto(await getPullBudget(db, viewer, clock)));

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, PullBudgetPutBody);
  return budgetDto(
    await putPullBudget(db, viewer, { unitsPerDay: b.units_per_day, perConnector: b.per_connector, reason: b.reason }, clock),
  );
});
