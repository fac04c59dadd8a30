/**
 * The learning loop's settings and their defaults, apart from the fitting code so the settings
 * form can validate in the browser without shipping the linear algebra (ml-matrix) to it.
 */

export const SHADOW_METRIC = "TOP_K_AGREEMENT";

export interface ShadowSettings {
  metric: typeof SHADOW_METRIC;
  k: number;
  window_days: number;
  min_sample: number;
  /** the candidate must beat the ACTIVE ranking (or the rules) by at least this much */
  min_lift: number;
}

export interface GuardSettings {
  window_days: number;
  min_sample: number;
  /** how far below the ranking it replaced the promoted one may fall before it is rolled back */
  tolerance: number;
}

export interface LearningSettings {
  shadow: ShadowSettings;
  guard: GuardSettings;
  /** hours after its decision an intent with no outcome is a normalisation gap */
  missing_after_hours: number;
  /** how long an outreach waits for a reply before NO_RESPONSE */
  response_window_days: number;
  /** fit: L2 strength and holdout share; min_rows labelled rows or no candidate; a scheduled
   *  calibration every `every_days` (0 = only on request) over the last `lookback_days` */
  calibration: { lambda: number; holdout: number; min_rows: number; every_days: number; lookback_days: number };
}

export const DEFAULT_LEARNING_SETTINGS: LearningSettings = {
  shadow: { metric: SHADOW_METRIC, k: 3, window_days: 7, min_sample: 30, min_lift: 0.01 },
  guard: { window_days: 7, min_sample: 30, tolerance: 0.05 },
  missing_after_hours: 24,
  response_window_days: 7,
  calibration: { lambda: 1, holdout: 0.2, min_rows: 50, every_days: 7, lookback_days: 180 },
};
