import { snake } from "@/server/http/dto";
import { queryParams, restRoute } from "@/server/http/rest";
import { ExplanationQuery } from "@/server/schemas/autonomy";
import { explain } from "@/server/services/explanation";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], async ({ req, db, viewer }) => {
  const q = queryParams(req, ExplanationQuery);
  return snake(await explain(db, viewer, { executionId: q.execution_id, actionIntentId: q.action_intent_id }));
});
