import { z } from "zod";
// Type-only: ledger.ts re-exports this module, so a value import would be a cycle.
import type { LedgerEntryType } from "./ledger";

/**
 * What each ledger entry type carries, as a discriminated union on `type`.
 *
 * These are READ-side contracts: the chain is append-only, so every payload ever written must
 * still be readable — including entries written before a field existed, and values the secret
 * redactor replaced with "[REDACTED]". Hence fields beyond the core ones are optional, objects are
 * loose (extra fields survive), and anything the redactor might touch (keys containing "token",
 * "key", "secret"…) is a string or `unknown`, never a number. An entry that still does not fit is
 * returned as the UNRECOGNIZED variant with its raw payload, never thrown: one odd row must not
 * take the ledger explorer down.
 *
 * Field names are the snake_case names stored today (SPEC §3 ledger entries); extend, never rename.
 */

const id = z.string();
const text = z.string();
const optText = z.string().nullish();
const record = z.record(z.string(), z.unknown());

const core = {
  SIGNAL_RECEIVED: z.looseObject({
    /** absent on entries the demo seed wrote before signals were stored */
    signal_id: id.optional(),
    signal_type: text,
    severity: optText,
    evidence: record.optional(),
    source: optText,
    occurred_at: optText,
  }),
  TRIGGER_FIRED: z.looseObject({
    trigger_type: text,
    run_id: id,
    idempotency_key: optText,
    /** "api" for POST /api/v1/decisions/run, "system" otherwise; absent when a window fired */
    source: optText,
    coalesced_events: z.number().nullish(),
  }),
  TRIGGER_SUPPRESSED: z.looseObject({
    trigger_type: text,
    reason: text,
    explanation: optText,
    coalesced_events: z.number().nullish(),
    window_opened_at: optText,
    fires_at: optText,
  }),
  DECISION_RUN_SKIPPED: z.looseObject({
    run_id: id,
    reason: text,
    explanation: optText,
    idempotency_key: optText,
    after_retry: z.boolean().optional(),
  }),
  COST_GATE_EVALUATED: z.looseObject({
    run_id: id,
    result: text,
    reason: text,
    explanation: optText,
    retry_after_seconds: z.number().nullish(),
    /** the gate's inputs as the run saw them (runs_today, tokens_today, open_intents, …) */
    inputs: record.optional(),
  }),
  DECISION_RUN_DEFERRED: z.looseObject({
    run_id: id,
    reason: text,
    explanation: optText,
    retry_after_seconds: z.number().nullish(),
  }),
  DECISION_SYNTHESIZED: z.looseObject({
    run_id: id,
    ok: z.boolean(),
    synthesizer: text,
    model: optText,
    tokens: z.unknown().optional(),
    error: optText,
    message: optText,
    proposals: z
      .array(
        z.looseObject({
          action_intent_id: id.optional(),
          action_type: text,
          rank_score: z.number().nullish(),
          status: optText,
          reason: optText,
        }),
      )
      .optional(),
  }),
  INTENT_PROPOSED: z.looseObject({
    action_intent_id: id,
    action_type: text,
    confidence: z.number().optional(),
    risk_level: optText,
    why: z.array(z.string()).optional(),
    parameters: record.optional(),
    target: record.optional(),
    blocking_unknowns: z.array(z.string()).optional(),
    source: optText,
    idempotency_key: optText,
  }),
  POLICY_EVALUATED: z.looseObject({
    action_intent_id: id,
    action_type: optText,
    decision: text,
    reason: text,
    explanation: optText,
    policy_version: optText,
    policy_clause: optText,
    clauses: z.array(z.string()).optional(),
    mode: optText,
    mode_source: optText,
    allowlisted: z.boolean().optional(),
    kill_switch: z.unknown().optional(),
    /** set when the gate failed closed: the error's class name, never its message */
    error_kind: optText,
    /** set when the always-on rule applied (a decision run's proposal policy would auto-execute):
     * the conditions that did not hold (server/engine/alwaysOn.ts), [] when all held */
    always_on_missing: z.array(text).optional(),
  }),
  BUDGET_CONSUMED: z.looseObject({
    action_intent_id: id,
    date_key: text,
    cap: z.number(),
    consumed: z.number(),
    remaining: z.number().optional(),
  }),
  APPROVAL_REQUESTED: z.looseObject({
    action_intent_id: id,
    reason: text,
    explanation: optText,
    kill_switch: z.looseObject({ scope: text, key: optText }).nullish(),
  }),
  INTENT_APPROVED: z.looseObject({
    action_intent_id: id,
    edited: z.boolean(),
    /** the approved version when the reviewer edited parameters (the original is SUPERSEDED) */
    new_action_intent_id: id.optional(),
    diff: record.optional(),
    reason: optText,
    approved_by: optText,
    /** decided through a one-time link (server/services/approvals/decide.ts): "LINK" and the link's id */
    via: z.literal("LINK").optional(),
    link_id: optText,
  }),
  INTENT_REJECTED: z.looseObject({
    action_intent_id: id,
    reason: optText,
    rejected_by: optText,
    via: z.literal("LINK").optional(),
    link_id: optText,
  }),
  EXECUTION_STARTED: z.looseObject({
    execution_id: id,
    action_intent_id: id,
    action_type: optText,
    approval_source: optText,
    auto_executed: z.boolean().optional(),
  }),
  EXECUTION_SUCCEEDED: z.looseObject({
    execution_id: id,
    action_intent_id: id,
    connector: optText,
    tool_call_id: optText,
    auto_executed: z.boolean().optional(),
    response: z.unknown().optional(),
  }),
  EXECUTION_FAILED: z.looseObject({
    execution_id: id,
    action_intent_id: id.optional(),
    connector: optText,
    tool_call_id: optText,
    auto_executed: z.boolean().optional(),
    error: optText,
    retryable: z.boolean().optional(),
    reason: optText,
  }),
  OUTCOME_RECORDED: z.looseObject({
    action_intent_id: id,
    execution_id: optText,
    label: text,
  }),
  CONFIG_CHANGED: z.looseObject({
    /** what changed: autonomy_mode, allowlist, autonomy_budget, decision_settings, connector_webhook, … */
    change: text,
    account_id: optText,
    action_type: optText,
    before: z.unknown().optional(),
    after: z.unknown().optional(),
    reason: optText,
  }),
  KILL_SWITCH_CHANGED: z.looseObject({
    scope: text,
    key: optText,
    before: z.boolean().optional(),
    after: z.boolean(),
    reason: optText,
  }),
  API_KEY_CREATED: z.looseObject({
    api_key_id: id,
    name: optText,
    prefix: optText,
    scopes: z.array(z.string()).optional(),
  }),
  API_KEY_REVOKED: z.looseObject({ api_key_id: id }),
  SIGN_IN: z.looseObject({ user_id: id, user_agent: optText }),
  ACCOUNT_UPDATED: z.looseObject({
    changed: z.record(z.string(), z.looseObject({ before: z.unknown(), after: z.unknown() })),
    /** where the change came from when not a person or key: "crm" (a sync), "import" (a CSV) */
    source: optText,
  }),
  /** A pull decision of the perception scheduler (SPEC §4.4): one per decision, RUN or not. */
  PULL_SCHEDULED: z.looseObject({
    pull_job_id: text,
    connector: text,
    depth: text,
    tier: text,
    result: text,
    reason: text,
    units: z.number().nullish(),
    retry_after_seconds: z.number().nullish(),
    /** "api" for POST /api/v1/perception/pulls, "cadence" for the perception job */
    source: optText,
  }),
  /** An account changed heat tier, with the numbers the hysteresis rule used. */
  HEAT_TIER_CHANGED: z.looseObject({
    from: text,
    to: text,
    score: z.number(),
    previous_score: z.number().nullish(),
    /** qualifying signals inside the promotion window, and that window's length */
    signals_in_window: z.number().nullish(),
    window_hours: z.number().nullish(),
    /** PROMOTION | DEMOTION */
    rule: text,
    held_since: optText,
  }),
  /** A CSV import finished (SPEC §4.4). */
  ACCOUNTS_IMPORTED: z.looseObject({
    import_id: id,
    kind: text,
    rows_total: z.number(),
    created: z.number(),
    updated: z.number(),
    errors: z.number(),
    sha256: optText,
  }),
  /** A decided intent still had no outcome after the tenant's normalisation window (SPEC §4.5). */
  NORMALIZATION_MISSING: z.looseObject({
    action_intent_id: id,
    status: text,
    decided_at: optText,
    after_hours: z.number(),
  }),
  /** A calibration finished: the candidate it registered (or why it could not). */
  CALIBRATION_COMPLETED: z.looseObject({
    job_id: id,
    ok: z.boolean(),
    weights_id: optText,
    version: z.number().nullish(),
    scope: optText,
    rows: z.number(),
    positives: z.number().nullish(),
    negatives: z.number().nullish(),
    trained_from: optText,
    trained_to: optText,
    metrics: record.nullish(),
    baseline: record.nullish(),
    error: optText,
  }),
  /** The ACTIVE pointer moved to a version (SPEC §4.5): who, why, and the gate's numbers. */
  RANKING_WEIGHTS_PROMOTED: z.looseObject({
    weights_id: id,
    version: z.number(),
    scope: text,
    previous_id: optText,
    reason: text,
    shadow: record.nullish(),
  }),
  /** The ACTIVE pointer went back: by a person, or by the guard with the regression's numbers. */
  RANKING_WEIGHTS_ROLLED_BACK: z.looseObject({
    weights_id: id,
    restored_id: optText,
    scope: text,
    reason: text,
    automatic: z.boolean(),
    guard: record.nullish(),
  }),
  /**
   * An approval request outlived the tenant's TTL (SPEC §4.6) and followed the fallback: REJECT
   * (status EXPIRED) or ESCALATE (still waiting, now in an admin's inbox as `escalated_to`).
   */
  INTENT_EXPIRED: z.looseObject({
    action_intent_id: id,
    fallback: text,
    ttl_hours: z.number(),
    requested_at: optText,
    escalated_to: optText,
  }),
  /** An always-on opt-in changed: the tenant's (no account_id) or one account's. */
  ALWAYS_ON_CHANGED: z.looseObject({
    account_id: optText,
    before: z.boolean(),
    after: z.boolean(),
  }),
  /** A user's daily digest went out (or could not): the local day it covers and its counts. */
  DIGEST_SENT: z.looseObject({
    digest_run_id: id,
    user_id: id,
    date: text,
    timezone: text,
    delivered: z.boolean(),
    counts: record,
    message_id: optText,
    error: optText,
  }),
  /** An audit export was requested (SPEC §4.6): its range, format and column schema version. */
  EXPORT_REQUESTED: z.looseObject({
    export_id: id,
    format: text,
    schema_version: z.number(),
    from: text,
    to: text,
    account_id: optText,
  }),
  /** The SIEM stream was configured: the receiver's origin only (a URL may carry a token). */
  AUDIT_STREAM_CHANGED: z.looseObject({
    origin: text,
    enabled: z.boolean(),
    secret_rotated: z.boolean(),
  }),
  /** A signed digest of the chain head was published (the entry itself comes after `seq`). */
  LEDGER_DIGEST_PUBLISHED: z.looseObject({
    digest_id: id,
    seq: z.number(),
    head_hash: text,
    key_id: text,
  }),
  /** A Prometheus scrape token was created or rotated; only its prefix is recorded. */
  METRICS_TOKEN_CREATED: z.looseObject({ prefix: text }),
  /** A proposed policy change began to run in log-only mode beside the active policy. */
  POLICY_PROPOSAL_STARTED: z.looseObject({
    proposal_id: id,
    name: text,
    changes: z.array(z.unknown()),
  }),
  /** A log-only proposal ended: ENFORCED (its changes applied) or DISCARDED. */
  POLICY_PROPOSAL_ENDED: z.looseObject({
    proposal_id: id,
    outcome: text,
    reason: optText,
    evaluations: z.number(),
    changed: z.number(),
  }),
  /**
   * A connector's breaker moved (SPEC §4.7): CLOSED → OPEN after `failures` in `window_seconds`,
   * OPEN → HALF_OPEN when the single probe is claimed, HALF_OPEN → CLOSED or OPEN by its result,
   * and FORCED_OPEN / CLOSED by an admin (`reason` given). `retry_at` is when an open breaker
   * admits its probe.
   */
  CONNECTOR_STATE_CHANGED: z.looseObject({
    connector: text,
    from: z.enum(["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN"]),
    to: z.enum(["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN"]),
    reason: optText,
    failures: z.number().optional(),
    retry_at: optText,
  }),
  /** An admin asked to replay an execution (SPEC §4.7); written on the intent's correlation id. */
  REPLAY_REQUESTED: z.looseObject({
    action_intent_id: id,
    original_execution_id: id,
    replay_reason: text,
    requested_by: text,
    /** the new execution, queued with its job; absent when a kill switch refused the request */
    execution_id: id.optional(),
  }),
  /** The replay's job started its new execution; its tool calls carry the original idempotency keys. */
  REPLAY_STARTED: z.looseObject({ action_intent_id: id, original_execution_id: id, execution_id: id }),
  /** The replay's execution succeeded. */
  REPLAY_COMPLETED: z.looseObject({ action_intent_id: id, original_execution_id: id, execution_id: id }),
  /**
   * The replay's execution failed, or never started — refused by a kill switch (at the request:
   * `execution_id` null; at its job's start: the queued execution), or its job gave up — `error` says why.
   */
  REPLAY_FAILED: z.looseObject({ action_intent_id: id, original_execution_id: id, execution_id: id.nullable(), error: text }),
};

