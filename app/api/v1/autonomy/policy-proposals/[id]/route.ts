import { snake } from "@/server/http/dto";
import { queryParams, restRoute } from "@/server/http/rest";
import { ProposalReportQuery } from "@/server/schemas/policyLab";
import { proposalReport } from "@/server/services/policyLab";

export const dynamic = "force-dynamic";

/** The proposal's report: counts by action type, and a page of the intents it would have decided differently. */
export const GET = restRoute<{ id: string }>(["admin"], async ({ req, params, db, viewer }) =>
  snake(await proposalReport(db, viewer, params.id, queryParams(req, ProposalReportQuery))),
);
