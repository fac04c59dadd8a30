import { jsonBody, queryParams, restRoute } from "@/server/http/rest";
import { AccountQuery, BudgetPutBody } from "@/server/schemas/autonomy";
import { type BudgetView, getBudget, putBudget } from "@/server/services/autonomyConfig";

export const dynamic = "force-dynamic";

const budgetDto = (b: BudgetView) => ({
  account_id: b.accountId,
  max_autonomous_per_day: b.maxAutonomousPerDay,
  max_per_action_type: b.maxPerActionType,
  decay_if_unused: b.decayIfUnused,
  effective_cap_today: b.effectiveCapToday,
  consumed_today: b.consumedToday,
  remaining_today: b.remainingToday,
  date_key: b.dateKey,
  configured: b.configured,
  updated_at: b.updatedAt?.toISOString() ?? null,
  problem: b.problem,
});

export const GET = restRoute(["read"], async ({ req, db, viewer, clock }) =>
  budgetDto(await getBudget(db, viewer, queryParams(req, AccountQuery).account_id, clock)),
);

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, BudgetPutBody);
  return budgetDto(
    await putBudget(
      db,
      viewer,
      {
        accountId: b.account_id,
        maxPerDay: b.max_autonomous_per_day,
        perTypeCaps: b.max_per_action_type,
        decayIfUnused: b.decay_if_unused,
        ifMatch: b.if_match,
      },
      clock,
    ),
  );
});
