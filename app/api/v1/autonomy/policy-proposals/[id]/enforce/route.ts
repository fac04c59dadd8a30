import { snake } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { ProposalEndBody } from "@/server/schemas/policyLab";
import { endPolicyProposal } from "@/server/services/policyLab";

export const dynamic = "force-dynamic";

/** Apply the proposal's changes to the real configuration (a reason when they widen autonomy) and end it. */
export const POST = restRoute<{ id: string }>(["admin"], async ({ req, params, db, viewer, clock }) => {
  const b = await jsonBody(req, ProposalEndBody);
  return snake(await endPolicyProposal(db, viewer, params.id, "ENFORCED", b.reason, clock));
});
