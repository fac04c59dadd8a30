import { type LedgerPayloadOf, parseLedgerPayload } from "@/server/engine/ledgerPayloads";
import { humanize } from "../labels";

/**
 * One line a person can read for a ledger entry; the raw payload stays one click away. Stored
 * payloads are data, not trusted shapes: anything unexpected degrades to a plainer line instead
 * of throwing and taking the whole list down.
 */
export function describeEntry(type: string, stored: unknown): string {
  try {
    return describeParsed(type, stored);
  } catch {
    return humanize(type);
  }
}

function describeParsed(type: string, stored: unknown): string {
  // Imported from ledgerPayloads, not ledger.ts: this runs in the browser and ledger.ts needs node:crypto.
  const e = parseLedgerPayload(type, stored);
  switch (e.type) {
    case "SIGNAL_RECEIVED":
      return `Signal: ${humanize(e.payload.signal_type)}${e.payload.severity ? ` (${e.payload.severity})` : ""}`;
    case "ACCOUNT_UPDATED":
      return `Account fields changed: ${Object.keys(e.payload.changed).join(", ") || "none"}`;
    case "API_KEY_CREATED":
      return `API key “${e.payload.name ?? ""}” created with scopes ${e.payload.scopes?.join(", ") ?? "?"}`;
    case "API_KEY_REVOKED":
      return "API key revoked";
    case "SIGN_IN":
      return "Signed in";
    case "CONFIG_CHANGED":
      return `Configuration changed: ${humanize(e.payload.change)}${beforeAfter(e.payload)}`;
    case "INTENT_PROPOSED":
      return `Proposed: ${humanize(e.payload.action_type)}${pctOf(e.payload.confidence)}`;
    case "POLICY_EVALUATED":
      return `Policy: ${humanize(e.payload.decision)} — ${humanize(e.payload.reason)}`;
    case "APPROVAL_REQUESTED":
      return `Waiting for a person (${humanize(e.payload.reason)})`;
    case "BUDGET_CONSUMED":
      return `Autopilot budget used: ${e.payload.consumed} of ${e.payload.cap} today`;
    case "INTENT_APPROVED":
      return `${e.payload.edited ? "Edited and approved" : "Approved"}${e.payload.approved_by ? ` by ${e.payload.approved_by}` : " by a person"}`;
    case "INTENT_REJECTED":
      return `Rejected${e.payload.rejected_by ? ` by ${e.payload.rejected_by}` : ""}${e.payload.reason ? `: “${e.payload.reason}”` : ""}`;
    case "EXECUTION_STARTED":
      return `Execution started${e.payload.auto_executed ? " by autopilot" : " after human approval"}`;
    case "EXECUTION_SUCCEEDED":
      return "Execution succeeded";
    case "EXECUTION_FAILED":
      return `Execution failed${e.payload.error ? `: ${e.payload.error}` : e.payload.reason ? `: ${humanize(e.payload.reason)}` : ""}`;
    case "OUTCOME_RECORDED":
      return `Outcome: ${humanize(e.payload.label)}`;
    case "KILL_SWITCH_CHANGED":
      return `Kill switch ${e.payload.scope}${e.payload.key ? ` (${e.payload.key})` : ""} turned ${e.payload.after ? "on" : "off"}${e.payload.reason ? `: “${e.payload.reason}”` : ""}`;
    case "ALWAYS_ON_CHANGED":
      return `Always-on autonomy switched ${e.payload.after ? "on" : "off"} for ${e.payload.account_id ? "the account" : "the workspace"}`;
    case "HEAT_TIER_CHANGED":
      return `Heat: ${e.payload.from} → ${e.payload.to} (${humanize(e.payload.rule)}, score ${e.payload.score.toFixed(2)}${e.payload.signals_in_window != null ? `, ${e.payload.signals_in_window} signals in ${e.payload.window_hours ?? "?"} h` : ""})`;
    case "NORMALIZATION_MISSING":
      return `Outcome missing: a ${humanize(e.payload.status).toLowerCase()} intent had no outcome ${e.payload.after_hours} h after it was decided`;
    case "CALIBRATION_COMPLETED":
      if (!e.payload.ok) return `Calibration failed${e.payload.error ? `: ${e.payload.error}` : ""} (${e.payload.rows} labelled outcomes)`;
      return e.payload.version != null
        ? `Calibration registered candidate weights v${e.payload.version} from ${e.payload.rows} labelled outcomes${e.payload.positives != null && e.payload.negatives != null ? ` (${e.payload.positives} worth doing, ${e.payload.negatives} not)` : ""}`
        : `Calibration finished without a candidate (${e.payload.rows} labelled outcomes)`;
    case "RANKING_WEIGHTS_PROMOTED":
      return `Ranking weights v${e.payload.version} promoted to ACTIVE (${humanize(e.payload.scope).toLowerCase()}): “${e.payload.reason}”`;
    case "RANKING_WEIGHTS_ROLLED_BACK":
      return `Ranking weights rolled back${e.payload.automatic ? " automatically by the promotion guard" : ""} (${humanize(e.payload.scope).toLowerCase()}), ${e.payload.restored_id ? "the previous version is ACTIVE again" : "the rules ranking ranks again"}: “${e.payload.reason}”`;
    case "LEDGER_DIGEST_PUBLISHED":
      return `Signed digest of the chain at entry #${e.payload.seq} published (key ${e.payload.key_id}, head ${e.payload.head_hash.slice(0, 12)}…)`;
    case "REPLAY_REQUESTED":
      return `Replay of execution ${e.payload.original_execution_id} requested by ${e.payload.requested_by}: “${e.payload.replay_reason}”${e.payload.execution_id ? ` — queued as execution ${e.payload.execution_id}` : ""}`;
    case "REPLAY_STARTED":
      return `Replay started as execution ${e.payload.execution_id}`;
    case "REPLAY_COMPLETED":
      return `Replay succeeded (execution ${e.payload.execution_id})`;
    case "REPLAY_FAILED":
      return `Replay failed${e.payload.execution_id ? "" : " before it started"}: ${e.payload.error}`;
    case "UNRECOGNIZED":
      return humanize(e.entryType);
    default:
      return humanize(e.type);
  }
}

function pctOf(v: unknown) {
  return typeof v === "number" ? ` (${Math.round(v * 100)}% confidence)` : "";
}

function short(v: unknown): string {
  if (v === null || v === undefined) return "none";
  if (typeof v === "string") return humanize(v);
  if (Array.isArray(v)) return v.length ? v.join(", ") : "none";
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function beforeAfter(payload: LedgerPayloadOf<"CONFIG_CHANGED">) {
  if (!("before" in payload) && !("after" in payload)) return "";
  if (typeof payload.after === "object" && payload.after !== null && !Array.isArray(payload.after)) return "";
  const where = payload.action_type ? ` for ${humanize(payload.action_type)}` : "";
  return `${where}: ${short(payload.before)} → ${short(payload.after)}`;
}
