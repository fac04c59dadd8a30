import { parseJsonText, readBodyText } from "@/server/http/limits";
import { restRoute } from "@/server/http/rest";
import { CalibrationPostBody } from "@/server/schemas/calibrations";
import { requestCalibration } from "@/server/services/learning/calibrate";

export const dynamic = "force-dynamic";

/** Start a calibration (SPEC §5.1) → 202 `{ job_id, status }`; the body is optional (`{ seed? }`). */
export const POST = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const text = await readBodyText(req);
  const body = CalibrationPostBody.parse(text.trim() === "" ? {} : parseJsonText(text));
  const res = await requestCalibration(db, clock, viewer, { seed: body.seed });
  return Response.json({ job_id: res.jobId, status: res.status }, { status: 202 });
});
