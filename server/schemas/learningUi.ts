import { z } from "zod";
import { CalibrationPostBody } from "./calibrations";
import { LearningSettingsPatch } from "./learning";

/**
 * The learning admin page's tRPC surface (issue 9 item 8): inputs, and the typed reading of a
 * weights version's stored provenance. The REST bodies (server/schemas/learning.ts) stay the
 * contract; these are the same rules in the page's camelCase-free shape.
 */

const Id = z.string().min(1).max(64);
const Reason = z.string().trim().min(3).max(500);

export const LearningIdInput = z.object({ id: Id });
export const PromoteInput = z.object({ id: Id, reason: Reason });
export const RollbackInput = z.object({ reason: Reason });
export const CalibrateInput = CalibrationPostBody;
export const CalibrationsInput = z.object({ limit: z.number().int().min(1).max(100).default(10) });
/** Shadow and guard evaluations over the last `days` days (the chart). */
export const HistoryInput = z.object({ days: z.number().int().min(1).max(180).default(30) });
export const SaveLearningSettingsInput = LearningSettingsPatch.extend({ reason: Reason });

const Num = z.number().nullable().optional();

const MetricsView = z.object({ rows: z.number(), log_loss: Num, brier: Num, top_k_agreement: Num });

/**
 * What a calibration stores as provenance (server/services/learning/calibrate.ts). Every key is
 * optional: versions registered another way (an operator's GLOBAL version, an older build) are
 * still listed, with what they have.
 */
export const ProvenanceView = z.object({
  job_id: z.string().optional(),
  rows: z.number().optional(),
  trained_from: z.string().optional(),
  trained_to: z.string().optional(),
  positives: z.number().optional(),
  negatives: z.number().optional(),
  train_rows: z.number().optional(),
  holdout_rows: z.number().optional(),
  scanned: z.number().optional(),
  features_version: z.string().optional(),
  seed: z.number().optional(),
  lambda: z.number().optional(),
  holdout: z.number().optional(),
  k: z.number().optional(),
  iterations: z.number().optional(),
  converged: z.boolean().optional(),
  baseline: z
    .object({
      kind: z.enum(["RULES", "ACTIVE"]),
      weights_id: z.string().optional(),
      version: z.number().nullable().optional(),
      scope: z.string().nullable().optional(),
      metrics: MetricsView.optional(),
    })
    .optional(),
  metrics: MetricsView.optional(),
  reliability: z
    .array(z.object({ bin: z.number(), count: z.number(), mean_predicted: z.number().nullable(), observed: z.number().nullable() }))
    .optional(),
  decisions: z
    .object({
      approved: z.number(),
      edited: z.number(),
      rejected: z.number(),
      expired: z.number(),
      no_response: z.number(),
      negative_response: z.number(),
      responded: z.number(),
    })
    .optional(),
});
export type ProvenanceView = z.infer<typeof ProvenanceView>;

/** Stored provenance → its typed view; anything else (unreadable, another shape) → null. */
export function readProvenance(stored: unknown): ProvenanceView | null {
  const parsed = ProvenanceView.safeParse(stored);
  return parsed.success ? parsed.data : null;
}
