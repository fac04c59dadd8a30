import { ApprovalSettingsPatch } from "../../schemas/approvals";
import { loadApprovalSettings, saveApprovalSettings } from "../../services/approvals/settings";
import { adminProcedure, router, tenantProcedure } from "../trpc";

/** Approval settings: everyone in the tenant reads them (the inbox countdown), only an admin writes. */
export const approvalsRouter = router({
  settings: tenantProcedure.query(({ ctx }) => loadApprovalSettings(ctx.db, ctx.viewer.tenantId)),
  saveSettings: adminProcedure
    .input(ApprovalSettingsPatch)
    .mutation(({ ctx, input }) => saveApprovalSettings(ctx.db, ctx.viewer, input, ctx.clock)),
});
