import { jsonBody, restRoute } from "@/server/http/rest";
import { ReasonBody } from "@/server/schemas/learning";
import { promoteWeights } from "@/server/services/learning/registry";

export const dynamic = "force-dynamic";

/** Promote a version past the shadow gate, computed now; a refusal is 409 SHADOW_GATE_NOT_PASSED with the numbers. */
export const POST = restRoute<{ id: string }>(["admin"], async ({ req, params, db, viewer, clock }) => {
  const b = await jsonBody(req, ReasonBody);
  return promoteWeights(db, clock, viewer, params.id, b.reason);
});
