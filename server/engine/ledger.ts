import { createHash } from "node:crypto";

/**
 * The closed vocabulary of ledger entry types (SPEC §3). Exports and integrations depend on
 * these strings: add new ones, never rename.
 */
export const LEDGER_ENTRY_TYPES = [
  "SIGNAL_RECEIVED",
  "TRIGGER_FIRED",
  "TRIGGER_SUPPRESSED",
  "DECISION_RUN_SKIPPED",
  "COST_GATE_EVALUATED",
  "DECISION_RUN_DEFERRED",
  "DECISION_SYNTHESIZED",
  "INTENT_PROPOSED",
  "POLICY_EVALUATED",
  "BUDGET_CONSUMED",
  "APPROVAL_REQUESTED",
  "INTENT_APPROVED",
  "INTENT_REJECTED",
  "EXECUTION_STARTED",
  "EXECUTION_SUCCEEDED",
  "EXECUTION_FAILED",
  "OUTCOME_RECORDED",
  "CONFIG_CHANGED",
  "KILL_SWITCH_CHANGED",
  "PULL_SCHEDULED",
  "HEAT_TIER_CHANGED",
  "RANKING_WEIGHTS_PROMOTED",
  "RANKING_WEIGHTS_ROLLED_BACK",
  "NORMALIZATION_MISSING",
  "REPLAY_REQUESTED",
  "REPLAY_STARTED",
  "REPLAY_COMPLETED",
  "REPLAY_FAILED",
  "EXPORT_REQUESTED",
  "API_KEY_CREATED",
  "SIGN_IN",
  "ACCOUNTS_IMPORTED",
  "CALIBRATION_COMPLETED",
  "INTENT_EXPIRED",
  "ALWAYS_ON_CHANGED",
  "DIGEST_SENT",
  "CONNECTOR_STATE_CHANGED",
  // Extensions beyond SPEC §3 (additive).
  "API_KEY_REVOKED",
  "ACCOUNT_UPDATED",
  "AUDIT_STREAM_CHANGED",
  "LEDGER_DIGEST_PUBLISHED",
  "METRICS_TOKEN_CREATED",
  "POLICY_PROPOSAL_STARTED",
  "POLICY_PROPOSAL_ENDED",
] as const;

export type LedgerEntryType = (typeof LEDGER_ENTRY_TYPES)[number];
export * from "./ledgerPayloads";

export const ACTOR_TYPES = ["USER", "SYSTEM", "API_KEY"] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export interface Actor {
  type: ActorType;
  /** user id, api key id, or a system component name such as "seed" or "scheduler". */
  id: string | null;
}

/** The first entry of every tenant's chain links to this. */
export const GENESIS_HASH = "0".repeat(64);

/** Exactly the fields covered by the hash; anything not listed here is not protected. */
export interface HashedFields {
  tenantId: string;
  seq: number;
  accountId: string | null;
  correlationId: string;
  type: string;
  actorType: string;
  actorId: string | null;
  /** canonical JSON text as stored */
  payload: string;
  createdAt: Date;
}

export function entryHash(prevHash: string, e: HashedFields): string {
  // Exactly canonicalJson of the nine fields (keys sorted, seq a number, the rest strings or null;
  // test/engine/ledger.test.ts checks the two agree on arbitrary values), written out directly:
  // every appended entry is hashed, and the generic walk's key sort and per-member arrays were a
  // visible share of the gate's CPU profile.
  if (!Number.isSafeInteger(e.seq)) throw new TypeError("entryHash: seq must be an integer");
  const s = JSON.stringify;
  const body = `{"accountId":${s(e.accountId)},"actorId":${s(e.actorId)},"actorType":${s(e.actorType)},"correlationId":${s(
    e.correlationId,
  )},"createdAt":${s(e.createdAt.toISOString())},"payload":${s(e.payload)},"seq":${e.seq},"tenantId":${s(e.tenantId)},"type":${s(e.type)}}`;
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

/**
 * Secrets never reach the ledger: payloads pass the one redactor (server/engine/redact.ts) before
 * hashing, so a careless caller cannot make a credential permanent and exported.
 */
export { redactSecrets } from "./redact";

export interface StoredEntry extends HashedFields {
  id: string;
  prevHash: string;
  hash: string;
}

export type ChainProblem =
  | "HASH_MISMATCH" // the row's content no longer matches its hash
  | "BROKEN_LINK" // prev_hash does not equal the previous row's hash
  | "SEQUENCE_GAP" // a row is missing (deleted) or seq was rewritten
  | "TRUNCATED_TAIL"; // rows after the last one were deleted (the head remembers more)

export type ChainVerdict =
  | { ok: true; entries: number; headHash: string }
  | { ok: false; entries: number; problem: ChainProblem; at: { seq: number; id: string | null }; detail: string };

/**
 * Incremental verifier so callers can stream a long chain in pages with flat memory. Feed rows in
 * ascending seq order, then call `finish` with the head the database holds.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private count = 0;
  private failure: ChainVerdict | null = null;

  push(e: StoredEntry): boolean {
    if (this.failure) return false;
    if (e.seq !== this.expectedSeq) {
      this.failure = this.fail("SEQUENCE_GAP", e, `expected entry #${this.expectedSeq}, found #${e.seq}`);
      return false;
    }
    if (e.prevHash !== this.prevHash) {
      this.failure = this.fail("BROKEN_LINK", e, `prev_hash does not match the hash of entry #${e.seq - 1}`);
      return false;
    }
    if (entryHash(e.prevHash, e) !== e.hash) {
      this.failure = this.fail("HASH_MISMATCH", e, "content does not match its hash (edited)");
      return false;
    }
    this.prevHash = e.hash;
    this.expectedSeq += 1;
    this.count += 1;
    return true;
  }

  finish(head: { seq: number; hash: string } | null): ChainVerdict {
    if (this.failure) return this.failure;
    const headSeq = head?.seq ?? 0;
    if (headSeq !== this.count || (headSeq > 0 && head?.hash !== this.prevHash)) {
      return {
        ok: false,
        entries: this.count,
        problem: "TRUNCATED_TAIL",
        at: { seq: this.count + 1, id: null },
        detail: `the chain head records ${headSeq} entries but ${this.count} verify; entry #${this.count + 1} onward is missing or altered`,
      };
    }
    return { ok: true, entries: this.count, headHash: this.prevHash };
  }

  private fail(problem: ChainProblem, e: StoredEntry, detail: string): ChainVerdict {
    return { ok: false, entries: this.count, problem, at: { seq: e.seq, id: e.id }, detail };
  }
}
