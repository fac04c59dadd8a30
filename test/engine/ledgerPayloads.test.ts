import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeEntry } from "@/components/ledger/describe";
import { LEDGER_ENTRY_TYPES, type LedgerEntryType, redactSecrets } from "@/server/engine/ledger";
import { LEDGER_PAYLOAD_SCHEMAS, parseLedgerPayload, TYPED_LEDGER_ENTRY_TYPES } from "@/server/engine/ledgerPayloads";

const ROOT = path.resolve(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "generated") out.push(...sources(rel));
    } else if (/\.tsx?$/.test(entry.name)) out.push(rel);
  }
  return out;
}

/**
 * Every entry type the code writes: string literals naming an entry type in any file that appends
 * to the ledger (the write side stays `payload: Record<string, unknown>` for now, so this scan is
 * what ties writers to the union).
 */
function writtenTypes(): Map<string, string[]> {
  const known = new Set<string>(LEDGER_ENTRY_TYPES);
  const found = new Map<string, string[]>();
  for (const file of [...sources("server"), ...sources("scripts")]) {
    if (file.startsWith(path.join("server", "engine"))) continue;
    const src = fs.readFileSync(path.join(ROOT, file), "utf8");
    if (!/appendLedger(Batch)?\(/.test(src)) continue;
    for (const m of src.matchAll(/"([A-Z][A-Z_]+)"/g)) {
      const t = m[1] as string;
      if (known.has(t)) found.set(t, [...(found.get(t) ?? []), file]);
    }
  }
  return found;
}

/** One payload per type, exactly as today's call sites write it (field for field). */
const WRITTEN: { [T in (typeof TYPED_LEDGER_ENTRY_TYPES)[number]]: Record<string, unknown>[] } = {
  SIGNAL_RECEIVED: [
    {
      signal_id: "s1",
      signal_type: "SUPPORT_RISK_EMERGING",
      severity: "high",
      evidence: { tickets: 3 },
      source: "api",
      occurred_at: "2026-03-02T10:00:00.000Z",
    },
    { signal_type: "USAGE_TREND_CHANGE", severity: "medium", evidence: {}, source: "demo" },
  ],
  TRIGGER_FIRED: [
    { trigger_type: "SUPPORT_RISK_EMERGING", run_id: "r1", idempotency_key: "k", source: "api" },
    { trigger_type: "SUPPORT_RISK_EMERGING", run_id: "r1", idempotency_key: "k", coalesced_events: 3 },
  ],
  TRIGGER_SUPPRESSED: [
    {
      trigger_type: "POSTURE_CHANGE",
      reason: "DEBOUNCE",
      window_opened_at: "2026-03-02T10:00:00.000Z",
      fires_at: "2026-03-02T10:05:00.000Z",
    },
    { trigger_type: "POSTURE_CHANGE", reason: "COOLDOWN", explanation: "fired 3 minutes ago", coalesced_events: 2 },
  ],
  DECISION_RUN_SKIPPED: [
    { run_id: "r1", reason: "DUPLICATE_IDEMPOTENCY_KEY", idempotency_key: "k" },
    { run_id: "r1", reason: "INTERRUPTED" },
    { run_id: "r1", reason: "NO_NEW_EVIDENCE", explanation: "nothing new" },
    { run_id: "r1", reason: "LOCKED", after_retry: true },
  ],
  COST_GATE_EVALUATED: [
    {
      run_id: "r1",
      result: "ALLOW",
      reason: "OK",
      explanation: "go",
      retry_after_seconds: null,
      inputs: { runs_today: 1, tokens_today: 0, open_intents: 0, new_evidence: true, heat_tier: "COLD" },
    },
  ],
  DECISION_RUN_DEFERRED: [{ run_id: "r1", reason: "LOCKED", explanation: "another run holds the account", retry_after_seconds: 60 }],
  DECISION_SYNTHESIZED: [
    {
      run_id: "r1",
      ok: true,
      synthesizer: "rules",
      model: null,
      tokens: { input: 0, output: 0, total: 0 },
      proposals: [{ action_intent_id: "i1", action_type: "FLAG_FOR_REVIEW", rank_score: 0.7, status: "PENDING_APPROVAL", reason: "MODE" }],
    },
    {
      run_id: "r1",
      ok: false,
      error: "MODEL_TIMEOUT",
      message: "timed out",
      synthesizer: "llm",
      model: "m",
      tokens: { total: 0 },
      proposals: [],
    },
  ],
  INTENT_PROPOSED: [
    {
      action_intent_id: "i1",
      action_type: "DRAFT_EMAIL",
      confidence: 0.8,
      risk_level: "LOW",
      why: ["x"],
      parameters: { to: "a@b.c" },
      target: {},
      blocking_unknowns: [],
      source: "API",
      idempotency_key: null,
    },
    { action_intent_id: "i1", action_type: "DRAFT_EMAIL", source: "API" },
  ],
  POLICY_EVALUATED: [
    {
      action_intent_id: "i1",
      action_type: "DRAFT_EMAIL",
      decision: "REQUIRE_APPROVAL",
      reason: "MODE_APPROVAL_REQUIRED",
      explanation: "…",
      policy_version: "v1",
      policy_clause: "P4",
      clauses: ["P4"],
      mode: "APPROVAL_REQUIRED",
      mode_source: "DEFAULT",
      allowlisted: false,
      kill_switch: null,
    },
    { action_intent_id: "i1", decision: "REQUIRE_APPROVAL", reason: "GATE_ERROR", explanation: "…", error_kind: "TypeError" },
    {
      action_intent_id: "i1",
      decision: "REQUIRE_APPROVAL",
      reason: "NOT_OPTED_IN",
      policy_clause: "G2.always-on",
      always_on_missing: ["ACCOUNT_NOT_OPTED_IN", "NO_DIGEST_CONFIGURED"],
    },
  ],
  BUDGET_CONSUMED: [{ action_intent_id: "i1", date_key: "2026-03-02", cap: 3, consumed: 1, remaining: 2 }],
  APPROVAL_REQUESTED: [
    { action_intent_id: "i1", reason: "MODE_APPROVAL_REQUIRED", explanation: "…" },
    { action_intent_id: "i1", reason: "GATE_ERROR" },
    { action_intent_id: "i1", reason: "KILL_SWITCH_ACTIVE", explanation: "…", kill_switch: { scope: "TENANT", key: null } },
  ],
  INTENT_APPROVED: [
    { action_intent_id: "i1", edited: false, reason: null, approved_by: "sam@x.test" },
    {
      action_intent_id: "i1",
      new_action_intent_id: "i2",
      edited: true,
      diff: { subject: { before: "a", after: "b" } },
      reason: null,
      approved_by: null,
    },
    { action_intent_id: "i1", edited: false, reason: null, approved_by: null, via: "LINK", link_id: "l1" },
  ],
  INTENT_REJECTED: [
    { action_intent_id: "i1", reason: "not now", rejected_by: "sam@x.test" },
    { action_intent_id: "i1", reason: "Rejected from a one-time link", rejected_by: null, via: "LINK", link_id: "l1" },
  ],
  EXECUTION_STARTED: [
    { execution_id: "e1", action_intent_id: "i1", action_type: "DRAFT_EMAIL", approval_source: "HUMAN", auto_executed: false },
  ],
  EXECUTION_SUCCEEDED: [
    {
      execution_id: "e1",
      action_intent_id: "i1",
      connector: "internal",
      tool_call_id: "t1",
      auto_executed: true,
      response: { kind: "TASK", title: "x" },
    },
  ],
  EXECUTION_FAILED: [
    {
      execution_id: "e1",
      action_intent_id: "i1",
      connector: "webhook",
      tool_call_id: "t1",
      auto_executed: false,
      error: "HTTP 500",
      retryable: true,
    },
  ],
  OUTCOME_RECORDED: [
    { action_intent_id: "i1", label: "IDEA_REJECTED" },
    { action_intent_id: "i1", execution_id: "e1", label: "EXECUTION_SUCCEEDED" },
  ],
  CONFIG_CHANGED: [
    { change: "autonomy_mode", account_id: null, action_type: "DRAFT_EMAIL", before: null, after: "AUTO_EXECUTE", reason: null },
    { change: "allowlist", account_id: "a1", before: [], after: ["FLAG_FOR_REVIEW"], reason: "pilot" },
    { change: "decision_settings", before: { triggers: {}, cost_gate: {} }, after: { triggers: {}, cost_gate: {} } },
    { change: "connector_webhook", before: null, after: { url: "https://x.test/h", enabled: true }, secret_rotated: true },
    { change: "tenant_created", slug: "acme", name: "Acme" },
    {
      change: "ritual_cadence",
      ritual: "WEEKLY",
      account_id: null,
      before: null,
      after: { cron: "0 9 * * 1", timezone: "UTC", enabled: true },
    },
  ],
  KILL_SWITCH_CHANGED: [{ scope: "TENANT", key: null, before: false, after: true, reason: "incident 42" }],
  API_KEY_CREATED: [{ api_key_id: "k1", name: "crm", prefix: "abc", scopes: ["ingest"] }],
  API_KEY_REVOKED: [{ api_key_id: "k1" }],
  SIGN_IN: [{ user_id: "u1", user_agent: null }],
  ACCOUNT_UPDATED: [
    { changed: { posture: { before: "OK", after: "AT_RISK" } } },
    { changed: { name: { before: "Acme", after: "Acme Inc" } }, source: "crm" },
  ],
  PULL_SCHEDULED: [
    {
      pull_job_id: "p1",
      connector: "crm",
      depth: "DEEP",
      tier: "HOT",
      result: "SKIP",
      reason: "BUDGET_EXHAUSTED",
      units: 3,
      retry_after_seconds: null,
      source: "api",
    },
  ],
  HEAT_TIER_CHANGED: [
    {
      from: "COLD",
      to: "HOT",
      score: 0.81,
      previous_score: 0.2,
      signals_in_window: 4,
      window_hours: 6,
      rule: "PROMOTION",
      held_since: null,
    },
  ],
  ACCOUNTS_IMPORTED: [{ import_id: "im1", kind: "ACCOUNTS", rows_total: 3, created: 2, updated: 1, errors: 0, sha256: "ab" }],
  NORMALIZATION_MISSING: [{ action_intent_id: "i1", status: "APPROVED", decided_at: "2026-11-01T00:00:00.000Z", after_hours: 24 }],
  CALIBRATION_COMPLETED: [
    {
      job_id: "c1",
      ok: true,
      weights_id: "w1",
      version: 1,
      scope: "TENANT",
      rows: 500,
      positives: 300,
      negatives: 200,
      metrics: { brier: 0.2 },
    },
    { job_id: "c2", ok: false, rows: 3, error: "too few labelled outcomes" },
  ],
  RANKING_WEIGHTS_PROMOTED: [
    { weights_id: "w1", version: 1, scope: "TENANT", previous_id: null, reason: "passed", shadow: { value: 0.9 } },
  ],
  RANKING_WEIGHTS_ROLLED_BACK: [
    { weights_id: "w1", restored_id: null, scope: "TENANT", reason: "manual", automatic: false },
    { weights_id: "w2", restored_id: "w1", scope: "TENANT", reason: "guard", automatic: true, guard: { drop: 0.2 } },
  ],
  INTENT_EXPIRED: [
    { action_intent_id: "i1", fallback: "REJECT", ttl_hours: 72, requested_at: "2026-11-01T00:00:00.000Z", escalated_to: null },
    { action_intent_id: "i2", fallback: "ESCALATE", ttl_hours: 24, requested_at: "2026-11-01T00:00:00.000Z", escalated_to: "u-admin" },
  ],
  ALWAYS_ON_CHANGED: [
    { account_id: null, before: false, after: true },
    { account_id: "a1", before: true, after: false },
  ],
  DIGEST_SENT: [
    {
      digest_run_id: "d1",
      user_id: "u1",
      date: "2026-11-25",
      timezone: "Europe/Berlin",
      delivered: true,
      counts: { autonomous: 3, waiting: 2, blocked: 1 },
      message_id: "<d1@autopilot.local>",
    },
    {
      digest_run_id: "d2",
      user_id: "u1",
      date: "2026-11-26",
      timezone: "UTC",
      delivered: false,
      counts: {},
      error: "SMTP is not configured",
    },
  ],
  EXPORT_REQUESTED: [
    {
      export_id: "x1",
      format: "csv",
      schema_version: 1,
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-11-02T00:00:00.000Z",
      account_id: null,
    },
    {
      export_id: "x2",
      format: "jsonl",
      schema_version: 1,
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-11-02T00:00:00.000Z",
      account_id: "a1",
    },
  ],
  AUDIT_STREAM_CHANGED: [
    { origin: "https://siem.example", enabled: true, secret_rotated: true },
    { origin: "http://127.0.0.1:9000", enabled: false, secret_rotated: false },
  ],
  LEDGER_DIGEST_PUBLISHED: [
    {
      digest_id: "g1",
      seq: 10,
      head_hash: "ab".repeat(32),
      key_id: "0123456789abcdef",
      signature: "c2lnbmF0dXJl",
      published_at: "2026-11-26T20:17:00.000Z",
    },
  ],
  METRICS_TOKEN_CREATED: [{ prefix: "mt_ab12" }],
  POLICY_PROPOSAL_STARTED: [
    { proposal_id: "p1", name: "stricter notes", changes: [{ action_type: "CREATE_INTERNAL_NOTE", mode: "APPROVAL_REQUIRED" }] },
  ],
  POLICY_PROPOSAL_ENDED: [
    { proposal_id: "p1", outcome: "ENFORCED", reason: "looked right", evaluations: 12, changed: 3 },
    { proposal_id: "p2", outcome: "DISCARDED", reason: null, evaluations: 0, changed: 0 },
  ],
  CONNECTOR_STATE_CHANGED: [
    { connector: "crm", from: "CLOSED", to: "OPEN", reason: "5 failures in 60 s", failures: 5, retry_at: "2026-11-26T23:00:30.000Z" },
    { connector: "webhook", from: "CLOSED", to: "FORCED_OPEN", reason: "vendor incident" },
    { connector: "crm", from: "HALF_OPEN", to: "CLOSED", reason: null },
  ],
  REPLAY_REQUESTED: [
    { action_intent_id: "i1", original_execution_id: "e1", replay_reason: "tool was down", requested_by: "u1" },
    { action_intent_id: "i1", original_execution_id: "e1", replay_reason: "tool was down", requested_by: "u1", execution_id: "e2" },
  ],
  REPLAY_STARTED: [{ action_intent_id: "i1", original_execution_id: "e1", execution_id: "e2" }],
  REPLAY_COMPLETED: [{ action_intent_id: "i1", original_execution_id: "e1", execution_id: "e2" }],
  REPLAY_FAILED: [
    { action_intent_id: "i1", original_execution_id: "e1", execution_id: "e2", error: "timeout" },
    { action_intent_id: "i1", original_execution_id: "e1", execution_id: null, error: "kill switch on" },
    {
      action_intent_id: "i1",
      original_execution_id: "e1",
      execution_id: "e2",
      error: "Refused: the CONNECTOR kill switch webhook is on (flapping)",
      kill_switch: { scope: "CONNECTOR", key: "webhook" },
    },
    {
      action_intent_id: "i1",
      original_execution_id: "e1",
      execution_id: "e2",
      error: "REPLAY_JOB_FAILED: the replay never started: its job failed",
      reason: "REPLAY_JOB_FAILED",
    },
  ],
};

describe("ledger payload union", () => {
  it("has a schema for every entry type in the vocabulary, and nothing else", () => {
    expect(Object.keys(LEDGER_PAYLOAD_SCHEMAS).sort()).toEqual([...LEDGER_ENTRY_TYPES].sort());
  });

  it("gives a defined shape to every entry type the code writes today", () => {
    const written = writtenTypes();
    // A scan that finds nothing would prove nothing.
    expect(written.size).toBeGreaterThanOrEqual(20);
    for (const [type, files] of written) {
      expect(TYPED_LEDGER_ENTRY_TYPES as string[], `${type} is written by ${files.join(", ")} but has no payload shape`).toContain(type);
    }
  });

  it("reads every payload shape the call sites write — stored (redacted, canonical JSON text) — as its own variant", () => {
    for (const type of TYPED_LEDGER_ENTRY_TYPES) {
      for (const payload of WRITTEN[type]) {
        const stored = JSON.stringify(redactSecrets(payload));
        const parsed = parseLedgerPayload(type, stored);
        expect(parsed.type, `${type} ${stored}`).toBe(type);
        expect(parsed.payload).toEqual(JSON.parse(stored));
      }
    }
  });

  it("falls back to UNRECOGNIZED, never throws, for unknown types, old shapes and non-objects", () => {
    expect(parseLedgerPayload("SOMETHING_NEW", '{"a":1}')).toEqual({ type: "UNRECOGNIZED", entryType: "SOMETHING_NEW", payload: { a: 1 } });
    expect(parseLedgerPayload("SIGNAL_RECEIVED", "{not json")).toEqual({ type: "UNRECOGNIZED", entryType: "SIGNAL_RECEIVED", payload: {} });
    expect(parseLedgerPayload("SIGNAL_RECEIVED", "[1,2]")).toMatchObject({ type: "UNRECOGNIZED", payload: {} });
    expect(parseLedgerPayload("SIGNAL_RECEIVED", null)).toMatchObject({ type: "UNRECOGNIZED", payload: {} });
    // A missing core field or a wrong type is an old or foreign shape, kept whole for the raw view.
    expect(parseLedgerPayload("BUDGET_CONSUMED", { action_intent_id: "i", date_key: "d", cap: "3", consumed: 1 })).toMatchObject({
      type: "UNRECOGNIZED",
      entryType: "BUDGET_CONSUMED",
      payload: { cap: "3" },
    });
    expect(parseLedgerPayload("INTENT_PROPOSED", { action_type: "X" })).toMatchObject({ type: "UNRECOGNIZED" });
    // Depth is the boundary's job (413/400 there); a read of an entry already stored must still not throw.
    const deep = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    expect(() => parseLedgerPayload("SIGNAL_RECEIVED", `{"signal_type":"X","evidence":{"e":${deep}}}`)).not.toThrow();
  });

  it("never throws and always answers a variant of the given type or UNRECOGNIZED, for any JSON or value", () => {
    const type = fc.constantFrom<string>(...LEDGER_ENTRY_TYPES, "UNKNOWN_TYPE", "constructor", "__proto__");
    fc.assert(
      fc.property(type, fc.oneof(fc.json(), fc.jsonValue(), fc.anything(), fc.string()), (t, stored) => {
        const p = parseLedgerPayload(t, stored);
        expect(p.type === t || (p.type === "UNRECOGNIZED" && p.entryType === t)).toBe(true);
        expect(() => describeEntry(t, stored)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});

describe("describeEntry reads the typed variants", () => {
  const cases: [LedgerEntryType | string, Record<string, unknown>, string][] = [
    ["SIGNAL_RECEIVED", { signal_type: "SUPPORT_RISK_EMERGING", severity: "high" }, "Signal: Support risk emerging (high)"],
    ["BUDGET_CONSUMED", { action_intent_id: "i", date_key: "d", cap: 3, consumed: 2 }, "Autopilot budget used: 2 of 3 today"],
    ["INTENT_APPROVED", { action_intent_id: "i", edited: true, approved_by: "sam" }, "Edited and approved by sam"],
    ["INTENT_REJECTED", { action_intent_id: "i", reason: "no", rejected_by: null }, "Rejected: “no”"],
    [
      "CONFIG_CHANGED",
      { change: "autonomy_mode", action_type: "DRAFT_EMAIL", before: null, after: "AUTO_EXECUTE" },
      "Configuration changed: autonomy mode for Draft email: none → Auto execute",
    ],
    ["KILL_SWITCH_CHANGED", { scope: "TENANT", key: null, after: true, reason: "incident" }, "Kill switch TENANT turned on: “incident”"],
    ["EXECUTION_FAILED", { execution_id: "e", error: "HTTP 500" }, "Execution failed: HTTP 500"],
    [
      "LEDGER_DIGEST_PUBLISHED",
      { digest_id: "g", seq: 41, head_hash: "ab".repeat(32), key_id: "0123456789abcdef", signature: "c2ln" },
      "Signed digest of the chain at entry #41 published (key 0123456789abcdef, head abababababab…)",
    ],
    // An old or malformed payload still gets a readable line instead of "undefined" or a crash.
    ["BUDGET_CONSUMED", { cap: "lots" }, "Budget consumed"],
    ["SOMETHING_NEW", {}, "Something new"],
  ];
  it.each(cases)("%s %j → %s", (type, payload, line) => {
    expect(describeEntry(type, payload)).toBe(line);
  });
});
