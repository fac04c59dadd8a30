import { LedgerListInput } from "../../schemas/ledger";
import { listLedgerEntries, verifyLedger } from "../../services/ledger";
import { latestDigest } from "../../services/ledgerDigest";
import { auditProcedure, router } from "../trpc";

export const ledgerRouter = router({
  list: auditProcedure.input(LedgerListInput).query(({ ctx, input }) => {
    const { limit, cursor, ...filter } = input;
    return listLedgerEntries(ctx.db, ctx.viewer, filter, { limit, cursor });
  }),
  verify: auditProcedure.mutation(({ ctx }) => verifyLedger(ctx.db, ctx.viewer.tenantId)),
  latestDigest: auditProcedure.query(({ ctx }) => latestDigest(ctx.db, ctx.viewer)),
});
