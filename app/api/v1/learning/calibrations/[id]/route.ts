import { restRoute } from "@/server/http/rest";
import { IdParam } from "@/server/schemas/rest";
import { type CalibrationView, calibrationStatus } from "@/server/services/learning/calibrate";

export const dynamic = "force-dynamic";

type Params = { id: string };

/** A calibration's status and progress (extension of SPEC §5.1); another tenant's id → 404. */
function calibrationDto(v: CalibrationView) {
  return {
    job_id: v.id,
    status: v.status,
    phase: v.phase,
    progress: v.progress,
    rows_total: v.rowsTotal,
    rows_done: v.rowsDone,
    seed: v.seed,
    weights_id: v.weightsId,
    error: v.error,
    created_at: v.createdAt.toISOString(),
    started_at: v.startedAt?.toISOString() ?? null,
    finished_at: v.finishedAt?.toISOString() ?? null,
  };
}

export const GET = restRoute<Params>(["admin"], async ({ params, db, viewer }) => {
  const { id } = IdParam.parse(params);
  return calibrationDto(await calibrationStatus(db, viewer, id));
});
