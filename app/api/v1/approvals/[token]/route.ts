import { systemClock } from "@/server/clock";
import { getDb } from "@/server/db";
import { connectorDepsFromEnv } from "@/server/http/deps";
import { checkJsonShape } from "@/server/http/limits";
import { errorResponse, jsonBody, publicRoute } from "@/server/http/rest";
import { ApprovalLinkBody } from "@/server/schemas/approvals";
import { decideByLink } from "@/server/services/approvals/decide";

export const dynamic = "force-dynamic";

/**
 * A decision through a one-time link (SPEC §5.1): the signed token in the path is the credential
 * — no API key, no session. 404 for a token that is not a link; 410 once it cannot decide.
 */
export async function POST(req: Request, route: { params: Promise<{ token: string }> }): Promise<Response> {
  return publicRoute(async () => {
    const params = await route.params;
    checkJsonShape(params);
    const body = await jsonBody(req, ApprovalLinkBody);
    const r = await decideByLink({ db: getDb(), clock: systemClock, connectors: connectorDepsFromEnv() }, params.token, body);
    if (!r.ok) return errorResponse(410, r.code, r.message);
    return Response.json({ decision: r.decision, action_intent_id: r.actionIntentId, status: r.status });
  })(req);
}
