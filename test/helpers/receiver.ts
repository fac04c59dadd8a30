import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A webhook receiver on 127.0.0.1: answers `status`; while `hold` is set every request waits for
 * `release()`. Counts requests, in flight now and at most, and the idempotency keys it saw.
 */
export async function receiver() {
  const r = {
    status: 200,
    hold: false,
    delayMs: 0,
    hits: 0,
    inFlight: 0,
    maxInFlight: 0,
    keys: [] as string[],
    waiting: [] as (() => void)[],
    url: "",
    server: null as unknown as Server,
    release() {
      r.hold = false;
      for (const w of r.waiting.splice(0)) w();
    },
  };
  r.server = createServer((req, res) => {
    r.hits++;
    r.inFlight++;
    r.maxInFlight = Math.max(r.maxInFlight, r.inFlight);
    r.keys.push(String(req.headers["idempotency-key"]));
    req.resume();
    req.on("end", async () => {
      if (r.hold) await new Promise<void>((ok) => r.waiting.push(ok));
      if (r.delayMs) await new Promise((ok) => setTimeout(ok, r.delayMs));
      r.inFlight--;
      res.statusCode = r.status;
      res.end("{}");
    });
  });
  // Longer than any pause between calls here: a pooled keep-alive socket the server closed while
  // idle would reset the next request before it arrives (a client-side race, not a connector fault).
  r.server.keepAliveTimeout = 120_000;
  await new Promise<void>((ok) => r.server.listen(0, "127.0.0.1", ok));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
  return r;
}
