import { NextActionsInput, NextActionsOutput } from "../../schemas/nextActions";
import { nextActions } from "../../services/nextActions";
import { router, tenantProcedure } from "../trpc";

/** "What should I do next" (SPEC §4.5): every role reads; sellers see only the accounts they own. */
export const nextActionsRouter = router({
  feed: tenantProcedure
    .input(NextActionsInput)
    .output(NextActionsOutput)
    .query(({ ctx, input }) => nextActions(ctx.db, ctx.viewer, input)),
});
