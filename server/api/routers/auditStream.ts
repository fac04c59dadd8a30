import { AuditStreamPutBody } from "../../schemas/auditStream";
import { getAuditStream, putAuditStream, sendAuditStreamNow } from "../../services/auditStream";
import { adminProcedure, router } from "../trpc";

/** Admin: the tenant's SIEM log stream (SPEC §4.8). The signing secret is in the `put` answer only. */
export const auditStreamRouter = router({
  get: adminProcedure.query(({ ctx }) => getAuditStream(ctx.db, ctx.viewer)),
  put: adminProcedure.input(AuditStreamPutBody).mutation(({ ctx, input }) => putAuditStream(ctx.db, ctx.viewer, input, ctx.clock)),
  /** Runs the stream's tick for this tenant now, skipping its backoff (never another worker's claim). */
  sendNow: adminProcedure.mutation(({ ctx }) => sendAuditStreamNow({ db: ctx.db, clock: ctx.clock }, ctx.viewer)),
});
