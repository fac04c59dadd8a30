import { exportDto } from "@/server/http/auditExport";
import { restRoute } from "@/server/http/rest";
import { IdParam } from "@/server/schemas/rest";
import { getExport } from "@/server/services/audit/export";

export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>(["admin"], async ({ params, db, viewer }) =>
  exportDto(await getExport(db, viewer, IdParam.parse(params).id)),
);
