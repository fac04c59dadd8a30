import { getMetricsToken, rotateMetricsToken } from "../../services/metrics";
import { adminProcedure, router } from "../trpc";

/** Admin: the tenant's Prometheus scrape token. The token is in the `rotateToken` answer only. */
export const metricsRouter = router({
  token: adminProcedure.query(({ ctx }) => getMetricsToken(ctx.db, ctx.viewer)),
  /** Creates the token, or replaces it: the previous one stops working at once. */
  rotateToken: adminProcedure.mutation(({ ctx }) => rotateMetricsToken(ctx.db, ctx.viewer, ctx.clock)),
});
