import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { getAuth } from "@/server/auth/auth";
import { systemClock } from "@/server/clock";
import { getDb } from "@/server/db";
import { AppError, HTTP_STATUS } from "@/server/errors";
import { readBodyText } from "@/server/http/limits";

export const dynamic = "force-dynamic";

async function handler(req: Request) {
  // The body-size limit (server/http/limits.ts) applies before tRPC parses anything.
  let request = req;
  if (req.method === "POST") {
    try {
      request = new Request(req.url, { method: "POST", headers: req.headers, body: await readBodyText(req) });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return Response.json({ error: { code: err.code, message: err.message, field: err.field } }, { status: HTTP_STATUS[err.code] });
    }
  }
  // Unexpected errors are logged once, redacted, with an id by the error formatter (server/api/trpc.ts).
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    createContext: async () => ({
      db: getDb(),
      clock: systemClock,
      session: await getAuth().api.getSession({ headers: request.headers }),
    }),
  });
}

export { handler as GET, handler as POST };
