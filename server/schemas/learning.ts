import { z } from "zod";
import { DEFAULT_LEARNING_SETTINGS, type LearningSettings, SHADOW_METRIC } from "../engine/learningSettings";
import { numberIn, wholeIn } from "./common";

/**
 * Learning-loop inputs (SPEC §4.5, §5.1). Settings are stored and served in the same snake_case
 * shape; every key is optional on the way in and filled from the engine's defaults.
 */

const Days = wholeIn(1, 365);
const Sample = wholeIn(1, 1_000_000);
const Share = numberIn(0, 1);

export const LearningSettingsPatch = z
  .object({
    shadow: z
      .object({
        metric: z.literal(SHADOW_METRIC).optional(),
        k: z.number().int().min(1).max(20).optional(),
        window_days: Days.optional(),
        min_sample: Sample.optional(),
        min_lift: numberIn(-1, 1).optional(),
      })
      .strict()
      .optional(),
    guard: z.object({ window_days: Days.optional(), min_sample: Sample.optional(), tolerance: Share.optional() }).strict().optional(),
    missing_after_hours: wholeIn(1, 24 * 90).optional(),
    response_window_days: Days.optional(),
    calibration: z
      .object({
        lambda: z.number().min(0.001).max(1000).optional(),
        holdout: z.number().min(0).max(0.5).optional(),
        min_rows: wholeIn(10, 1_000_000).optional(),
        every_days: wholeIn(0, 365).optional(),
        lookback_days: Days.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type LearningSettingsPatch = z.infer<typeof LearningSettingsPatch>;

/** Defaults under what is stored (or patched): each group merges key by key. */
export function mergeLearningSettings(base: LearningSettings, patch: LearningSettingsPatch): LearningSettings {
  return {
    shadow: { ...base.shadow, ...patch.shadow },
    guard: { ...base.guard, ...patch.guard },
    missing_after_hours: patch.missing_after_hours ?? base.missing_after_hours,
    response_window_days: patch.response_window_days ?? base.response_window_days,
    calibration: { ...base.calibration, ...patch.calibration },
  };
}

/**
 * Stored settings → effective settings. Stored text that does not parse or fit is reported (the
 * admin page shows it) and the defaults apply: these settings steer ranking and its gates, never
 * policy, and the defaults are the conservative ones.
 */
export function readLearningSettings(stored: string | null | undefined): { settings: LearningSettings; problem: string | null } {
  if (!stored) return { settings: DEFAULT_LEARNING_SETTINGS, problem: null };
  let raw: unknown;
  try {
    raw = JSON.parse(stored);
  } catch {
    return { settings: DEFAULT_LEARNING_SETTINGS, problem: "stored learning settings are not valid JSON; defaults apply" };
  }
  const parsed = LearningSettingsPatch.safeParse(raw);
  if (!parsed.success)
    return {
      settings: DEFAULT_LEARNING_SETTINGS,
      problem: `stored learning settings are invalid (${parsed.error.issues[0]?.path.join(".") || "root"}); defaults apply`,
    };
  return { settings: mergeLearningSettings(DEFAULT_LEARNING_SETTINGS, parsed.data), problem: null };
}

const Reason = z.string().trim().min(3).max(500);

/** `POST /api/v1/learning/weights/:id/promote` and `POST /api/v1/learning/rollback` */
export const ReasonBody = z.object({ reason: Reason }).strict();

/** `PUT /api/v1/learning/settings` (extension) */
export const LearningSettingsPutBody = LearningSettingsPatch.extend({ reason: Reason.optional() }).strict();
