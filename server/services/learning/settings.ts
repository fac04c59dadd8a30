import type { DbOrTx } from "../../db";
import type { LearningSettings } from "../../engine/learning";
import { learningState } from "../../repos/learning";
import { readLearningSettings } from "../../schemas/learning";

/**
 * A tenant's effective learning settings (engine defaults under what it stored), and the problem
 * with what it stored, if any — shown on the learning page rather than failing a job.
 */
export async function loadLearningSettings(db: DbOrTx, tenantId: string): Promise<{ settings: LearningSettings; problem: string | null }> {
  const state = await learningState(db, tenantId);
  return readLearningSettings(state?.settings);
}
