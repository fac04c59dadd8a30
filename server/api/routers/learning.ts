import {
  CalibrateInput,
  CalibrationsInput,
  HistoryInput,
  LearningIdInput,
  PromoteInput,
  RollbackInput,
  readProvenance,
  SaveLearningSettingsInput,
} from "../../schemas/learningUi";
import { calibrationStatus, listCalibrations, requestCalibration } from "../../services/learning/calibrate";
import { shadowHistory } from "../../services/learning/history";
import {
  learningSettingsView,
  listWeightsView,
  promoteWeights,
  rollbackWeights,
  saveLearningSettingsFor,
} from "../../services/learning/registry";
import { normalizationGap } from "../../services/normalize";
import { adminProcedure, auditProcedure, router } from "../trpc";

/**
 * The learning admin page (issue 9 item 8). Admins run it; auditors read every number (versions,
 * provenance, shadow history, calibrations, the normalisation gap, settings) and change nothing.
 * Nothing here is policy: the gate never reads weights, the pointer or these settings.
 */
export const learningRouter = router({
  weights: auditProcedure.query(async ({ ctx }) => {
    const view = await listWeightsView(ctx.db, ctx.viewer);
    return { ...view, items: view.items.map((w) => ({ ...w, provenance: readProvenance(w.provenance) })) };
  }),
  calibrations: auditProcedure.input(CalibrationsInput).query(({ ctx, input }) => listCalibrations(ctx.db, ctx.viewer, input.limit)),
  /** One run's status and progress, polled by the page while it runs. */
  calibration: auditProcedure.input(LearningIdInput).query(({ ctx, input }) => calibrationStatus(ctx.db, ctx.viewer, input.id)),
  calibrate: adminProcedure
    .input(CalibrateInput)
    .mutation(({ ctx, input }) => requestCalibration(ctx.db, ctx.clock, ctx.viewer, { seed: input.seed })),
  /** Refused by the shadow gate → CONFLICT with data.appCode SHADOW_GATE_NOT_PASSED and the numbers. */
  promote: adminProcedure
    .input(PromoteInput)
    .mutation(({ ctx, input }) => promoteWeights(ctx.db, ctx.clock, ctx.viewer, input.id, input.reason)),
  rollback: adminProcedure.input(RollbackInput).mutation(({ ctx, input }) => rollbackWeights(ctx.db, ctx.clock, ctx.viewer, input.reason)),
  settings: auditProcedure.query(({ ctx }) => learningSettingsView(ctx.db, ctx.viewer)),
  saveSettings: adminProcedure.input(SaveLearningSettingsInput).mutation(({ ctx, input }) => {
    const { reason, ...patch } = input;
    return saveLearningSettingsFor(ctx.db, ctx.clock, ctx.viewer, patch, reason);
  }),
  normalization: auditProcedure.query(({ ctx }) => normalizationGap(ctx.db, ctx.viewer, ctx.clock)),
  history: auditProcedure.input(HistoryInput).query(({ ctx, input }) => shadowHistory(ctx.db, ctx.clock, ctx.viewer, input.days)),
});
