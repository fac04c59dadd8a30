import { jsonBody, restRoute } from "@/server/http/rest";
import { ReasonBody } from "@/server/schemas/learning";
import { rollbackWeights } from "@/server/services/learning/registry";

export const dynamic = "force-dynamic";

/** Roll the ACTIVE weights back to the version before (or the rules ranking), effective on the next request. */
export const POST = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, ReasonBody);
  return rollbackWeights(db, clock, viewer, b.reason);
});