export const LEDGER_PAYLOAD_SCHEMAS = {
  ...core,
} satisfies Record<LedgerEntryType, z.ZodType<Record<string, unknown>>>;

/** The types whose payload shape is defined (written by the code today). */
export const TYPED_LEDGER_ENTRY_TYPES = Object.keys(core) as (keyof typeof core)[];

export type LedgerPayloadOf<T extends LedgerEntryType> = z.infer<(typeof LEDGER_PAYLOAD_SCHEMAS)[T]>;

/**
 * What a writer must pass for each type: the same shapes, so a payload that is missing a field
 * the readers rely on (or gives it the wrong type) fails the type check where it is written.
 */
export type LedgerDraftPayload = {
  [T in LedgerEntryType]: { type: T; payload: z.input<(typeof LEDGER_PAYLOAD_SCHEMAS)[T]> };
}[LedgerEntryType];

/** A stored payload that is not valid JSON, not an object, of an unknown type, or of an old shape. */
export interface UnrecognizedLedgerPayload {
  type: "UNRECOGNIZED";
  entryType: string;
  payload: Record<string, unknown>;
}

export type LedgerPayload =
  | { [T in LedgerEntryType]: { type: T; payload: LedgerPayloadOf<T> } }[LedgerEntryType]
  | UnrecognizedLedgerPayload;

