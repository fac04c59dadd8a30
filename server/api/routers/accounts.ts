import { z } from "zod";
import { AccountListInput } from "../../schemas/accounts";
import { Cursor } from "../../schemas/common";
import { accountActivity, getVisibleAccount, listVisibleAccounts } from "../../services/accounts";
import { router, tenantProcedure } from "../trpc";

export const accountsRouter = router({
  list: tenantProcedure.input(AccountListInput).query(({ ctx, input }) => {
    const { limit, cursor, ...filter } = input;
    return listVisibleAccounts(ctx.db, ctx.viewer, filter, { limit, cursor });
  }),
  get: tenantProcedure
    .input(z.object({ id: z.string().min(1).max(64) }))
    .query(({ ctx, input }) => getVisibleAccount(ctx.db, ctx.viewer, input.id)),
  activity: tenantProcedure
    .input(z.object({ id: z.string().min(1).max(64), limit: z.number().int().min(1).max(100).default(20), cursor: Cursor.optional() }))
    .query(({ ctx, input }) => accountActivity(ctx.db, ctx.viewer, input.id, { limit: input.limit, cursor: input.cursor })),
});
