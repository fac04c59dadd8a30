import { exportDto } from "@/server/http/auditExport";
import { jsonBody, queryParams, restRoute } from "@/server/http/rest";
import { AuditExportBody, RestAuditExportListQuery } from "@/server/schemas/auditExport";
import { listExports, requestExport } from "@/server/services/audit/export";

export const dynamic = "force-dynamic";

/** SPEC §5.1: → 202 `{ export_id, status }`; over the range cap 422 (field `to`), over the rate 429 with Retry-After. */
export const POST = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, AuditExportBody);
  const res = await requestExport(db, viewer, { from: b.from, to: b.to, format: b.format, accountId: b.account_id }, clock);
  return Response.json({ export_id: res.exportId, status: res.status }, { status: 202 });
});

export const GET = restRoute(["admin"], async ({ req, db, viewer }) => {
  const q = queryParams(req, RestAuditExportListQuery);
  const page = await listExports(db, viewer, { limit: q.limit, cursor: q.cursor });
  return { items: page.items.map(exportDto), next_cursor: page.nextCursor };
});
