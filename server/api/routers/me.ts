import { listTenantMembers } from "../../services/members";
import { auditProcedure, router, tenantProcedure } from "../trpc";

export const meRouter = router({
  whoami: tenantProcedure.query(({ ctx }) => ({
    user: ctx.viewer.user,
    role: ctx.viewer.role,
    tenant: ctx.viewer.tenant,
  })),
  members: auditProcedure.query(({ ctx }) => listTenantMembers(ctx.db, ctx.viewer)),
});
