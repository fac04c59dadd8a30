import { AuditExportGetInput, AuditExportListInput, AuditExportRequestInput } from "../../schemas/auditExport";
import { getExport, listExports, requestExport } from "../../services/audit/export";
import { adminProcedure, router } from "../trpc";

/** Audit exports from the admin page (SPEC §4.6). Admins only; rows are always the caller's tenant's. */
export const auditExportsRouter = router({
  request: adminProcedure.input(AuditExportRequestInput).mutation(({ ctx, input }) => requestExport(ctx.db, ctx.viewer, input, ctx.clock)),
  get: adminProcedure.input(AuditExportGetInput).query(({ ctx, input }) => getExport(ctx.db, ctx.viewer, input.id)),
  list: adminProcedure.input(AuditExportListInput).query(({ ctx, input }) => listExports(ctx.db, ctx.viewer, input)),
});
