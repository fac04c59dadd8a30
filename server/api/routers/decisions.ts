import { z } from "zod";
import { RITUALS, TRIGGER_TYPES } from "../../engine/triggers";
import { Cursor } from "../../schemas/common";
import { DecisionSettingsPatch } from "../../schemas/decisions";
import { decisionSpend, loadDecisionSettings, saveDecisionSettings } from "../../services/decisionSettings";
import { requestRun } from "../../services/decisions";
import { listJobs, queueStats } from "../../services/jobQueue";
import { listCadences, setCadence } from "../../services/rituals";
import { adminProcedure, router } from "../trpc";

/** Admin: triggers and cadences, cost gate and today's decision spend, the job queue. */
export const decisionsRouter = router({
  settings: adminProcedure.query(({ ctx }) => loadDecisionSettings(ctx.db, ctx.viewer.tenantId)),
  saveSettings: adminProcedure
    .input(DecisionSettingsPatch)
    .mutation(({ ctx, input }) => saveDecisionSettings(ctx.db, ctx.viewer, input as Parameters<typeof saveDecisionSettings>[2], ctx.clock)),
  cadences: adminProcedure.query(({ ctx }) => listCadences(ctx.db, ctx.viewer)),
  setCadence: adminProcedure
    .input(
      z.object({
        accountId: z.string().min(1).max(64).optional(),
        ritual: z.enum(RITUALS),
        cron: z.string().trim().min(9).max(100),
        timezone: z.string().min(1).max(64),
        enabled: z.boolean(),
      }),
    )
    .mutation(({ ctx, input }) => setCadence(ctx.db, ctx.viewer, input, ctx.clock)),
  /** Today's decision spend and the latest runs with their cost-gate verdicts. */
  spend: adminProcedure.query(({ ctx }) => decisionSpend(ctx.db, ctx.viewer, ctx.clock)),
  runNow: adminProcedure
    .input(z.object({ accountId: z.string().min(1).max(64), triggerType: z.enum(TRIGGER_TYPES) }))
    .mutation(({ ctx, input }) =>
      requestRun(
        ctx.db,
        ctx.viewer,
        { ...input, idempotencyKey: `manual:${ctx.viewer.actor.id}:${input.accountId}:${ctx.clock.now().toISOString()}` },
        ctx.clock,
      ),
    ),
  queueStats: adminProcedure.query(({ ctx }) => queueStats(ctx.db, ctx.viewer.tenantId, ctx.clock)),
  jobs: adminProcedure
    .input(
      z.object({
        limit: z.number().int().min(1).max(100).default(25),
        cursor: Cursor.optional(),
        status: z.enum(["QUEUED", "LEASED", "DONE", "FAILED"]).optional(),
        kind: z.string().min(1).max(64).optional(),
      }),
    )
    .query(({ ctx, input }) =>
      listJobs(ctx.db, ctx.viewer.tenantId, { status: input.status, kind: input.kind }, { limit: input.limit, cursor: input.cursor }),
    ),
});
