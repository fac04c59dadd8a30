import { ImportCreateInput, ImportGetInput, ImportListInput } from "../../schemas/imports";
import { createImport, getImport, listImports } from "../../services/imports";
import { adminProcedure, router } from "../trpc";

/** CSV import from the admin page (SPEC §4.4). Admins only: an import writes CRM data for the whole tenant. */
export const importsRouter = router({
  create: adminProcedure
    .input(ImportCreateInput)
    .mutation(({ ctx, input }) =>
      createImport(ctx.db, ctx.viewer, { kind: input.kind, fileName: input.fileName, text: input.parts.join("") }, ctx.clock),
    ),
  get: adminProcedure.input(ImportGetInput).query(({ ctx, input }) => getImport(ctx.db, ctx.viewer, input.id)),
  list: adminProcedure.input(ImportListInput).query(({ ctx, input }) => listImports(ctx.db, ctx.viewer, input.limit)),
});
