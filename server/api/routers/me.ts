import { listMembers } from "../../repos/tenants";
import { auditProcedure, router, tenantProcedure } from "../trpc";

export const meRouter = router({
  whoami: tenantProcedure.query(({ ctx }) => ({
    user: ctx.viewer.user,
    role: ctx.viewer.role,
    tenant: ctx.viewer.tenant,
  })),
  members: auditProcedure.query(async ({ ctx }) => {
    const rows = await listMembers(ctx.db, ctx.viewer.tenantId);
    return rows.map((m) => ({ userId: m.user.id, name: m.user.name, email: m.user.email, role: m.role }));
  }),
});
