import { type ZodType, z } from "zod";
import { AccountUpdateBody } from "../schemas/accounts";
import { AlertHookBody } from "../schemas/alertHook";
import { AlwaysOnPutBody, AlwaysOnQuery } from "../schemas/alwaysOn";
import { ApprovalLinkBody, ApprovalSettingsPutBody } from "../schemas/approvals";
import { AuditExportBody, RestAuditExportListQuery } from "../schemas/auditExport";
import { AuditStreamPutBody } from "../schemas/auditStream";
import {
  AccountQuery,
  AllowlistPutBody,
  BudgetPutBody,
  ExplanationQuery,
  IntentBody,
  KillSwitchPutBody,
  ModePutBody,
  RejectBody,
  ReviewBody,
} from "../schemas/autonomy";
import { CalibrationPostBody } from "../schemas/calibrations";
import { ConnectorPutBody } from "../schemas/connectors";
import { DecisionRunBody, SignalBody } from "../schemas/decisions";
import { DigestQuery, DigestSettingsPutBody, DigestSettingsQuery } from "../schemas/digest";
import { RestHeatQuery } from "../schemas/heat";
import { RestImportQuery } from "../schemas/imports";
import { LearningSettingsPutBody, ReasonBody } from "../schemas/learning";
import { RestNextActionsQuery } from "../schemas/nextActions";
import { CadencePutBody, PullBudgetPutBody, PullPostBody } from "../schemas/perception";
import { ProposalEndBody, ProposalReportQuery, ProposalStartBody, WhatIfBody } from "../schemas/policyLab";
import { BulkReplayBody, ReliabilityPutBody, ReplayBody } from "../schemas/reliability";
import { RestAccountListQuery, RestLedgerQuery } from "../schemas/rest";

/**
 * The OpenAPI 3.1 document for REST v1, generated from the same zod schemas that validate the
 * requests — so the document cannot drift from what the server accepts.
 */
type Scope = "admin" | "ingest" | "read" | "approve";

interface Operation {
  method: "get" | "post" | "put";
  path: string;
  summary: string;
  /** API-key scopes; empty for `auth: "path-token"` operations */
  scopes: Scope[];
  /**
   * "path-token": the signed token in the path is the credential (one-time approval links, the
   * alert hook) — no API key, no session. Default: an API key with one of `scopes`.
   */
  auth?: "path-token";
  body?: ZodType;
  /** a non-JSON body (the CSV import): documented as a string of this media type */
  rawBody?: { contentType: "text/csv"; description: string };
  query?: z.ZodObject;
  success: number;
}

