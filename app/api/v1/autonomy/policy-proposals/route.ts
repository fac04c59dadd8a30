import { snake } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { ProposalStartBody } from "@/server/schemas/policyLab";
import { listProposals, startProposal } from "@/server/services/policyLab";

export const dynamic = "force-dynamic";

export const GET = restRoute(["admin"], async ({ db, viewer }) => snake(await listProposals(db, viewer)));

/** Start log-only mode: the next gate evaluation already records the proposal's answer. */
export const POST = restRoute(["admin"], async ({ req, db, viewer, clock }) =>
  Response.json(snake(await startProposal(db, viewer, await jsonBody(req, ProposalStartBody), clock)), { status: 201 }),
);
