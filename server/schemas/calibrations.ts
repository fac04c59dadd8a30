import { z } from "zod";

/**
 * `POST /api/v1/learning/calibrations` (SPEC §5.1): an empty body starts a calibration with the
 * default seed; `seed` picks another deterministic holdout split (stored as a 32-bit integer).
 */
export const CalibrationPostBody = z.object({ seed: z.number().int().min(0).max(2_147_483_647).optional() }).strict();
export type CalibrationPostBody = z.infer<typeof CalibrationPostBody>;
