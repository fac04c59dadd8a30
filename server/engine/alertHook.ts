import { redactText } from "./redact";

/**
 * The reason an alert hook gives its kill switch (SPEC §4.6): the alert's own text, so the banner
 * and the ledger say why autopilot stopped. Pure: the route reads the (size-capped) body, this
 * picks the words.
 *
 * Accepted bodies, first match wins:
 *  - plain text (any body that is not a JSON object);
 *  - `text` — Slack-compatible messages, and what most tools send to a "Slack webhook";
 *  - Alertmanager: `commonAnnotations.summary`, `commonAnnotations.description`,
 *    `alerts[0].annotations.summary`, `alerts[0].annotations.description`, `commonLabels.alertname`;
 *  - Grafana: `title` and `message` (joined with " — " when both are present);
 *  - generic: `message`, `summary`, `description`.
 * A body with none of these still turns the switch on (an alert fired; that is the signal), with
 * NO_TEXT_REASON.
 */

/** The kill switches a hook may turn on: not GLOBAL, which is operator-only. */
export const ALERT_HOOK_SCOPES = ["TENANT", "ACTION_TYPE", "CONNECTOR"] as const;
export type AlertHookScope = (typeof ALERT_HOOK_SCOPES)[number];

export const ALERT_REASON_MAX = 500;
export const NO_TEXT_REASON = "Alert hook fired (the alert carried no text)";

function str(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

function at(obj: unknown, ...path: (string | number)[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, p)) return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

function textOfJson(body: unknown): string | null {
  const first = (...candidates: unknown[]) => candidates.map(str).find((c) => c !== null) ?? null;
  const slack = first(at(body, "text"));
  if (slack) return slack;
  const alertmanager = first(
    at(body, "commonAnnotations", "summary"),
    at(body, "commonAnnotations", "description"),
    at(body, "alerts", 0, "annotations", "summary"),
    at(body, "alerts", 0, "annotations", "description"),
    at(body, "commonLabels", "alertname"),
  );
  if (alertmanager) return alertmanager;
  const title = str(at(body, "title"));
  const message = str(at(body, "message"));
  if (title && message) return `${title} — ${message}`;
  return first(title, message, at(body, "summary"), at(body, "description"));
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point (they are removed)
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** One line, no control characters, secrets redacted, at most ALERT_REASON_MAX characters. */
export function cleanAlertText(raw: string): string {
  // Lone surrogates become U+FFFD: the reason is stored and ledgered as well-formed UTF-8.
  const wellFormed = raw.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
  // Control characters (U+0000 included, which PostgreSQL text cannot hold) become spaces, then
  // runs of whitespace collapse: the reason is shown on one line in the banner.
  const oneLine = wellFormed.replace(CONTROL, " ").replace(/\s+/g, " ").trim();
  // Redact before cutting, so a cut can never leave half a secret that no longer matches.
  const redacted = redactText(oneLine);
  const chars = [...redacted];
  return chars.length > ALERT_REASON_MAX ? `${chars.slice(0, ALERT_REASON_MAX - 1).join("")}…` : redacted;
}

/** The reason for an alert body, given as the raw text the hook received. */
export function alertReason(body: string): string {
  let text: string | null = body;
  const trimmed = body.trim();
  if (trimmed.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      text = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? textOfJson(parsed) : body;
    } catch {
      // Not JSON after all: a plain-text alert that happens to start with a brace.
    }
  }
  const clean = text === null ? "" : cleanAlertText(text);
  return clean === "" ? NO_TEXT_REASON : clean;
}
