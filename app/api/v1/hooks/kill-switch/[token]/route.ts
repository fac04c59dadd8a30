import { systemClock } from "@/server/clock";
import { getDb } from "@/server/db";
import { connectorDepsFromEnv } from "@/server/http/deps";
import { snake } from "@/server/http/dto";
import { readBodyText } from "@/server/http/limits";
import { publicRoute } from "@/server/http/rest";
import { fireAlertHook } from "@/server/services/alertHook";

export const dynamic = "force-dynamic";

/** An alert from a monitoring tool: the signed token in the path is the credential (no API key). */
export async function POST(req: Request, route: { params: Promise<{ token: string }> }) {
  return publicRoute(async () => {
    const { token } = await route.params;
    const out = await fireAlertHook(getDb(), connectorDepsFromEnv(), token, () => readBodyText(req), systemClock);
    return Response.json(snake({ ok: true, ...out }));
  })(req);
}
