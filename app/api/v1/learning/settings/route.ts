import { jsonBody, restRoute } from "@/server/http/rest";
import { LearningSettingsPutBody } from "@/server/schemas/learning";
import { learningSettingsView, saveLearningSettingsFor } from "@/server/services/learning/registry";

export const dynamic = "force-dynamic";

/** Learning settings (extension): shadow gate, guard, windows, calibration. Ranking only; the gate never reads them. */
export const GET = restRoute(["read"], async ({ db, viewer }) => learningSettingsView(db, viewer));

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const { reason, ...patch } = await jsonBody(req, LearningSettingsPutBody);
  return saveLearningSettingsFor(db, clock, viewer, patch, reason);
});
