import { z } from "zod";
import { Cursor } from "../../schemas/common";
import { getAlwaysOnStatus, listAlwaysOn, setAccountAlwaysOn, setTenantAlwaysOn } from "../../services/alwaysOn";
import { adminProcedure, reviewerProcedure, router, tenantProcedure } from "../trpc";

const Id = z.string().min(1).max(64);

/** Always-on autonomy (SPEC §4.6): status for everyone who can see the account; sellers toggle their own accounts. */
export const alwaysOnRouter = router({
  status: tenantProcedure
    .input(z.object({ accountId: Id.optional() }))
    .query(({ ctx, input }) => getAlwaysOnStatus(ctx.db, ctx.viewer, input.accountId)),
  list: tenantProcedure
    .input(z.object({ limit: z.number().int().min(1).max(100).default(50), cursor: Cursor.optional() }))
    .query(({ ctx, input }) => listAlwaysOn(ctx.db, ctx.viewer, input)),
  setTenant: adminProcedure
    .input(z.object({ enabled: z.boolean() }))
    .mutation(({ ctx, input }) => setTenantAlwaysOn(ctx.db, ctx.viewer, input.enabled, ctx.clock)),
  setAccount: reviewerProcedure
    .input(z.object({ accountId: Id, enabled: z.boolean() }))
    .mutation(({ ctx, input }) => setAccountAlwaysOn(ctx.db, ctx.viewer, input.accountId, input.enabled, ctx.clock)),
});
