import { humanize } from "../labels";

/**
 * One line a person can read for a ledger entry; the raw payload stays one click away. Stored
 * payloads are data, not trusted shapes: anything unexpected (not an object, a field of the wrong
 * type) degrades to a plainer line instead of throwing and taking the whole list down.
 */
export function describeEntry(type: string, raw: unknown): string {
  try {
    return describeFields(type, raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {});
  } catch {
    return humanize(type);
  }
}

function describeFields(type: string, payload: Record<string, unknown>): string {
  switch (type) {
    case "SIGNAL_RECEIVED":
      return `Signal: ${humanize(String(payload.signal_type ?? "unknown"))}${payload.severity ? ` (${payload.severity})` : ""}`;
    case "ACCOUNT_UPDATED":
      return `Account fields changed: ${Object.keys((payload.changed as object) ?? {}).join(", ") || "none"}`;
    case "API_KEY_CREATED":
      return `API key “${String(payload.name ?? "")}” created with scopes ${Array.isArray(payload.scopes) ? payload.scopes.join(", ") : "?"}`;
    case "API_KEY_REVOKED":
      return "API key revoked";
    case "SIGN_IN":
      return "Signed in";
    case "CONFIG_CHANGED":
      return `Configuration changed: ${humanize(String(payload.change ?? "update"))}${beforeAfter(payload)}`;
    case "INTENT_PROPOSED":
      return `Proposed: ${humanize(String(payload.action_type ?? "action"))}${pctOf(payload.confidence)}`;
    case "POLICY_EVALUATED":
      return `Policy: ${humanize(String(payload.decision ?? "evaluated"))}${payload.reason ? ` — ${humanize(String(payload.reason))}` : ""}`;
    case "APPROVAL_REQUESTED":
      return `Waiting for a person${payload.reason ? ` (${humanize(String(payload.reason))})` : ""}`;
    case "BUDGET_CONSUMED":
      return `Autopilot budget used: ${payload.consumed ?? "?"} of ${payload.cap ?? "?"} today`;
    case "INTENT_APPROVED":
      return `${payload.edited ? "Edited and approved" : "Approved"}${payload.approved_by ? ` by ${payload.approved_by}` : " by a person"}`;
    case "INTENT_REJECTED":
      return `Rejected${payload.rejected_by ? ` by ${payload.rejected_by}` : ""}${payload.reason ? `: “${payload.reason}”` : ""}`;
    case "EXECUTION_STARTED":
      return `Execution started${payload.auto_executed ? " by autopilot" : " after human approval"}`;
    case "EXECUTION_SUCCEEDED":
      return "Execution succeeded";
    case "EXECUTION_FAILED":
      return `Execution failed${payload.error ? `: ${String(payload.error)}` : ""}`;
    case "OUTCOME_RECORDED":
      return `Outcome: ${humanize(String(payload.label ?? "recorded"))}`;
    case "KILL_SWITCH_CHANGED":
      return `Kill switch ${String(payload.scope ?? "")}${payload.key ? ` (${payload.key})` : ""} turned ${payload.after ? "on" : "off"}${payload.reason ? `: “${payload.reason}”` : ""}`;
    default:
      return humanize(type);
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

function beforeAfter(payload: Record<string, unknown>) {
  if (!("before" in payload) && !("after" in payload)) return "";
  if (typeof payload.after === "object" && payload.after !== null && !Array.isArray(payload.after)) return "";
  const where = payload.action_type ? ` for ${humanize(String(payload.action_type))}` : "";
  return `${where}: ${short(payload.before)} → ${short(payload.after)}`;
}
