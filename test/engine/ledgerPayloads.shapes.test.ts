import { describe, expect, it } from "vitest";
import { LEDGER_ENTRY_TYPES } from "@/server/engine/ledger";
import { isLedgerEntryType, parseLedgerPayload, TYPED_LEDGER_ENTRY_TYPES } from "@/server/engine/ledgerPayloads";

/**
 * The shape each ledger entry type must have to be read as its own variant. For every typed entry:
 * the smallest payload a writer may store (core fields only — entries written before a field
 * existed) reads as its type; the same payload without any one core field, or with a core field of
 * the wrong type, is an old or foreign shape and reads as UNRECOGNIZED with its raw payload kept.
 * Readers (describe.ts, the explanation) rely on exactly these core fields.
 */

type Typed = (typeof TYPED_LEDGER_ENTRY_TYPES)[number];

const MINIMAL: Record<Typed, Record<string, unknown>> = {
  SIGNAL_RECEIVED: { signal_type: "SUPPORT_RISK_EMERGING" },
  TRIGGER_FIRED: { trigger_type: "SUPPORT_RISK_EMERGING", run_id: "r1" },
  TRIGGER_SUPPRESSED: { trigger_type: "POSTURE_CHANGE", reason: "DEBOUNCE" },
  DECISION_RUN_SKIPPED: { run_id: "r1", reason: "INTERRUPTED" },
  COST_GATE_EVALUATED: { run_id: "r1", result: "ALLOW", reason: "OK" },
  DECISION_RUN_DEFERRED: { run_id: "r1", reason: "LOCKED" },
  DECISION_SYNTHESIZED: { run_id: "r1", ok: true, synthesizer: "rules" },
  INTENT_PROPOSED: { action_intent_id: "i1", action_type: "DRAFT_EMAIL" },
  POLICY_EVALUATED: { action_intent_id: "i1", decision: "REQUIRE_APPROVAL", reason: "GATE_ERROR" },
  BUDGET_CONSUMED: { action_intent_id: "i1", date_key: "2026-03-02", cap: 3, consumed: 1 },
  APPROVAL_REQUESTED: { action_intent_id: "i1", reason: "GATE_ERROR" },
  INTENT_APPROVED: { action_intent_id: "i1", edited: false },
  INTENT_REJECTED: { action_intent_id: "i1" },
  EXECUTION_STARTED: { execution_id: "e1", action_intent_id: "i1" },
  EXECUTION_SUCCEEDED: { execution_id: "e1", action_intent_id: "i1" },
  EXECUTION_FAILED: { execution_id: "e1" },
  OUTCOME_RECORDED: { action_intent_id: "i1", label: "IDEA_REJECTED" },
  CONFIG_CHANGED: { change: "autonomy_mode" },
  KILL_SWITCH_CHANGED: { scope: "TENANT", after: true },
  API_KEY_CREATED: { api_key_id: "k1" },
  API_KEY_REVOKED: { api_key_id: "k1" },
  SIGN_IN: { user_id: "u1" },
  ACCOUNT_UPDATED: { changed: {} },
  PULL_SCHEDULED: { pull_job_id: "p1", connector: "crm", depth: "DEEP", tier: "HOT", result: "RUN", reason: "SCHEDULED" },
  HEAT_TIER_CHANGED: { from: "COLD", to: "HOT", score: 0.8, rule: "PROMOTION" },
  ACCOUNTS_IMPORTED: { import_id: "im1", kind: "ACCOUNTS", rows_total: 3, created: 2, updated: 1, errors: 0 },
  NORMALIZATION_MISSING: { action_intent_id: "i1", status: "APPROVED", after_hours: 24 },
  CALIBRATION_COMPLETED: { job_id: "c1", ok: true, rows: 100 },
  RANKING_WEIGHTS_PROMOTED: { weights_id: "w1", version: 2, scope: "TENANT", reason: "shadow gate passed" },
  RANKING_WEIGHTS_ROLLED_BACK: { weights_id: "w1", scope: "TENANT", reason: "regressed", automatic: true },
  INTENT_EXPIRED: { action_intent_id: "i1", fallback: "REJECT", ttl_hours: 72 },
  ALWAYS_ON_CHANGED: { before: false, after: true },
  DIGEST_SENT: { digest_run_id: "d1", user_id: "u1", date: "2026-11-25", timezone: "UTC", delivered: true, counts: {} },
  EXPORT_REQUESTED: { export_id: "x1", format: "csv", schema_version: 1, from: "2026-11-01T00:00:00.000Z", to: "2026-11-02T00:00:00.000Z" },
  AUDIT_STREAM_CHANGED: { origin: "https://siem.example", enabled: true, secret_rotated: true },
  LEDGER_DIGEST_PUBLISHED: { digest_id: "g1", seq: 10, head_hash: "ab", key_id: "k1" },
  METRICS_TOKEN_CREATED: { prefix: "mt_ab" },
  POLICY_PROPOSAL_STARTED: { proposal_id: "p1", name: "stricter", changes: [] },
  POLICY_PROPOSAL_ENDED: { proposal_id: "p1", outcome: "DISCARDED", evaluations: 0, changed: 0 },
  CONNECTOR_STATE_CHANGED: { connector: "crm", from: "CLOSED", to: "OPEN" },
  REPLAY_REQUESTED: { action_intent_id: "i1", original_execution_id: "e1", replay_reason: "r", requested_by: "u1" },
  REPLAY_STARTED: { action_intent_id: "i1", original_execution_id: "e1", execution_id: "e2" },
  REPLAY_COMPLETED: { action_intent_id: "i1", original_execution_id: "e1", execution_id: "e2" },
  REPLAY_FAILED: { action_intent_id: "i1", original_execution_id: "e1", execution_id: "e2", error: "x" },
};

