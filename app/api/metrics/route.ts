import { systemClock } from "@/server/clock";
import { getDb } from "@/server/db";
import { publicRoute } from "@/server/http/rest";
import { authenticateMetrics, renderMetrics } from "@/server/services/metrics";

export const dynamic = "force-dynamic";

/** Prometheus text for the tenant of the admin API key or metrics token (Bearer). */
export const GET = publicRoute(async (req) => {
  const db = getDb();
  const tenantId = await authenticateMetrics(db, req.headers.get("authorization"), systemClock);
  const { contentType, body } = await renderMetrics(db, tenantId, systemClock);
  return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-store" } });
});
