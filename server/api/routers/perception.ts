import { randomUUID } from "node:crypto";
import { z } from "zod";
import { connectorDepsFromEnv } from "../../http/deps";
import { Cursor } from "../../schemas/common";
import { CadenceTableInput, ConnectorName, PullInput } from "../../schemas/perception";
import {
  getCadence,
  getPullBudget,
  perceptionToday,
  putCadence,
  putPullBudget,
  recentPullDecisions,
  requestPull,
} from "../../services/perception";
import { adminProcedure, auditProcedure, router } from "../trpc";

const Reason = z.string().trim().min(3).max(500).optional();

/** Admin: pull budgets, the cadence table, today's units and throttles, recent pull decisions. */
export const perceptionRouter = router({
  budget: adminProcedure.query(({ ctx }) => getPullBudget(ctx.db, ctx.viewer, ctx.clock)),
  setBudget: adminProcedure
    .input(
      z.object({
        unitsPerDay: z.number().int().min(0).max(10_000_000),
        perConnector: z.record(ConnectorName, z.number().int().min(0).max(10_000_000)).optional(),
        reason: Reason,
      }),
    )
    .mutation(({ ctx, input }) => putPullBudget(ctx.db, ctx.viewer, input, ctx.clock)),
  cadence: adminProcedure.query(({ ctx }) => getCadence(ctx.db, ctx.viewer)),
  setCadence: adminProcedure
    .input(z.object({ tiers: CadenceTableInput, reason: Reason }))
    .mutation(({ ctx, input }) => putCadence(ctx.db, ctx.viewer, input, ctx.clock)),
  /** Read-only numbers, also shown to auditors on the connectors page. */
  today: auditProcedure.query(({ ctx }) => perceptionToday(ctx.db, ctx.viewer, ctx.clock)),
  decisions: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(100).default(25), cursor: Cursor.optional() }))
    .query(({ ctx, input }) => recentPullDecisions(ctx.db, ctx.viewer, input.limit, input.cursor)),
  /** "Pull now" from the admin page: a fresh pull-job id per click (each click is its own request). */
  pull: adminProcedure.input(PullInput).mutation(({ ctx, input }) =>
    requestPull({ db: ctx.db, clock: ctx.clock, connectors: connectorDepsFromEnv() }, ctx.viewer, {
      accountId: input.accountId,
      connector: input.connector,
      depth: input.depth,
      pullJobId: input.pullJobId ?? `ui:${randomUUID()}`,
      source: "ui",
    }),
  ),
});
