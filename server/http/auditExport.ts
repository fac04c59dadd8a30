import type { ExportView } from "../services/audit/export";

/** SPEC §5.1 status: `{ status, download_url?, row_count?, sha256? }` plus progress and the request. */
export function exportDto(v: ExportView) {
  return {
    export_id: v.id,
    status: v.status,
    format: v.format,
    schema_version: v.schemaVersion,
    from: v.from.toISOString(),
    to: v.to.toISOString(),
    account_id: v.accountId,
    rows_done: v.rowsDone,
    rows_total: v.rowsTotal,
    ...(v.status === "COMPLETED"
      ? { download_url: `/api/v1/autonomy/audit/exports/${v.id}/download`, row_count: v.rowCount, sha256: v.sha256, bytes: v.bytes }
      : {}),
    error: v.error,
    created_at: v.createdAt.toISOString(),
    started_at: v.startedAt?.toISOString() ?? null,
    finished_at: v.finishedAt?.toISOString() ?? null,
  };
}
