import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../clock";
import type { Db } from "../db";
import type { Actor } from "../engine/ledger";
import { AppError, notFound } from "../errors";
import { findApiKeyByPrefix, insertApiKey, listApiKeys, revokeApiKey, TOUCH_EVERY_MS, touchApiKey } from "../repos/apiKeys";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import type { ApiKeyScope } from "../schemas/common";

/**
 * Key format: `apk_<prefix>_<secret>`. The prefix is public and indexed (it finds the row); only
 * a SHA-256 of the secret is stored. A high-entropy random secret needs no slow KDF: SHA-256 is
 * the standard choice for API tokens and keeps per-request auth cheap.
 */
const KEY_PATTERN = /^apk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export interface ApiPrincipal {
  tenantId: string;
  keyId: string;
  scopes: ApiKeyScope[];
  /** set when the key requires signed pushes (X-Signature); never leaves the server */
  signingSecret: string | null;
}

export async function createApiKey(
  db: Db,
  input: { tenantId: string; name: string; scopes: ApiKeyScope[]; actor: Actor; signed?: boolean },
  clock: Clock,
) {
  const prefix = randomBytes(9).toString("base64url").replace(/[-_]/g, "x").slice(0, 12);
  const secret = randomBytes(32).toString("base64url");
  // HMAC needs the secret itself on the server (unlike the bearer secret, which is only hashed).
  const signingSecret = input.signed ? `sigsec_${randomBytes(32).toString("base64url")}` : null;
  const now = clock.now();
  const scopes = [...new Set(input.scopes)].sort();
  const record = await inTransaction(db, async (tx) => {
    const key = await insertApiKey(
      tx,
      {
        tenantId: input.tenantId,
        name: input.name,
        prefix,
        secretHash: sha256(secret),
        scopes: scopes.join(","),
        createdById: input.actor.type === "USER" ? input.actor.id : null,
        signingSecret,
      },
      now,
    );
    await appendLedger(
      tx,
      {
        tenantId: input.tenantId,
        type: "API_KEY_CREATED",
        actor: input.actor,
        payload: { api_key_id: key.id, name: key.name, prefix, scopes },
      },
      now,
    );
    return key;
  });
  return { key: `apk_${prefix}_${secret}`, signingSecret, record: { ...record, scopes } };
}

export async function listTenantApiKeys(db: Db, viewer: Viewer) {
  const keys = await listApiKeys(db, viewer.tenantId);
  return keys.map((k) => ({ ...k, scopes: k.scopes.split(",").filter(Boolean) }));
}

export async function revokeTenantApiKey(db: Db, viewer: Viewer, id: string, clock: Clock) {
  const now = clock.now();
  await inTransaction(db, async (tx) => {
    const res = await revokeApiKey(tx, viewer.tenantId, id, now);
    if (res.count !== 1) throw notFound("API key");
    await appendLedger(tx, { tenantId: viewer.tenantId, type: "API_KEY_REVOKED", actor: viewer.actor, payload: { api_key_id: id } }, now);
  });
}

const unauthorized = () => new AppError("UNAUTHORIZED", "Missing or invalid API key");

/** Resolve `Authorization: Bearer <key>`; any failure is the same 401 so nothing leaks which part was wrong. */
export async function authenticateApiKey(db: Db, authorization: string | null, clock: Clock): Promise<ApiPrincipal> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  const parts = match?.[1] ? KEY_PATTERN.exec(match[1]) : null;
  if (!parts?.[1] || !parts[2]) throw unauthorized();
  const row = await findApiKeyByPrefix(db, parts[1]);
  const presented = Buffer.from(sha256(parts[2]), "hex");
  const stored = Buffer.from(row?.secretHash ?? "0".repeat(64), "hex");
  if (!row || row.revokedAt || !timingSafeEqual(presented, stored)) throw unauthorized();
  // Skip the statement when the row just read is fresh: a guarded UPDATE that changes nothing is
  // still a write (on SQLite it takes the write lock), and an ingest key's pushes would otherwise
  // queue one behind every signal group's commit.
  const now = clock.now();
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= TOUCH_EVERY_MS) await touchApiKey(db, row.id, now);
  return {
    tenantId: row.tenantId,
    keyId: row.id,
    scopes: row.scopes.split(",").filter(Boolean) as ApiKeyScope[],
    signingSecret: row.signingSecret,
  };
}
