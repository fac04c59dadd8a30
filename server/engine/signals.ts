/**
 * Signal vocabulary (SPEC §3): the closed list of signal types and severities that REST bodies,
 * tRPC inputs, the synthesizer and the UI share. Pure data, so schemas and client components can
 * import it without pulling in a service.
 */
export const SIGNAL_TYPES = [
  "ACCOUNT_ACTIVATION_DETECTED",
  "NO_ENGAGEMENT_PRESENT",
  "FIRST_ENGAGEMENT_OCCURRED",
  "DISCOVERY_PROGRESS_STALLED",
  "STAKEHOLDER_GAP_DETECTED",
  "USAGE_TREND_CHANGE",
  "SUPPORT_RISK_EMERGING",
  "RENEWAL_WINDOW_ENTERED",
  "ACTION_EXECUTED",
  "ACTION_FAILED",
  // Responses to outreach: they close its response window (engine/outcomes.ts). A reply whose
  // evidence says `sentiment: "negative"` counts as a refusal.
  "EMAIL_REPLY_RECEIVED",
  "MEETING_BOOKED",
  "EMAIL_BOUNCED",
  "UNSUBSCRIBED",
] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];

export const SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
