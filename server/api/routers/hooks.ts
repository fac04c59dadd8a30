import { connectorDepsFromEnv } from "../../http/deps";
import { AlertHookBody } from "../../schemas/alertHook";
import { getAlertHook, rotateAlertHook } from "../../services/alertHook";
import { adminProcedure, router } from "../trpc";

/** Admin: the tenant's alert hook (SPEC §4.6). The URL is in the rotate answer only. */
export const hooksRouter = router({
  alertHook: adminProcedure.query(({ ctx }) => getAlertHook(ctx.db, ctx.viewer)),
  /** Creates the hook, or replaces it: the previous URL stops working at once. */
  rotate: adminProcedure
    .input(AlertHookBody)
    .mutation(({ ctx, input }) => rotateAlertHook(ctx.db, connectorDepsFromEnv(), ctx.viewer, input, ctx.clock)),
});