/** Equal to LEDGER_ENTRY_TYPES: `satisfies Record<LedgerEntryType, …>` above admits no missing or extra key. */
const KNOWN = new Set<string>(Object.keys(LEDGER_PAYLOAD_SCHEMAS));

export function isLedgerEntryType(type: string): type is LedgerEntryType {
  return KNOWN.has(type);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Read a stored payload (JSON text, or the already-parsed value from a DTO) as its typed variant.
 * Never throws: anything that does not fit is UNRECOGNIZED with whatever object it held.
 */
export function parseLedgerPayload(type: string, stored: unknown): LedgerPayload {
  let value = stored;
  if (typeof stored === "string") {
    try {
      value = JSON.parse(stored);
    } catch {
      return { type: "UNRECOGNIZED", entryType: type, payload: {} };
    }
  }
  const fallback: UnrecognizedLedgerPayload = { type: "UNRECOGNIZED", entryType: type, payload: isRecord(value) ? value : {} };
  if (!isLedgerEntryType(type)) return fallback;
  try {
    const parsed = LEDGER_PAYLOAD_SCHEMAS[type].safeParse(value);
    // The schema for `type` produced `parsed.data`; TypeScript cannot correlate the two through
    // the indexed access, so the pairing is asserted here, once.
    return parsed.success ? ({ type, payload: parsed.data } as LedgerPayload) : fallback;
  } catch {
    // A pathological value (e.g. a getter that throws) must not escape a read.
    return fallback;
  }
}

/**
 * The input snapshot stored with every policy evaluation (PolicyEvaluation.input): the policy's
 * own input plus where the mode came from, the account as it was and the budget outcome. Read
 * loosely for the same reason as ledger payloads — evaluations are history and never rewritten —
 * so every field is optional and a snapshot that does not fit reads as null, never a throw.
 */
const EvaluationInputSchema = z.looseObject({
  actionType: z.string().optional(),
  confidence: z.number().optional(),
  riskLevel: z.string().optional(),
  lifecycle: z.string().optional(),
  mode: z.string().optional(),
  modeSource: z.string().optional(),
  allowlisted: z.boolean().optional(),
  blockingUnknowns: z.array(z.string()).optional(),
  killSwitch: z.looseObject({ scope: z.string(), key: z.string(), reason: z.string() }).nullish(),
  thresholds: z
    .looseObject({ minConfidence: z.number().optional(), prospectMinConfidence: z.number().optional(), version: z.number().optional() })
    .optional(),
  account: record.nullish(),
  budget: record.nullish(),
});

export type EvaluationInput = z.infer<typeof EvaluationInputSchema>;

export function parseEvaluationInput(stored: unknown): EvaluationInput | null {
  const parsed = EvaluationInputSchema.safeParse(stored);
  return parsed.success ? parsed.data : null;
}
