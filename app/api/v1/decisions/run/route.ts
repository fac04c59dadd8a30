import { jsonBody, restRoute } from "@/server/http/rest";
import { DecisionRunBody } from "@/server/schemas/decisions";
import { requestRun } from "@/server/services/decisions";

export const dynamic = "force-dynamic";

export const POST = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, DecisionRunBody);
  const res = await requestRun(
    db,
    viewer,
    { accountId: b.account_id, triggerType: b.trigger_type, idempotencyKey: b.idempotency_key },
    clock,
  );
  return Response.json(
    { run_id: res.runId, result: res.result, ...(res.reason ? { reason: res.reason } : {}) },
    { status: res.result === "QUEUED" ? 202 : 200 },
  );
});
