import { replayPreviewDto } from "@/server/http/replayDto";
import { restRoute } from "@/server/http/rest";
import { IdParam } from "@/server/schemas/rest";
import { replayPreview } from "@/server/services/replay";

export const dynamic = "force-dynamic";

/** SPEC §5.1: `{ side_effects: [{ connector, idempotency_key, would_repeat }] }` before any replay; another tenant's id → 404. */
export const GET = restRoute<{ id: string }>(["admin"], async ({ params, db, viewer }) => {
  const { id } = IdParam.parse(params);
  return replayPreviewDto(await replayPreview(db, viewer, id));
});
