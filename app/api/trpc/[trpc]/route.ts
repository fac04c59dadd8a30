import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { getAuth } from "@/server/auth/auth";
import { systemClock } from "@/server/clock";
import { getDb } from "@/server/db";

export const dynamic = "force-dynamic";

function handler(req: Request) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: async () => ({
      db: getDb(),
      clock: systemClock,
      session: await getAuth().api.getSession({ headers: req.headers }),
    }),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path ?? "?"} failed: ${error.message}`);
    },
  });
}

export { handler as GET, handler as POST };
