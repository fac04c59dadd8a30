import { toNextJsHandler } from "better-auth/next-js";
import { clientIpConfigFromEnv, getAuth } from "@/server/auth/auth";
import { withClientIp } from "@/server/auth/clientIp";
import { AppError, HTTP_STATUS } from "@/server/errors";

export const dynamic = "force-dynamic";

// Resolved per request so the module can load at build time without a secret. The client
// address the sign-in limiter keys on is decided by server/auth/clientIp.ts, never by the client.
async function handle(req: Request, method: "GET" | "POST") {
  let request: Request;
  try {
    request = await withClientIp(req, clientIpConfigFromEnv());
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return Response.json({ error: { code: err.code, message: err.message, field: err.field } }, { status: HTTP_STATUS[err.code] });
  }
  return toNextJsHandler(getAuth())[method](request);
}

export const GET = (req: Request) => handle(req, "GET");
export const POST = (req: Request) => handle(req, "POST");
