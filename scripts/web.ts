/**
 * The web server `npm start` runs: Next.js's request handler behind a plain Node HTTP server
 * (Next's documented custom-server API), for one reason — the sign-in rate limit must key on an
 * address the client cannot choose, and only the TCP connection knows it (`next start` keeps a
 * client-sent X-Forwarded-For as is). Every request gets the resolved client address and this
 * process's secret stamp; whatever a client sent under those header names is dropped first.
 * See server/auth/clientIp.ts and TRUSTED_PROXY_HOPS in the README.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { CLIENT_IP_HEADER, clientAddress, EDGE_HEADER } from "../server/auth/clientIp";

(process.env as Record<string, string>).NODE_ENV = "production";
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "0.0.0.0";
const hops = Number(process.env.TRUSTED_PROXY_HOPS ?? 0);
if (!Number.isInteger(hops) || hops < 0 || hops > 10) throw new Error("TRUSTED_PROXY_HOPS must be an integer from 0 to 10");
// Known only to this process (the route handlers run in it), so a stamp cannot be forged.
const edgeSecret = randomBytes(24).toString("base64url");
process.env.AUTOPILOT_EDGE_SECRET = edgeSecret;

// Imported after NODE_ENV is set: Next reads it while loading.
const { default: next } = await import("next");
const app = next({ dev: false, hostname: host, port });
const handle = app.getRequestHandler();
await app.prepare();

createServer((req, res) => {
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
}).listen(port, host, () => console.log(`[web] ready on http://${host}:${port}`));
