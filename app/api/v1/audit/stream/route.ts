import { snake } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { AuditStreamPutBody } from "@/server/schemas/auditStream";
import { getAuditStream, putAuditStream } from "@/server/services/auditStream";

export const dynamic = "force-dynamic";

export const GET = restRoute(["admin"], async ({ db, viewer }) => snake(await getAuditStream(db, viewer)));

/** Create or change the stream; `secret` is non-null in this answer only when created or rotated. */
export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) =>
  snake(await putAuditStream(db, viewer, await jsonBody(req, AuditStreamPutBody), clock)),
);
