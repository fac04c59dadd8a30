import { createHash, createPrivateKey, createPublicKey, hkdfSync, type KeyObject, sign, verify } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "./canonical";

/**
 * Signed ledger digests (the QLDB / immudb idea). The chain's hashes prove the rows agree with
 * each other, but someone with write access can delete the newest rows and rewind the head row, and
 * the shorter chain still verifies. A digest — tenant, seq, head hash, time — signed with a key the
 * database does not hold, and kept outside it (the SIEM stream, a download), pins the head: a later
 * chain must still contain that entry with that hash.
 *
 * Ed25519, with the private key derived deterministically from the server's root secret (HKDF), so
 * every instance signs with the same key and nothing new has to be stored; a verifier needs only
 * the public key, whose short hash is the digest's key_id.
 */

export interface DigestKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/** PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export function digestKeysFrom(rootSecret: Buffer): DigestKeys {
  const seed = Buffer.from(hkdfSync("sha256", rootSecret, Buffer.alloc(0), "autopilot-ledger-digest/v1", 32));
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** The first 16 hex characters of the sha256 of the public key's raw SPKI bytes. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ format: "der", type: "spki" }))
    .digest("hex")
    .slice(0, 16);
}

export const SignedDigest = z.object({
  tenant: z.object({ slug: z.string().min(1), id: z.string().min(1) }),
  seq: z.number().int().min(0),
  head_hash: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: z.iso.datetime(),
  key_id: z.string().min(1),
  signature: z.string().min(1),
});
export type SignedDigest = z.infer<typeof SignedDigest>;
export type UnsignedDigest = Omit<SignedDigest, "signature">;

/** The exact bytes signed: canonical JSON of every field but the signature. */
export function digestText(d: UnsignedDigest): string {
  return canonicalJson({ created_at: d.created_at, head_hash: d.head_hash, key_id: d.key_id, seq: d.seq, tenant: d.tenant });
}

export function signDigest(keys: DigestKeys, d: Omit<UnsignedDigest, "key_id">): SignedDigest {
  const body: UnsignedDigest = { ...d, key_id: keys.keyId };
  return { ...body, signature: sign(null, Buffer.from(digestText(body)), keys.privateKey).toString("base64") };
}

/** True only when `publicKey` made the signature over exactly these fields. */
export function digestSignatureValid(publicKey: KeyObject, d: SignedDigest): boolean {
  if (d.key_id !== keyIdOf(publicKey)) return false;
  try {
    return verify(null, Buffer.from(digestText(d)), publicKey, Buffer.from(d.signature, "base64"));
  } catch {
    return false;
  }
}

export type DigestProblem = "BAD_SIGNATURE" | "OTHER_TENANT" | "TRUNCATED" | "REWRITTEN";

export type DigestVerdict = { ok: true } | { ok: false; problem: DigestProblem; detail: string };

/**
 * Does the current chain extend the digest? The head must be at or past digest.seq and the entry at
 * digest.seq must carry digest.head_hash (the intact chain then links everything after it to it).
 * A digest of an empty chain (seq 0) is extended by any chain.
 */
export function chainExtendsDigest(d: Pick<SignedDigest, "seq" | "head_hash">, headSeq: number, hashAtSeq: string | null): DigestVerdict {
  if (headSeq < d.seq) return { ok: false, problem: "TRUNCATED", detail: `digest #${d.seq} is beyond the head #${headSeq}` };
  if (d.seq === 0) return { ok: true };
  if (hashAtSeq === null) return { ok: false, problem: "TRUNCATED", detail: `entry #${d.seq} of the digest is missing` };
  if (hashAtSeq !== d.head_hash) return { ok: false, problem: "REWRITTEN", detail: `entry #${d.seq} hash differs from the digest` };
  return { ok: true };
}
