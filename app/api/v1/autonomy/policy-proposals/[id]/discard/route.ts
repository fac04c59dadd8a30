import { snake } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { ProposalEndBody } from "@/server/schemas/policyLab";
import { endPolicyProposal } from "@/server/services/policyLab";

export const dynamic = "force-dynamic";

/** End the proposal without touching the configuration. */
export const POST = restRoute<{ id: string }>(["admin"], async ({ req, params, db, viewer, clock }) => {
  const b = await jsonBody(req, ProposalEndBody);
  return snake(await endPolicyProposal(db, viewer, params.id, "DISCARDED", b.reason, clock));
});
