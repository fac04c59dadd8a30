import { z } from "zod";
import { ACTION_TYPES } from "../../engine/actions";
import { AUTONOMY_MODES } from "../../engine/autonomy";
import { connectorDepsFromEnv } from "../../http/deps";
import { ActionTypeName, AutonomyMode, KillSwitchScope, SetBudgetInput } from "../../schemas/autonomy";
import { Cursor } from "../../schemas/common";
import { InboxSort } from "../../schemas/nextActions";
import {
  activeKillSwitches,
  getAllowlist,
  getBudget,
  getKillSwitches,
  getModes,
  putAllowlist,
  putBudget,
  putKillSwitch,
  putMode,
} from "../../services/autonomyConfig";
import { listConnectors, setWebhook } from "../../services/connectors";
import { explain } from "../../services/explanation";
import { accountArtifacts, intentDetail, listInbox, listTimeline } from "../../services/inbox";
import { approveIntent, rejectIntent, reviewMany } from "../../services/reviews";
import { adminProcedure, reviewerProcedure, router, tenantProcedure } from "../trpc";

const Id = z.string().min(1).max(64);
const Page = z.object({ limit: z.number().int().min(1).max(100).default(25), cursor: Cursor.optional() });
const InboxInput = Page.extend({ sort: InboxSort.default("newest") });
const gateDeps = (ctx: { db: import("../../db").Db; clock: import("../../clock").Clock }) => ({
  db: ctx.db,
  clock: ctx.clock,
  connectors: connectorDepsFromEnv(),
});

/** Seller-facing: inbox, timeline, explanations. Sellers see only their own accounts' intents. */
export const workRouter = router({
  inbox: tenantProcedure.input(InboxInput).query(({ ctx, input }) => listInbox(ctx.db, ctx.viewer, input)),
  timeline: tenantProcedure.input(Page).query(({ ctx, input }) => listTimeline(ctx.db, ctx.viewer, input)),
  intent: tenantProcedure.input(z.object({ id: Id })).query(({ ctx, input }) => intentDetail(ctx.db, ctx.viewer, input.id)),
  explanation: tenantProcedure
    .input(
      z
        .object({ executionId: Id.optional(), actionIntentId: Id.optional() })
        .refine((x) => x.executionId || x.actionIntentId, "executionId or actionIntentId"),
    )
    .query(({ ctx, input }) => explain(ctx.db, ctx.viewer, input)),
  artifacts: tenantProcedure
    .input(z.object({ accountId: Id }))
    .query(({ ctx, input }) => accountArtifacts(ctx.db, ctx.viewer, input.accountId)),
  approve: reviewerProcedure
    .input(
      z.object({
        id: Id,
        reason: z.string().trim().min(1).max(2000).optional(),
        editedParameters: z.record(z.string().max(100), z.unknown()).optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      approveIntent(gateDeps(ctx), ctx.viewer, input.id, {
        reason: input.reason,
        editedParameters: input.editedParameters,
        actorLabel: ctx.viewer.user.email,
      }),
    ),
  reject: reviewerProcedure
    .input(z.object({ id: Id, reason: z.string().trim().min(1).max(2000) }))
    .mutation(({ ctx, input }) =>
      rejectIntent(gateDeps(ctx), ctx.viewer, input.id, { reason: input.reason, actorLabel: ctx.viewer.user.email }),
    ),
  reviewMany: reviewerProcedure
    .input(
      z.discriminatedUnion("kind", [
        z.object({ kind: z.literal("approve"), ids: z.array(Id).min(1).max(100), reason: z.string().trim().min(1).max(2000).optional() }),
        z.object({ kind: z.literal("reject"), ids: z.array(Id).min(1).max(100), reason: z.string().trim().min(1).max(2000) }),
      ]),
    )
    .mutation(({ ctx, input }) =>
      reviewMany(
        gateDeps(ctx),
        ctx.viewer,
        input.ids,
        input.kind === "approve" ? { kind: "approve", reason: input.reason } : { kind: "reject", reason: input.reason },
      ),
    ),
  /** Every signed-in user sees active kill switches (the banner). */
  activeKillSwitches: tenantProcedure.query(({ ctx }) => activeKillSwitches(ctx.db, ctx.viewer)),
});

const Account = z.object({ accountId: Id.optional() });

/** Admin: modes, allowlist, budgets, kill switches. */
export const autonomyRouter = router({
  registry: tenantProcedure.query(() => ({
    actionTypes: Object.entries(ACTION_TYPES).map(([name, s]) => ({ name, ...s })),
    modes: AUTONOMY_MODES,
  })),
  modes: adminProcedure.input(Account).query(({ ctx, input }) => getModes(ctx.db, ctx.viewer, input.accountId)),
  setMode: adminProcedure
    .input(
      z.object({
        accountId: Id.optional(),
        actionType: ActionTypeName.optional(),
        mode: AutonomyMode.nullable(),
        ifMatch: z.date().optional(),
        reason: z.string().trim().min(3).max(500).optional(),
      }),
    )
    .mutation(({ ctx, input }) => putMode(ctx.db, ctx.viewer, input, ctx.clock)),
  allowlist: adminProcedure.input(Account).query(({ ctx, input }) => getAllowlist(ctx.db, ctx.viewer, input.accountId)),
  setAllowlist: adminProcedure
    .input(
      z.object({
        accountId: Id.optional(),
        actionTypes: z.array(z.string().min(1).max(64)).max(50),
        reason: z.string().trim().min(3).max(500).optional(),
      }),
    )
    .mutation(({ ctx, input }) => putAllowlist(ctx.db, ctx.viewer, input, ctx.clock)),
  budget: tenantProcedure.input(Account).query(({ ctx, input }) => getBudget(ctx.db, ctx.viewer, input.accountId, ctx.clock)),
  setBudget: adminProcedure.input(SetBudgetInput).mutation(({ ctx, input }) => putBudget(ctx.db, ctx.viewer, input, ctx.clock)),
  connectors: adminProcedure.query(({ ctx }) => listConnectors(ctx.db, ctx.viewer, connectorDepsFromEnv().smtp !== null)),
  setWebhook: adminProcedure
    .input(z.object({ url: z.string().min(1).max(2000), enabled: z.boolean(), rotateSecret: z.boolean().optional() }))
    .mutation(({ ctx, input }) => setWebhook(ctx.db, ctx.viewer, input, ctx.clock)),
  killSwitches: adminProcedure.query(({ ctx }) => getKillSwitches(ctx.db, ctx.viewer)),
  setKillSwitch: adminProcedure
    .input(
      z.object({
        scope: KillSwitchScope,
        key: z.string().min(1).max(64).optional(),
        enabled: z.boolean(),
        reason: z.string().trim().min(3).max(500),
      }),
    )
    .mutation(({ ctx, input }) => putKillSwitch(ctx.db, ctx.viewer, input, ctx.clock)),
});
