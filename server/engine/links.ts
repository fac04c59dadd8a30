import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Signed bearer links (SPEC §4.6): one-time approval links and the tenant's alert hook. A token is
 * `<id>.<signature>`, the signature an HMAC-SHA256 of the kind and the id under a key the server
 * holds. Only the id is stored, so a database dump yields no usable link, and an altered token
 * fails the signature check before anything is read. Pure given the key; the key comes from the
 * edge (server/http/deps.ts).
 */

export const LINK_KINDS = ["approval", "alert-hook"] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/** 128 random bits: the stored, public half of a token. */
export function newLinkId(): string {
  return randomBytes(16).toString("base64url");
}

/** The signing key for links, derived from the connector secret so one secret stays the root. */
export function linkKeyFrom(secret: Buffer): Buffer {
  return createHmac("sha256", secret).update("autopilot-link-signing/v1").digest();
}

function signature(key: Buffer, kind: LinkKind, id: string): string {
  return createHmac("sha256", key).update(`${kind}:v1:${id}`).digest("base64url");
}

export function signLink(key: Buffer, kind: LinkKind, id: string): string {
  return `${id}.${signature(key, kind, id)}`;
}

const TOKEN = /^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/;

/** The id a token stands for, or null when it is malformed or not signed by this key for this kind. */
export function verifyLink(key: Buffer, kind: LinkKind, token: string): string | null {
  const m = TOKEN.exec(token);
  if (!m) return null;
  const [, id, sig] = m as unknown as [string, string, string];
  const expected = Buffer.from(signature(key, kind, id));
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected) ? id : null;
}
