import { getDb } from "@/server/db";
import { env } from "@/server/env";
import { checkHealth } from "@/server/services/health";

export const dynamic = "force-dynamic";

export async function GET() {
  const health = await checkHealth(getDb(), env().APP_VERSION);
  return Response.json(health, { status: health.ok ? 200 : 503 });
}
