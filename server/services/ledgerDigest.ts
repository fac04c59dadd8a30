import type { KeyObject } from "node:crypto";
import type { Clock } from "../clock";
import type { Db } from "../db";
import type { ChainVerdict } from "../engine/ledger";
import {
  chainExtendsDigest,
  type DigestKeys,
  type DigestVerdict,
  digestSignatureValid,
  SignedDigest,
  signDigest,
} from "../engine/ledgerDigest";
import { AppError, isUniqueViolation, notFound } from "../errors";
import { appendLedger, ledgerHead } from "../repos/ledger";
import { insertLedgerDigest, latestLedgerDigest, ledgerHashAt } from "../repos/ledgerDigest";
import type { Viewer } from "../repos/scope";
import { findTenantById } from "../repos/tenants";
import { inTransaction } from "../repos/tx";
import { verifyLedger } from "./ledger";

const PUBLISHER = { type: "SYSTEM" as const, id: "ledger-verify" };

function toSigned(
  tenant: { id: string; slug: string },
  row: { seq: number; headHash: string; keyId: string; signature: string; createdAt: Date },
): SignedDigest {
  return {
    tenant: { slug: tenant.slug, id: tenant.id },
    seq: row.seq,
    head_hash: row.headHash,
    created_at: row.createdAt.toISOString(),
    key_id: row.keyId,
    signature: row.signature,
  };
}

/**
 * Sign the tenant's current head and record it: a LedgerDigest row and a LEDGER_DIGEST_PUBLISHED
 * entry carrying the signature (so the SIEM stream ships it out of the database). The digest covers
 * the head *before* its own entry; a head that has advanced only by that entry is not re-signed, so
 * a quiet tenant gets no new digest each tick. Null when there is nothing new to sign.
 */
export async function publishLedgerDigest(db: Db, clock: Clock, tenant: { id: string; slug: string }, keys: DigestKeys) {
  try {
    return await inTransaction(db, async (tx) => {
      const head = await ledgerHead(tx, tenant.id);
      const last = await latestLedgerDigest(tx, tenant.id);
      if (!head || head.seq === 0 || (last && head.seq <= last.seq + 1)) return null;
      const now = clock.now();
      const signed = signDigest(keys, {
        tenant: { slug: tenant.slug, id: tenant.id },
        seq: head.seq,
        head_hash: head.hash,
        created_at: now.toISOString(),
      });
      const row = await insertLedgerDigest(tx, {
        tenantId: tenant.id,
        seq: signed.seq,
        headHash: signed.head_hash,
        keyId: signed.key_id,
        signature: signed.signature,
        createdAt: now,
      });
      await appendLedger(
        tx,
        {
          tenantId: tenant.id,
          type: "LEDGER_DIGEST_PUBLISHED",
          actor: PUBLISHER,
          payload: {
            digest_id: row.id,
            seq: signed.seq,
            head_hash: signed.head_hash,
            key_id: signed.key_id,
            signature: signed.signature,
            published_at: signed.created_at,
          },
        },
        now,
      );
      return signed;
    });
  } catch (err) {
    // Another publisher signed this very head first (unique tenant+seq): theirs stands.
    if (isUniqueViolation(err)) return null;
    throw err;
  }
}

/** The newest signed digest of the viewer's tenant, as the JSON a verifier keeps. */
export async function latestDigest(db: Db, viewer: Viewer): Promise<SignedDigest> {
  const tenant = await findTenantById(db, viewer.tenantId);
  const row = await latestLedgerDigest(db, viewer.tenantId);
  if (!tenant || !row) throw notFound("ledger digest");
  return toSigned(tenant, row);
}

export type DigestCheck =
  | { ok: true; chain: Extract<ChainVerdict, { ok: true }>; headSeq: number }
  | ({ ok: false } & Omit<Extract<DigestVerdict, { ok: false }>, "ok">)
  | { ok: false; problem: "CHAIN_BROKEN"; detail: string };

/** Parse a saved digest file's JSON; a clear 400 naming the problem when it is not one. */
export function parseDigest(json: unknown): SignedDigest {
  const parsed = SignedDigest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      "BAD_REQUEST",
      `not a ledger digest: ${issue?.path.join(".") || "body"} ${issue?.message ?? "is invalid"}`,
      "digest",
    );
  }
  return parsed.data;
}

/**
 * Prove the tenant's current chain extends a saved digest: the signature is this server's, the
 * digest is this tenant's, the chain is intact, and the entry at digest.seq still has its hash.
 */
export async function verifyAgainstDigest(db: Db, tenantId: string, digest: SignedDigest, publicKey: KeyObject): Promise<DigestCheck> {
  if (!digestSignatureValid(publicKey, digest))
    return { ok: false, problem: "BAD_SIGNATURE", detail: `the signature does not verify with key ${digest.key_id}` };
  if (digest.tenant.id !== tenantId) return { ok: false, problem: "OTHER_TENANT", detail: `the digest is tenant ${digest.tenant.slug}'s` };
  const chain = await verifyLedger(db, tenantId);
  if (!chain.ok) return { ok: false, problem: "CHAIN_BROKEN", detail: `${chain.problem} at entry #${chain.at.seq}: ${chain.detail}` };
  const head = await ledgerHead(db, tenantId);
  const headSeq = head?.seq ?? 0;
  const extends_ = chainExtendsDigest(digest, headSeq, digest.seq <= headSeq ? await ledgerHashAt(db, tenantId, digest.seq) : null);
  if (!extends_.ok) return extends_;
  return { ok: true, chain, headSeq };
}
