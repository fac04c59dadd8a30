import { env } from "@/server/env";
import { restRoute } from "@/server/http/rest";
import { IdParam } from "@/server/schemas/rest";
import { openExportDownload } from "@/server/services/audit/export";

export const dynamic = "force-dynamic";

/** The finished file, streamed from disk (never read whole into memory). */
export const GET = restRoute<{ id: string }>(["admin"], async ({ params, db, viewer }) => {
  const file = await openExportDownload(db, viewer, IdParam.parse(params).id, env().EXPORT_DIR);
  return new Response(file.body, { headers: file.headers });
});