export const OPERATIONS: Operation[] = [
  {
    method: "get",
    path: "/api/v1/accounts",
    summary: "List accounts (owner, lifecycle, posture, heat), newest first",
    scopes: ["read"],
    query: RestAccountListQuery,
    success: 200,
  },
  { method: "get", path: "/api/v1/accounts/{id}", summary: "One account with contacts and opportunities", scopes: ["read"], success: 200 },
  {
    method: "put",
    path: "/api/v1/accounts/{id}",
    summary: "Update CRM-side fields (posture and lifecycle changes are decision triggers)",
    scopes: ["admin", "ingest"],
    body: AccountUpdateBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/ledger",
    summary: "Ledger entries, newest first",
    scopes: ["read"],
    query: RestLedgerQuery,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/ledger/digests/latest",
    summary:
      "The newest signed ledger digest { tenant {slug,id}, seq, head_hash, created_at, key_id, signature } (Ed25519); keep it outside the database and check it with `ledger verify --digest`; 404 before the first",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/signals",
    summary: "Push a signal (deduped; X-Signature required for signed keys)",
    scopes: ["ingest"],
    body: SignalBody,
    success: 202,
  },
  {
    method: "post",
    path: "/api/v1/intents",
    summary:
      "Submit an ActionIntent from an external decision engine; runs the autonomy gate (idempotency_key reused with a different body → 409)",
    scopes: ["ingest"],
    body: IntentBody,
    success: 201,
  },
  {
    method: "get",
    path: "/api/v1/intents/{id}",
    summary: "An intent with status, policy result, executions and outcome",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/intents/{id}/approve",
    summary:
      "Approve (optionally with edited parameters): answers status APPROVED and queues the execution (EXECUTE_APPROVED) for the job worker; an already decided intent → 409",
    scopes: ["approve"],
    body: ReviewBody,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/intents/{id}/reject",
    summary: "Reject with a reason; an already decided intent → 409",
    scopes: ["approve"],
    body: RejectBody,
    success: 200,
  },
  { method: "get", path: "/api/v1/autonomy/config", summary: "Autonomy modes", scopes: ["read"], query: AccountQuery, success: 200 },
  {
    method: "put",
    path: "/api/v1/autonomy/config",
    summary: "Upsert a mode (stale if_match → 409)",
    scopes: ["admin"],
    body: ModePutBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/allowlist",
    summary: "Action types that may ever auto-execute",
    scopes: ["admin"],
    query: AccountQuery,
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/autonomy/allowlist",
    summary: "Replace the allowlist",
    scopes: ["admin"],
    body: AllowlistPutBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/budget",
    summary: "Budget with consumed_today, remaining_today, date_key (UTC)",
    scopes: ["read"],
    query: AccountQuery,
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/autonomy/budget",
    summary: "Set an autonomy budget",
    scopes: ["admin"],
    body: BudgetPutBody,
    success: 200,
  },
  { method: "get", path: "/api/v1/autonomy/kill-switches", summary: "Kill switches", scopes: ["admin"], success: 200 },
  {
    method: "put",
    path: "/api/v1/autonomy/kill-switches",
    summary: "Toggle a kill switch (GLOBAL is operator-only)",
    scopes: ["admin"],
    body: KillSwitchPutBody,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/autonomy/what-if",
    summary:
      "Replay the stored gate evaluations of [from, to) (at most 92 days) with proposed changes → { evaluated, changed: [{ action_intent_id, before, after }], by_action_type, truncated }; writes nothing",
    scopes: ["admin"],
    body: WhatIfBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/policy-proposals",
    summary: "Policy proposals (log-only mode), newest first",
    scopes: ["admin"],
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/autonomy/policy-proposals",
    summary: "Start a proposal in log-only mode (at most 3 at once): every gate evaluation also records its answer; ledgered",
    scopes: ["admin"],
    body: ProposalStartBody,
    success: 201,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/policy-proposals/{id}",
    summary: "A proposal's report: evaluations and changed counts by action type, before→after pairs, a page of changed intents",
    scopes: ["admin"],
    query: ProposalReportQuery,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/autonomy/policy-proposals/{id}/enforce",
    summary: "Apply the proposal's changes to modes, allowlist and budgets (reason required when they widen autonomy) and end it; ledgered",
    scopes: ["admin"],
    body: ProposalEndBody,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/autonomy/policy-proposals/{id}/discard",
    summary: "End the proposal without changing the configuration; ledgered",
    scopes: ["admin"],
    body: ProposalEndBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/hooks/kill-switch",
    summary: "The tenant's alert hook: scope, key, created, last used (never the token)",
    scopes: ["admin"],
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/hooks/kill-switch",
    summary: "Create or rotate the tenant's alert hook → { url, token }, shown once; the previous URL stops working",
    scopes: ["admin"],
    body: AlertHookBody,
    success: 201,
  },
  {
    method: "post",
    path: "/api/v1/hooks/kill-switch/{token}",
    summary:
      "An alert: turns the hook's kill switch on. Body: plain text, or JSON with `text` (Slack), Alertmanager `commonAnnotations.summary` / `alerts[0].annotations.summary`, Grafana `title` / `message`; a switch already on stays as it is (`already_on: true`)",
    scopes: [],
    auth: "path-token",
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/ledger/explanation",
    summary: "Why, what it knew, which policy",
    scopes: ["read"],
    query: ExplanationQuery as unknown as z.ZodObject,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/decisions/run",
    summary: "Queue a RUN_DECISION (duplicate idempotency key → SKIP)",
    scopes: ["admin"],
    body: DecisionRunBody,
    success: 202,
  },
  {
    method: "post",
    path: "/api/v1/accounts/import",
    summary:
      "Import a CSV of accounts, contacts or opportunities (?kind=; text/csv up to 5 MiB) → 202 { import_id }; a file that cannot be imported at all → 4xx naming the column or line",
    scopes: ["admin", "ingest"],
    rawBody: { contentType: "text/csv", description: "The CSV file; header row first (docs/import.md lists the columns per kind)" },
    query: RestImportQuery,
    success: 202,
  },
  {
    method: "get",
    path: "/api/v1/accounts/import/{id}",
    summary: "An import's status: { status, rows_total, rows_done, created, updated, error_count, errors: [{ line, column, message }] }",
    scopes: ["admin", "ingest"],
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/autonomy/audit/exports",
    summary:
      "Request an audit export of the tenant's ledger (from ≤ created_at < to, optionally one account; csv with schema_version 1 columns, or jsonl) → 202 { export_id, status }; a range over 92 days or to ≤ from → 422 on `to`; over 5 requests per rolling hour → 429 with Retry-After; another tenant's account → 404",
    scopes: ["admin"],
    body: AuditExportBody,
    success: 202,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/audit/exports",
    summary: "The tenant's audit exports, newest first: { items, next_cursor }",
    scopes: ["admin"],
    query: RestAuditExportListQuery,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/audit/exports/{id}",
    summary:
      "An export's status: { status: PENDING | RUNNING | COMPLETED | FAILED, rows_done, rows_total, download_url?, row_count?, sha256?, bytes?, error }",
    scopes: ["admin"],
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/audit/exports/{id}/download",
    summary:
      "A COMPLETED export's file, streamed (text/csv or application/x-ndjson, Content-Disposition attachment, X-Content-SHA256); not yet COMPLETED → 409",
    scopes: ["admin"],
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/connectors/{name}",
    summary:
      "A connector's settings (name: internal | webhook | email | crm) and the CRM's last sync; the token is never returned (token_set)",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/connectors/{name}",
    summary:
      "Set a connector's settings; token is write-only (stored encrypted); breaker ({ failure_threshold, window_seconds, cooldown_seconds }) and max_concurrency are enforced for every call; slo ({ p99_ms, error_rate, window_seconds, min_samples? }, null = the default) is the target reliability/connectors alerts against; approved CRM writes go through crm once it is enabled",
    scopes: ["admin"],
    body: ConnectorPutBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/reliability/connectors",
    summary:
      "Each connector's breaker and SLO: [{ connector, state: CLOSED | OPEN | HALF_OPEN | FORCED_OPEN, in_flight, max_concurrency, p50_ms, p99_ms, error_rate, slo, alert }]",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/reliability/connectors/{name}",
    summary:
      "Force a connector's breaker open (no call is made until closed) or close it: { forced_open, reason }; ledgered CONNECTOR_STATE_CHANGED",
    scopes: ["admin"],
    body: ReliabilityPutBody,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/perception/pulls",
    summary:
      "Request one pull: { result: RUN | DEFER | SKIP, reason, retry_after_seconds? } (DUPLICATE_PULL_JOB_ID, BUDGET_EXHAUSTED, RATE_LIMITED, …); every decision is ledgered",
    scopes: ["admin"],
    body: PullPostBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/perception/budget",
    summary: "Daily pull budget with used_today, remaining_today, date_key (UTC) and per_connector_used",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/perception/budget",
    summary: "Set the daily pull budget",
    scopes: ["admin"],
    body: PullBudgetPutBody,
    success: 200,
  },
  { method: "get", path: "/api/v1/perception/cadence", summary: "The tier cadence table (extension)", scopes: ["read"], success: 200 },
  {
    method: "put",
    path: "/api/v1/perception/cadence",
    summary: "Replace the tier cadence table (extension); due times are recomputed on the next tick",
    scopes: ["admin"],
    body: CadencePutBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/perception/heat",
    summary: "Heat: accounts per tier, and the accounts hottest first ({ account_id, score, tier }), paged",
    scopes: ["read"],
    query: RestHeatQuery,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/learning/normalization",
    summary:
      "The normalisation gap: decided intents without an outcome after `after_hours` (count, oldest decision) and the flagged ones, newest first (at most 100)",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/learning/weights",
    summary: "Ranking weights versions (this tenant's and GLOBAL), each with its latest shadow evaluation, the ACTIVE id and the settings",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/learning/weights/{id}/promote",
    summary: "Promote a version if the shadow gate, computed now, passes (else 409 SHADOW_GATE_NOT_PASSED with the numbers); ledgered",
    scopes: ["admin"],
    body: ReasonBody,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/learning/rollback",
    summary: "Roll the ACTIVE weights back to the previous version (or the rules ranking), effective on the next request; ledgered",
    scopes: ["admin"],
    body: ReasonBody,
    success: 200,
  },
  { method: "get", path: "/api/v1/learning/settings", summary: "Learning settings (extension)", scopes: ["read"], success: 200 },
  {
    method: "put",
    path: "/api/v1/learning/settings",
    summary: "Change learning settings (extension): ranking only, never read by the gate; ledgered as CONFIG_CHANGED",
    scopes: ["admin"],
    body: LearningSettingsPutBody,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/learning/calibrations",
    summary:
      "Start a calibration → 202 { job_id, status }; the body is optional ({ seed? }); one at a time per tenant (409 names the running one); the candidate appears in weights",
    scopes: ["admin"],
    body: CalibrationPostBody,
    success: 202,
  },
  {
    method: "get",
    path: "/api/v1/learning/calibrations/{id}",
    summary:
      "A calibration's status (extension): { job_id, status: QUEUED | RUNNING | COMPLETED | FAILED, phase, progress, rows_total, rows_done, weights_id, error, … }",
    scopes: ["admin"],
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/next-actions",
    summary:
      "What should I do next: open proposals ranked by the ACTIVE weights ({ action_intent_id, rank_score, display_confidence, weights_version }), paged; the newest 5,000 open proposals in scope are ranked",
    scopes: ["read"],
    query: RestNextActionsQuery,
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/approvals/{token}",
    summary:
      "Decide a waiting intent through a one-time link (the signed token is the credential): { decision: approve | reject, reason? }; a token that is not a link → 404; used, expired or already decided → 410 (LINK_USED, APPROVAL_EXPIRED, INTENT_ALREADY_DECIDED) and nothing changes",
    scopes: [],
    auth: "path-token",
    body: ApprovalLinkBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/digest",
    summary:
      "A user's daily digest of one local day (default: the last complete day in their zone) → { date, user_id, timezone, window, autonomous, waiting, blocked, held, budget, counts, truncated }; counts are the ledger's for that day, lists capped at 50",
    scopes: ["read"],
    query: DigestQuery,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/approvals/settings",
    summary: "Approval settings (extension): { ttl_hours, fallback: REJECT | ESCALATE, notify_webhook }",
    scopes: ["read"],
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/digest/settings",
    summary: "A user's digest settings → { user_id, enabled, email, hour_local, timezone, configured, next_send_at, updated_at }",
    scopes: ["read"],
    query: DigestSettingsQuery,
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/approvals/settings",
    summary: "Change approval settings (extension); ledgered as CONFIG_CHANGED (change approval_settings, before/after)",
    scopes: ["admin"],
    body: ApprovalSettingsPutBody,
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/digest/settings",
    summary: "Set a user's digest settings (an always-on condition): through the gate's config write path, ledgered as CONFIG_CHANGED",
    scopes: ["admin"],
    body: DigestSettingsPutBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/autonomy/always-on",
    summary:
      "Always-on autonomy: { tenant: { enabled }, account_id?, opted_in, active, missing: [TENANT_NOT_OPTED_IN | ACCOUNT_NOT_OPTED_IN | NO_DIGEST_CONFIGURED] }",
    scopes: ["admin"],
    query: AlwaysOnQuery,
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/autonomy/always-on",
    summary:
      "Opt the tenant (no account_id) or an account in or out of always-on; enabling an account is refused → 422 ALWAYS_ON_REFUSED with every missing reason",
    scopes: ["admin"],
    body: AlwaysOnPutBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/audit/stream",
    summary:
      "The SIEM log stream: { configured, url (origin + fingerprint), enabled, cursor_seq, head_seq, lag, attempts, last_error, last_delivered_at, next_attempt_at }",
    scopes: ["admin"],
    success: 200,
  },
  {
    method: "put",
    path: "/api/v1/audit/stream",
    summary:
      "Create or change the SIEM log stream ({ url, enabled, rotate_secret? }; url may be left out to keep the stored one); `secret` is in this answer only when created or rotated",
    scopes: ["admin"],
    body: AuditStreamPutBody,
    success: 200,
  },
  {
    method: "get",
    path: "/api/v1/executions/{id}/replay-preview",
    summary:
      "Before a replay: { execution_id, status, replayable, side_effects: [{ connector, idempotency_key, would_repeat, dedupes, sends, previous_status, note }] } — the key is the one the tool receives (the original execution's); another tenant's id → 404",
    scopes: ["admin"],
    success: 200,
  },
  {
    method: "post",
    path: "/api/v1/executions/{id}/replay",
    summary:
      "Replay a finished execution as a new one (replay_of, replay_reason, requested_by), sending tools the original idempotency key; the original stays untouched. Queued: the new execution is created QUEUED with its job and the job runs it → 201 { execution_id, replay_of, status: QUEUED }; its result is the execution's status (replay-preview of execution_id). REPLAY_REQUESTED, then STARTED and COMPLETED / FAILED as the job runs, on the intent's story; still QUEUED / EXECUTING, another replay pending or a kill switch on → 409",
    scopes: ["admin"],
    body: ReplayBody,
    success: 201,
  },
  {
    method: "post",
    path: "/api/v1/executions/replay",
    summary:
      "Bulk replay of the failed executions of [from, to) (per intent its latest execution, when that one failed), newest first, at most 100 per request, each queued as a replay job ({ items: [{ replay_of, execution_id, status: QUEUED | REFUSED, error }], cap, truncated }); dry_run → the same list with each one's side_effects, nothing replayed; to ≤ from → 422",
    scopes: ["admin"],
    body: BulkReplayBody,
    success: 200,
  },
];

