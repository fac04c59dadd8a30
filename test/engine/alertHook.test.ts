import { describe, expect, it } from "vitest";
import { ALERT_REASON_MAX, alertReason, NO_TEXT_REASON } from "@/server/engine/alertHook";

describe("alertReason: the kill switch's reason from an alert body", () => {
  it.each([
    ["plain text", "  Disk full on db-1  ", "Disk full on db-1"],
    ["Slack-style text", JSON.stringify({ text: "Error budget burned", username: "grafana" }), "Error budget burned"],
    [
      "Alertmanager commonAnnotations.summary",
      JSON.stringify({
        status: "firing",
        commonAnnotations: { summary: "High bounce rate" },
        alerts: [{ annotations: { summary: "other" } }],
      }),
      "High bounce rate",
    ],
    [
      "Alertmanager alerts[0].annotations.summary",
      JSON.stringify({ status: "firing", commonAnnotations: {}, alerts: [{ annotations: { summary: "First alert" } }] }),
      "First alert",
    ],
    ["Alertmanager alertname only", JSON.stringify({ commonLabels: { alertname: "SendFailures" } }), "SendFailures"],
    [
      "Grafana title and message",
      JSON.stringify({ title: "[Alerting] Sends", message: "Over 5% failed" }),
      "[Alerting] Sends — Over 5% failed",
    ],
    ["Grafana title only", JSON.stringify({ title: "[Alerting] Sends" }), "[Alerting] Sends"],
    ["generic description", JSON.stringify({ description: "Latency high" }), "Latency high"],
    ["a JSON object with no text", JSON.stringify({ status: "firing" }), NO_TEXT_REASON],
    ["an empty body", "", NO_TEXT_REASON],
    ["a JSON array is plain text", "[1,2]", "[1,2]"],
    ["text starting with a brace that is not JSON", "{oops} db down", "{oops} db down"],
    ["a non-string text falls through", JSON.stringify({ text: 5, message: "fallback" }), "fallback"],
    ["control characters and NUL become spaces", "a\u0000b\r\n\tc", "a b c"],
    ["a lone surrogate becomes U+FFFD", "x\ud800y", "x\ufffdy"],
  ])("%s", (_label, body, reason) => {
    expect(alertReason(body)).toBe(reason);
  });

  it("is bounded, cutting on characters, not UTF-16 halves", () => {
    const out = alertReason("💥".repeat(ALERT_REASON_MAX * 2));
    expect([...out]).toHaveLength(ALERT_REASON_MAX);
    expect(out.endsWith("…")).toBe(true);
    expect(alertReason("a".repeat(ALERT_REASON_MAX))).toBe("a".repeat(ALERT_REASON_MAX));
  });

  it("redacts secrets before cutting", () => {
    const out = alertReason(`${"x ".repeat(200)}Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789 ${"y".repeat(400)}`);
    expect(out).not.toContain("abcdefghijklmnopqrstuvwxyz0123456789");
    expect(out).not.toContain("abcdefghij");
  });

  it("does not read inherited keys (a __proto__ key is plain data)", () => {
    expect(alertReason('{"__proto__":{"text":"inherited"}}')).toBe(NO_TEXT_REASON);
  });
});
