import { restRoute } from "@/server/http/rest";
import { IdParam } from "@/server/schemas/rest";
import { getImport, type ImportView } from "@/server/services/imports";

export const dynamic = "force-dynamic";

type Params = { id: string };

/** SPEC §5.1 status `{ status, rows_total, rows_done, errors: [{ line, column, message }] }`, plus counts. */
function importDto(v: ImportView) {
  return {
    import_id: v.id,
    kind: v.kind,
    status: v.status,
    file_name: v.fileName,
    sha256: v.sha256,
    rows_total: v.rowsTotal,
    rows_done: v.rowsDone,
    created: v.created,
    updated: v.updated,
    error_count: v.errorCount,
    errors: v.errors.map((e) => ({ line: e.line, column: e.column, message: e.message })),
    created_at: v.createdAt.toISOString(),
    finished_at: v.finishedAt?.toISOString() ?? null,
  };
}

export const GET = restRoute<Params>(["admin", "ingest"], async ({ params, db, viewer }) => {
  const { id } = IdParam.parse(params);
  return importDto(await getImport(db, viewer, id));
});
