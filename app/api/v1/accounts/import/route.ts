import { IMPORT_LIMITS } from "@/server/engine/importRows";
import { readCsvBody } from "@/server/http/limits";
import { queryParams, restRoute } from "@/server/http/rest";
import { RestImportQuery } from "@/server/schemas/imports";
import { createImport } from "@/server/services/imports";

export const dynamic = "force-dynamic";

/** Body: the CSV itself (text/csv, up to 5 MiB); `?kind=accounts|contacts|opportunities`. */
export const POST = restRoute(["admin", "ingest"], async ({ req, db, viewer, clock }) => {
  const q = queryParams(req, RestImportQuery);
  const text = await readCsvBody(req, IMPORT_LIMITS.maxBodyBytes);
  const res = await createImport(db, viewer, { kind: q.kind, fileName: q.file_name, text }, clock);
  return Response.json({ import_id: res.importId, status: res.status, kind: res.kind, rows_total: res.rowsTotal }, { status: 202 });
});