/** A value of the wrong JSON type for a core field (a string field given a number, and so on). */
function wrongType(v: unknown): unknown {
  if (typeof v === "string") return 42;
  if (typeof v === "number") return "3";
  if (typeof v === "boolean") return "true";
  return "not an object";
}

const cases = TYPED_LEDGER_ENTRY_TYPES.flatMap((type) => Object.keys(MINIMAL[type]).map((field) => [type, field] as const));

describe("ledger payload shapes: core fields", () => {
  it("covers every typed entry type", () => {
    expect(Object.keys(MINIMAL).sort()).toEqual([...TYPED_LEDGER_ENTRY_TYPES].sort());
  });

  it.each(TYPED_LEDGER_ENTRY_TYPES)("%s with its core fields only reads as its own type (stored text and parsed value)", (type) => {
    const minimal = MINIMAL[type];
    expect(parseLedgerPayload(type, JSON.stringify(minimal))).toEqual({ type, payload: minimal });
    expect(parseLedgerPayload(type, minimal)).toEqual({ type, payload: minimal });
  });

  it.each(cases)("%s without %s is UNRECOGNIZED, its payload kept whole", (type, field) => {
    const { [field]: _dropped, ...rest } = MINIMAL[type];
    expect(parseLedgerPayload(type, JSON.stringify(rest))).toEqual({ type: "UNRECOGNIZED", entryType: type, payload: rest });
  });

  it.each(cases)("%s with %s of the wrong type is UNRECOGNIZED", (type, field) => {
    const bad = { ...MINIMAL[type], [field]: wrongType(MINIMAL[type][field]) };
    expect(parseLedgerPayload(type, bad)).toEqual({ type: "UNRECOGNIZED", entryType: type, payload: bad });
  });
});