const jsonSchema = (s: ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
};

const ErrorResponse = {
  description: "Error",
  content: {
    "application/json": {
      schema: {
        type: "object",
        required: ["error"],
        properties: {
          error: {
            type: "object",
            required: ["code", "message"],
            properties: { code: { type: "string" }, message: { type: "string" }, field: { type: "string" } },
          },
        },
      },
    },
  },
};

function queryParameters(q: z.ZodObject | undefined) {
  if (!q) return [];
  const shape = jsonSchema(q) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(shape.properties ?? {}).map(([name, schema]) => ({
    name,
    in: "query",
    required: shape.required?.includes(name) ?? false,
    schema,
  }));
}

export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } })),
      ...queryParameters(op.query),
    ];
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, unknown>)[op.method] = {
      summary: op.summary,
      ...(op.auth === "path-token"
        ? { security: [], "x-auth": "the signed token in the path" }
        : { security: [{ apiKey: [] }], "x-scopes": op.scopes }),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body) } } } } : {}),
      ...(op.rawBody
        ? {
            requestBody: {
              required: true,
              description: op.rawBody.description,
              content: { [op.rawBody.contentType]: { schema: { type: "string" } } },
            },
          }
        : {}),
      responses: {
        [String(op.success)]: { description: "OK", content: { "application/json": { schema: { type: "object" } } } },
        "400": ErrorResponse,
        "401": ErrorResponse,
        "403": ErrorResponse,
        "404": ErrorResponse,
        "409": ErrorResponse,
        ...(op.body || op.rawBody ? { "413": ErrorResponse } : {}),
        "422": ErrorResponse,
        "429": ErrorResponse,
        "500": ErrorResponse,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Autopilot Control Center — REST v1",
      version,
      description: "Tenant and scopes come from the API key. Another tenant's ids answer 404.",
    },
    components: {
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "apk_<prefix>_<secret>; scopes admin (implies all), ingest, read, approve" },
      },
    },
    paths,
  };
}
