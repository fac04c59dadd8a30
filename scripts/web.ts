/**
 * The web server `npm start` runs: Next.js's request handler behind a plain Node HTTP server
 * (Next's documented custom-server API), for one reason — the sign-in rate limit must key on an
 * address the client cannot choose, and only the TCP connection knows it (`next start` keeps a
 * client-sent X-Forwarded-For as is). Every request gets the resolved client address and this
 * process's secret stamp; whatever a client sent under those header names is dropped first.
 * See server/auth/clientIp.ts and TRUSTED_PROXY_HOPS in the README.
 *
 * A module, not a process of its own: scripts/start.ts calls `serveNext` after migrating, in the
 * one process that also runs the scheduler.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import nextEnv from "@next/env";
import { CLIENT_IP_HEADER, clientAddress, EDGE_HEADER } from "../server/auth/clientIp";

export async function serveNext(): Promise<Server> {
  (process.env as Record<string, string>).NODE_ENV = "production";
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? "0.0.0.0";
  const hops = Number(process.env.TRUSTED_PROXY_HOPS ?? 0);
  if (!Number.isInteger(hops) || hops < 0 || hops > 10) throw new Error("TRUSTED_PROXY_HOPS must be an integer from 0 to 10");
  // Known only to this process (the route handlers run in it), so a stamp cannot be forged.
  const edgeSecret = randomBytes(24).toString("base64url");
  process.env.AUTOPILOT_EDGE_SECRET = edgeSecret;

  applyBuiltConfig();
  // Imported after NODE_ENV is set: Next reads it while loading.
  const { default: next } = await import("next");
  const app = next({ dev: false, hostname: host, port });
  const handle = app.getRequestHandler();
  await app.prepare();

  const server = createServer((req, res) => {
    const xff = req.headers["x-forwarded-for"];
    const ip = clientAddress(Array.isArray(xff) ? xff.join(",") : (xff ?? null), req.socket.remoteAddress ?? null, hops);
    delete req.headers[CLIENT_IP_HEADER];
    delete req.headers[EDGE_HEADER];
    if (ip) {
      req.headers[CLIENT_IP_HEADER] = ip;
      req.headers[EDGE_HEADER] = edgeSecret;
    }
    handle(req, res).catch((err: unknown) => {
      console.error(`[web] request failed: ${err instanceof Error ? err.name : "error"}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  console.log(`[web] ready on http://${host}:${port}`);
  return server;
}

/**
 * Hands Next the configuration `next build` resolved and wrote next to the build (as the server
 * Next generates for `output: "standalone"` does): otherwise Next compiles next.config.ts again
 * at every start, which loads its native SWC compiler (~25 MiB resident for the life of the
 * process) for a file the build already read. Next then skips its .env loading too, so it is done
 * here, as Next does it (existing variables win). Without a build Next reports the missing build.
 */
function applyBuiltConfig() {
  const dir = process.cwd();
  // A CommonJS package: Node's ESM loader cannot see its named exports in the compiled bundle.
  nextEnv.loadEnvConfig(dir, false, { info: () => {}, error: console.error });
  const file = path.join(dir, ".next", "required-server-files.json");
  if (!fs.existsSync(file)) return;
  const { config } = JSON.parse(fs.readFileSync(file, "utf8")) as { config: unknown };
  process.env.__NEXT_PRIVATE_STANDALONE_CONFIG = JSON.stringify(config);
}
