import { timingSafeEqual } from "node:crypto";
import { readBodyText } from "../http/limits";

/**
 * The client address the sign-in rate limiter keys on — something the client cannot choose.
 *
 * `X-Forwarded-For` is written by whoever sent the request: with no proxy in front, a client that
 * rotates it gets a fresh rate-limit bucket per attempt (and `next start` keeps a client-sent
 * value rather than the socket address). So it is trusted only behind a configured number of
 * proxies (`TRUSTED_PROXY_HOPS`), each of which appends the address it saw; otherwise the address
 * is the TCP peer, which `scripts/web.ts` (what `npm start` serves with) stamps on every request
 * together with a per-process secret so a client cannot forge the stamp.
 *
 * better-auth reads only CLIENT_IP_HEADER (`advanced.ipAddress.ipAddressHeaders`); this module
 * decides its value, and drops it when nothing trustworthy is known — better-auth then puts every
 * such request in one shared bucket, which limits more strictly, never less.
 */
export const CLIENT_IP_HEADER = "x-autopilot-client-ip";
export const EDGE_HEADER = "x-autopilot-edge";

export interface ClientIpConfig {
  /** proxies in front of the app that append to X-Forwarded-For (0: none, trust no header) */
  trustedProxyHops: number;
  /** the secret scripts/web.ts stamps next to the peer address; unset when not served by it */
  edgeSecret?: string;
}

function forwardedList(xff: string | null): string[] {
  return (xff ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The address `hops` proxies in front of us saw: the chain is X-Forwarded-For plus the TCP peer
 * (when known); each trusted proxy accounts for one entry from the right. With no trusted proxy
 * that is the peer itself. Null when the chain is shorter than the configuration says.
 */
export function clientAddress(xff: string | null, peer: string | null, hops: number): string | null {
  const chain = [...forwardedList(xff), ...(peer ? [peer] : [])];
  if (hops === 0) return peer;
  return chain[chain.length - 1 - hops] ?? null;
}

function sameSecret(a: string | null, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The trustworthy client address for a request, or null. */
export function resolveClientIp(headers: Headers, cfg: ClientIpConfig): string | null {
  if (cfg.edgeSecret && sameSecret(headers.get(EDGE_HEADER), cfg.edgeSecret)) return headers.get(CLIENT_IP_HEADER);
  // Not stamped by our server (e.g. a platform that terminates connections itself): only a
  // configured proxy chain can say who the client is; the TCP peer is unknown here.
  // The nearest proxy is the (unknown) peer, so the client is `hops` entries from the right.
  if (cfg.trustedProxyHops === 0) return null;
  const list = forwardedList(headers.get("x-forwarded-for"));
  return list[list.length - cfg.trustedProxyHops] ?? null;
}

/**
 * The request better-auth sees: the client-IP header replaced by the resolved address (or
 * removed), the edge stamp removed, and the body read under the boundary's byte cap.
 */
export async function withClientIp(req: Request, cfg: ClientIpConfig): Promise<Request> {
  const headers = new Headers(req.headers);
  const ip = resolveClientIp(req.headers, cfg);
  headers.delete(CLIENT_IP_HEADER);
  headers.delete(EDGE_HEADER);
  if (ip) headers.set(CLIENT_IP_HEADER, ip);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(req.url, { method: req.method, headers, body: hasBody ? await readBodyText(req) : undefined });
}
