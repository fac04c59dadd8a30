import { HeatHistoryInput, HeatHottestInput } from "../../schemas/heat";
import { accountHeatHistory, heatDistribution, hottest } from "../../services/heat";
import { router, tenantProcedure } from "../trpc";

/** Heat (SPEC §4.4) for the console: every role reads; sellers see only the accounts they own. */
export const heatRouter = router({
  distribution: tenantProcedure.query(({ ctx }) => heatDistribution(ctx.db, ctx.viewer)),
  hottest: tenantProcedure.input(HeatHottestInput).query(({ ctx, input }) => hottest(ctx.db, ctx.viewer, input)),
  history: tenantProcedure
    .input(HeatHistoryInput)
    .query(({ ctx, input }) => accountHeatHistory(ctx.db, ctx.viewer, input.accountId, input.days, ctx.clock.now())),
});
