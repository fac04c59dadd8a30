import { getAuth } from "@/server/auth/auth";
import { viewerFromSession } from "@/server/auth/viewer";
import { getDb } from "@/server/db";
import { env } from "@/server/env";
import { AppError, HTTP_STATUS } from "@/server/errors";
import { errorResponse } from "@/server/http/rest";
import { IdParam } from "@/server/schemas/rest";
import { openExportDownload } from "@/server/services/audit/export";

export const dynamic = "force-dynamic";

/**
 * The exports page's Download link: the same stream as the REST download, authorised by the
 * signed-in admin's session instead of an API key (a browser link cannot send a bearer key).
 */
export async function GET(req: Request, route: { params: Promise<{ id: string }> }) {
  const db = getDb();
  const session = await getAuth().api.getSession({ headers: req.headers });
  const viewer = session ? await viewerFromSession(db, session) : null;
  if (!viewer) return errorResponse(401, "UNAUTHORIZED", "Sign in first");
  if (viewer.role !== "ADMIN") return errorResponse(403, "FORBIDDEN", "Audit exports are for admins");
  const id = IdParam.safeParse(await route.params);
  if (!id.success) return errorResponse(404, "NOT_FOUND", "Export not found");
  try {
    const file = await openExportDownload(db, viewer, id.data.id, env().EXPORT_DIR);
    return new Response(file.body, { headers: file.headers });
  } catch (err) {
    if (err instanceof AppError) return errorResponse(HTTP_STATUS[err.code], err.code, err.message, err.field);
    throw err;
  }
}
