import { ProposalEndInput, ProposalReportInput, ProposalStartBody, WhatIfBody } from "../../schemas/policyLab";
import { endPolicyProposal, listProposals, proposalReport, runWhatIf, startProposal } from "../../services/policyLab";
import { adminProcedure, router } from "../trpc";

/** Admin: policy what-if and log-only proposals (SPEC §4.8). */
export const policyLabRouter = router({
  /** A mutation only because its input is large; it writes nothing. */
  whatIf: adminProcedure.input(WhatIfBody).mutation(({ ctx, input }) => runWhatIf(ctx.db, ctx.viewer, input)),
  proposals: adminProcedure.query(({ ctx }) => listProposals(ctx.db, ctx.viewer)),
  report: adminProcedure
    .input(ProposalReportInput)
    .query(({ ctx, input }) => proposalReport(ctx.db, ctx.viewer, input.id, { limit: input.limit, cursor: input.cursor })),
  start: adminProcedure.input(ProposalStartBody).mutation(({ ctx, input }) => startProposal(ctx.db, ctx.viewer, input, ctx.clock)),
  enforce: adminProcedure
    .input(ProposalEndInput)
    .mutation(({ ctx, input }) => endPolicyProposal(ctx.db, ctx.viewer, input.id, "ENFORCED", input.reason, ctx.clock)),
  discard: adminProcedure
    .input(ProposalEndInput)
    .mutation(({ ctx, input }) => endPolicyProposal(ctx.db, ctx.viewer, input.id, "DISCARDED", input.reason, ctx.clock)),
});
