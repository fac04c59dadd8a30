import { humanize } from "../labels";

/** One line a person can read for a ledger entry; the raw payload stays one click away. */
export function describeEntry(type: string, payload: Record<string, unknown>): string {
  switch (type) {
    case "SIGNAL_RECEIVED":
      return `Signal: ${humanize(String(payload.signal_type ?? "unknown"))}${payload.severity ? ` (${payload.severity})` : ""}`;
    case "ACCOUNT_UPDATED":
      return `Account fields changed: ${Object.keys((payload.changed as object) ?? {}).join(", ") || "none"}`;
    case "API_KEY_CREATED":
      return `API key “${String(payload.name ?? "")}” created with scopes ${(payload.scopes as string[] | undefined)?.join(", ") ?? "?"}`;
    case "API_KEY_REVOKED":
      return "API key revoked";
    case "SIGN_IN":
      return "Signed in";
    case "CONFIG_CHANGED":
      return `Configuration changed: ${humanize(String(payload.change ?? "update"))}`;
    default:
      return humanize(type);
  }
}