describe("ledger payload shapes: nested parts", () => {
  it("a synthesized proposal needs its action type", () => {
    const ok = { ...MINIMAL.DECISION_SYNTHESIZED, proposals: [{ action_type: "FLAG_FOR_REVIEW" }] };
    expect(parseLedgerPayload("DECISION_SYNTHESIZED", ok).type).toBe("DECISION_SYNTHESIZED");
    const bad = { ...MINIMAL.DECISION_SYNTHESIZED, proposals: [{ action_intent_id: "i1", rank_score: 0.7 }] };
    expect(parseLedgerPayload("DECISION_SYNTHESIZED", bad).type).toBe("UNRECOGNIZED");
  });

  it("an approval request's kill switch needs its scope; null means none", () => {
    const base = MINIMAL.APPROVAL_REQUESTED;
    expect(parseLedgerPayload("APPROVAL_REQUESTED", { ...base, kill_switch: null }).type).toBe("APPROVAL_REQUESTED");
    expect(parseLedgerPayload("APPROVAL_REQUESTED", { ...base, kill_switch: { scope: "ACTION_TYPE", key: "DRAFT_EMAIL" } }).type).toBe(
      "APPROVAL_REQUESTED",
    );
    expect(parseLedgerPayload("APPROVAL_REQUESTED", { ...base, kill_switch: { key: "DRAFT_EMAIL" } }).type).toBe("UNRECOGNIZED");
  });

  it("each changed account field records both before and after (before may be null)", () => {
    const ok = { changed: { posture: { before: null, after: "AT_RISK" } } };
    expect(parseLedgerPayload("ACCOUNT_UPDATED", ok)).toEqual({ type: "ACCOUNT_UPDATED", payload: ok });
    expect(parseLedgerPayload("ACCOUNT_UPDATED", { changed: { posture: { after: "AT_RISK" } } }).type).toBe("UNRECOGNIZED");
    expect(parseLedgerPayload("ACCOUNT_UPDATED", { changed: { posture: "AT_RISK" } }).type).toBe("UNRECOGNIZED");
  });

  it("optional fields accept null where the writers store null, and keep unknown extra fields", () => {
    const p = { ...MINIMAL.INTENT_APPROVED, reason: null, approved_by: null, reviewer_note: "extra" };
    expect(parseLedgerPayload("INTENT_APPROVED", p)).toEqual({ type: "INTENT_APPROVED", payload: p });
  });

  it("a redacted value in a string field still reads as its own type", () => {
    const p = { ...MINIMAL.API_KEY_CREATED, prefix: "[REDACTED]", name: "[REDACTED]" };
    expect(parseLedgerPayload("API_KEY_CREATED", p).type).toBe("API_KEY_CREATED");
  });
});

describe("parseLedgerPayload fallbacks", () => {
  it("keeps only an object as the raw payload: arrays and scalars become {}", () => {
    for (const stored of ["[1,2]", "[]", "5", '"text"', "true", "null", [1, 2], 5, "not json", true, null, undefined]) {
      for (const type of ["SIGN_IN", "SOMETHING_NEW"]) {
        expect(parseLedgerPayload(type, stored), `${type} ${String(stored)}`).toEqual({
          type: "UNRECOGNIZED",
          entryType: type,
          payload: {},
        });
      }
    }
  });

  it("parses stored JSON text before checking it, and keeps the object of an unknown type", () => {
    expect(parseLedgerPayload("SIGN_IN", '{"user_id":"u1"}')).toEqual({ type: "SIGN_IN", payload: { user_id: "u1" } });
    expect(parseLedgerPayload("SOMETHING_NEW", { a: 1 })).toEqual({ type: "UNRECOGNIZED", entryType: "SOMETHING_NEW", payload: { a: 1 } });
  });

  it("does not throw on a value whose field access throws", () => {
    const hostile = {
      get user_id(): string {
        throw new Error("boom");
      },
    };
    expect(parseLedgerPayload("SIGN_IN", hostile)).toMatchObject({ type: "UNRECOGNIZED", entryType: "SIGN_IN" });
  });

  it("knows exactly the vocabulary's entry types, not Object.prototype's names", () => {
    for (const t of LEDGER_ENTRY_TYPES) expect(isLedgerEntryType(t)).toBe(true);
    for (const t of ["constructor", "__proto__", "toString", "UNRECOGNIZED", ""]) expect(isLedgerEntryType(t)).toBe(false);
  });
});
