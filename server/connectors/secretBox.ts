import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Connector credentials at rest (the CRM's private-app token): AES-256-GCM with a random 96-bit
 * nonce per value, stored as `v1.<iv>.<tag>.<ciphertext>` (base64url). The 32-byte key comes
 * from the environment at the edge (CONNECTOR_SECRET_KEY, else derived from BETTER_AUTH_SECRET —
 * server/http/deps.ts) and reaches services in their deps; a database dump alone reveals nothing.
 */

export type SecretKey = Buffer;

/** Any configured key text → 32 bytes: 64 hex chars or 32-byte base64 are used as is, else hashed. */
export function secretKeyFrom(text: string, label = "autopilot-connector-secret"): SecretKey {
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, "hex");
  const b64 = Buffer.from(text, "base64");
  if (b64.length === 32 && /^[A-Za-z0-9+/_-]{43}=?$/.test(text)) return b64;
  return createHash("sha256").update(`${label}:${text}`).digest();
}

export function sealSecret(key: SecretKey, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return ["v1", iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), ct.toString("base64url")].join(".");
}

/** The plain text, or null when the value was sealed with another key or tampered with. */
export function openSecret(key: SecretKey, sealed: string): string | null {
  const [v, iv, tag, ct] = sealed.split(".");
  if (v !== "v1" || !iv || !tag || ct === undefined) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}
