import { connectorDepsFromEnv } from "../../http/deps";
import { BulkReplayInput, BulkReplayPreviewInput, FailedExecutionsInput, ReplayInput, ReplayPreviewInput } from "../../schemas/reliability";
import { bulkReplay, bulkReplayPreview, listFailed, replayExecution, replayPreview } from "../../services/replay";
import { adminProcedure, router } from "../trpc";

/**
 * Failed executions and their replay (SPEC §4.7), for the reliability page. Admins only; rows are
 * always the caller's tenant's. A replay is requested by the signed-in admin — never by a name
 * taken from input.
 */
export const executionsRouter = router({
  failed: adminProcedure.input(FailedExecutionsInput).query(({ ctx, input }) => listFailed(ctx.db, ctx.viewer, input)),
  replayPreview: adminProcedure.input(ReplayPreviewInput).query(({ ctx, input }) => replayPreview(ctx.db, ctx.viewer, input.executionId)),
  replay: adminProcedure.input(ReplayInput).mutation(({ ctx, input }) =>
    replayExecution({ db: ctx.db, clock: ctx.clock, connectors: connectorDepsFromEnv() }, ctx.viewer, input.executionId, {
      replayReason: input.replayReason,
      requestedBy: ctx.viewer.user.email,
    }),
  ),
  bulkReplayPreview: adminProcedure.input(BulkReplayPreviewInput).query(({ ctx, input }) => bulkReplayPreview(ctx.db, ctx.viewer, input)),
  bulkReplay: adminProcedure.input(BulkReplayInput).mutation(({ ctx, input }) =>
    bulkReplay({ db: ctx.db, clock: ctx.clock, connectors: connectorDepsFromEnv() }, ctx.viewer, {
      from: input.from,
      to: input.to,
      replayReason: input.replayReason,
      requestedBy: ctx.viewer.user.email,
    }),
  ),
});
