/**
 * The internal connector's renderer: turns an approved internal action into the artifact a seller
 * reads (note, task, flag, brief, draft, research). Pure; the service loads the account's stored
 * data (`ArtifactData`) and stores the result. Research and briefs are computed from that data —
 * a usage analysis with its numbers, a brief from contacts, opportunities, open proposals and
 * recent signals — and say plainly what was not available (there is no news source, so no news).
 */
export type ArtifactKind = "NOTE" | "TASK" | "FLAG" | "MEETING_BRIEF" | "EMAIL_DRAFT" | "RESEARCH";

export interface RenderedArtifact {
  kind: ArtifactKind;
  title: string;
  body: string;
}

export interface ArtifactContext {
  accountName: string;
  /** reason codes such as "RENEWAL_WINDOW_ENTERED", or already readable sentences */
  why: string[];
  /** the account's stored data, for research and briefs; absent → a plain request is rendered */
  data?: ArtifactData;
}

export interface ArtifactData {
  now: Date;
  contacts: { name: string; title: string | null; email: string | null }[];
  opportunities: { name: string; stage: string; amountCents: number; closeDate: Date | null }[];
  /** proposals on the account still waiting for a person */
  openIntents: { actionType: string; createdAt: Date }[];
  /** the account's signals, any order */
  signals: { id: string; type: string; severity: string; evidence: Record<string, unknown>; at: Date }[];
}

/** Action types whose artifact is computed from the account's stored data. */
export const DATA_BACKED_ACTIONS = ["ANALYZE_USAGE_PATTERNS", "FETCH_ACCOUNT_NEWS", "GENERATE_MEETING_BRIEF"] as const;

export const TITLE_MAX = 200;
export const BODY_MAX = 5_000;

type Params = Record<string, unknown>;
type Renderer = (p: Params, ctx: ArtifactContext, account: string) => { title: string; body: string };

const RENDERERS: Record<string, { kind: ArtifactKind; render: Renderer }> = {
  CREATE_INTERNAL_NOTE: {
    kind: "NOTE",
    render: (p, ctx, account) => ({
      title: text(p.title) ?? `Note on ${account}`,
      body: sections(text(p.body) ?? text(p.note) ?? `Autopilot noted activity on ${account} worth keeping in mind.`, whySection(ctx)),
    }),
  },
  CREATE_INTERNAL_TASK: {
    kind: "TASK",
    render: (p, ctx, account) => ({
      title: text(p.title) ?? `Follow up on ${account}`,
      body: sections(text(p.body) ?? text(p.description) ?? `Follow up on ${account}.`, dueLine(p.due_in_days), whySection(ctx)),
    }),
  },
  FLAG_FOR_REVIEW: {
    kind: "FLAG",
    render: (p, ctx, account) => ({
      title: text(p.title) ?? `Review ${account}`,
      body: sections(
        text(p.body) ?? text(p.reason) ?? `Autopilot flagged ${account} for a human look before anything else happens.`,
        whySection(ctx),
      ),
    }),
  },
  GENERATE_MEETING_BRIEF: {
    kind: "MEETING_BRIEF",
    render: (p, ctx, account) => {
      const d = ctx.data;
      const attendees = list(p.attendees);
      return {
        title: text(p.title) ?? `Meeting brief: ${account}`,
        body: sections(
          text(p.body) ?? `Briefing for your next meeting with ${account}.`,
          bulletSection(
            "Attendees",
            attendees.length || !d
              ? attendees
              : d.contacts.length
                ? d.contacts.map((c) => `${c.name}${c.title ? ` — ${c.title}` : ""}${c.email ? ` <${c.email}>` : ""}`)
                : ["No contacts on record for this account: add the people you will meet."],
          ),
          d ? bulletSection("Opportunities", opportunityLines(d)) : null,
          d ? bulletSection("Waiting for a decision", openIntentLines(d)) : null,
          d ? bulletSection("Recent signals (14 days)", signalLines(d, 14, 8)) : null,
          bulletSection("Agenda", list(p.agenda)),
          whySection(ctx, "Context"),
        ),
      };
    },
  },
  DRAFT_EMAIL: {
    kind: "EMAIL_DRAFT",
    render: (p, ctx, account) => {
      const subject = text(p.subject);
      const cc = list(p.cc);
      return {
        title: subject ?? `Draft email to ${account}`,
        body: sections(
          "Draft only: nothing has been sent. Review it, then send it yourself.",
          [
            `To: ${list(p.to).join(", ") || "(add a recipient)"}`,
            ...(cc.length ? [`Cc: ${cc.join(", ")}`] : []),
            `Subject: ${subject ?? "(add a subject)"}`,
          ].join("\n"),
          text(p.body) ?? "(write the message)",
          whySection(ctx),
        ),
      };
    },
  },
  OPEN_APPROVAL_REQUEST: {
    kind: "TASK",
    render: (p, ctx, account) => {
      const requested = text(p.action_type);
      return {
        title: text(p.title) ?? `Approval needed: ${requested ? `${humanize(requested).toLowerCase()} for ` : ""}${account}`,
        body: sections(
          text(p.body) ?? `Autopilot needs a decision from you on ${account}.`,
          requested ? `Requested action: ${humanize(requested)}` : null,
          dueLine(p.due_in_days),
          whySection(ctx),
        ),
      };
    },
  },
  FETCH_ACCOUNT_NEWS: {
    kind: "RESEARCH",
    render: (p, ctx, account) => {
      const d = ctx.data;
      if (!d) {
        return {
          title: text(p.title) ?? `Recent news: ${account}`,
          body: sections(
            text(p.body) ?? `Check recent news about ${account}: funding, leadership changes, launches, layoffs, acquisitions.`,
            bulletSection("Focus", list(p.topics)),
            whySection(ctx),
          ),
        };
      }
      // No news connector exists: say so, and show what was actually checked, rather than invent news.
      const checked = signalLines(d, 30, 12);
      return {
        title: text(p.title) ?? `Account research: ${account}`,
        body: sections(
          `No news source is connected, so no external news about ${account} was fetched.`,
          checked.length
            ? `Checked instead: the ${recent(d, 30).length} signal${recent(d, 30).length === 1 ? "" : "s"} stored for ${account} in the last 30 days.`
            : `Checked instead: the signals stored for ${account} — none in the last 30 days.`,
          bulletSection("Signals on record", checked),
          bulletSection("Focus for a manual check", list(p.topics)),
          whySection(ctx),
        ),
      };
    },
  },
  ANALYZE_USAGE_PATTERNS: {
    kind: "RESEARCH",
    render: (p, ctx, account) => {
      const days = wholeNumber(p.window_days);
      if (ctx.data) return usageAnalysis(ctx.data, days ?? 30, ctx, account, text(p.title));
      return {
        title: text(p.title) ?? `Usage analysis: ${account}`,
        body: sections(
          text(p.body) ?? `Review how ${account} has been using the product: active users, feature adoption and any drop-off.`,
          days !== null ? `Look back: last ${days} day${days === 1 ? "" : "s"}` : null,
          bulletSection("Metrics", list(p.metrics)),
          whySection(ctx),
        ),
      };
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Computed from stored data

const DAY_MS = 86_400_000;
const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const usd = (cents: number) => `$${Math.round(cents / 100).toLocaleString("en-US")}`;
const signed = (n: number) => `${n > 0 ? "+" : n < 0 ? "−" : ""}${Math.abs(Math.round(n * 10) / 10)}%`;

function recent(d: ArtifactData, days: number) {
  const since = d.now.getTime() - days * DAY_MS;
  return d.signals.filter((s) => s.at.getTime() >= since).sort((x, y) => y.at.getTime() - x.at.getTime() || x.id.localeCompare(y.id));
}

function signalLines(d: ArtifactData, days: number, max: number) {
  const rows = recent(d, days);
  const lines = rows.slice(0, max).map((s) => `${isoDay(s.at)}: ${humanize(s.type)} (${s.severity})${evidenceNote(s.evidence)}`);
  if (rows.length > max) lines.push(`… and ${rows.length - max} more`);
  return lines;
}

/** A short, readable trace of the evidence: numbers and short strings only. */
function evidenceNote(e: Record<string, unknown>) {
  const parts = Object.entries(e)
    .filter(([k, v]) => k !== "source" && (typeof v === "number" || (typeof v === "string" && v.length <= 40)))
    .slice(0, 3)
    .map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`);
  return parts.length ? ` — ${parts.join(", ")}` : "";
}

function opportunityLines(d: ArtifactData) {
  if (d.opportunities.length === 0) return ["No opportunities on record."];
  return d.opportunities.map(
    (o) =>
      `${o.name}: ${humanize(o.stage).toLowerCase()}, ${usd(o.amountCents)}, ${o.closeDate ? `closes ${isoDay(o.closeDate)}` : "no close date"}`,
  );
}

function openIntentLines(d: ArtifactData) {
  if (d.openIntents.length === 0) return ["Nothing is waiting for a decision."];
  return d.openIntents.slice(0, 8).map((i) => `${humanize(i.actionType)} (proposed ${isoDay(i.createdAt)})`);
}

/** Usage analysis from USAGE_TREND_CHANGE signals' evidence and the account's other activity. */
function usageAnalysis(d: ArtifactData, days: number, ctx: ArtifactContext, account: string, title: string | null) {
  const inWindow = recent(d, days);
  const usage = inWindow.filter((s) => s.type === "USAGE_TREND_CHANGE");
  const changes = usage.map((s) => s.evidence.change_pct).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const heading = title ?? `Usage analysis: ${account}`;
  const other = new Map<string, number>();
  for (const s of inWindow) if (s.type !== "USAGE_TREND_CHANGE") other.set(s.type, (other.get(s.type) ?? 0) + 1);
  const activity = [...other.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([t, n]) => `${humanize(t)}: ${n}`);
  if (usage.length === 0) {
    return {
      title: heading,
      body: sections(
        `No usage data was received for ${account} in the last ${days} day${days === 1 ? "" : "s"} (no usage-trend signals), so there is nothing to measure yet.`,
        bulletSection("Other activity in the window", activity),
        whySection(ctx),
      ),
    };
  }
  const latest = changes[0];
  const stats =
    changes.length > 0
      ? [
          `Latest reported change: ${signed(latest as number)}`,
          `Average of ${changes.length} reported change${changes.length === 1 ? "" : "s"}: ${signed(changes.reduce((a, b) => a + b, 0) / changes.length)}`,
          `Range: ${signed(Math.min(...changes))} to ${signed(Math.max(...changes))}`,
          `Direction: ${changes.every((c) => c < 0) ? "declining" : changes.every((c) => c > 0) ? "growing" : "mixed"}`,
        ]
      : ["The usage signals carried no change percentage."];
  return {
    title: heading,
    body: sections(
      `Computed from ${usage.length} usage signal${usage.length === 1 ? "" : "s"} for ${account} in the last ${days} day${days === 1 ? "" : "s"}.`,
      bulletSection("Numbers", stats),
      bulletSection("Usage signals", signalLines({ ...d, signals: usage }, days, 10)),
      bulletSection("Other activity in the window", activity),
      whySection(ctx),
    ),
  };
}

/** null for action types the internal connector does not carry out (e.g. SEND_EMAIL). */
export function renderInternalArtifact(actionType: string, parameters: Params, context: ArtifactContext): RenderedArtifact | null {
  if (!Object.hasOwn(RENDERERS, actionType)) return null;
  const entry = RENDERERS[actionType];
  if (!entry) return null;
  const account = context.accountName.trim() || "this account";
  const { title, body } = entry.render(parameters, context, account);
  return { kind: entry.kind, title: cap(title.replace(/\s+/g, " ").trim(), TITLE_MAX), body: cap(body.trim(), BODY_MAX) };
}

const ACRONYMS = new Set([
  "API",
  "ARR",
  "CEO",
  "CFO",
  "CIO",
  "CISO",
  "CRM",
  "CSAT",
  "CTO",
  "EBR",
  "ICP",
  "MRR",
  "MSA",
  "NDA",
  "NPS",
  "POC",
  "QBR",
  "RFP",
  "ROI",
  "SLA",
  "SOW",
  "SSO",
  "VP",
]);

/** "RENEWAL_WINDOW_ENTERED" → "Renewal window entered"; text that is not a CODE is returned as is. */
export function humanize(code: string): string {
  const trimmed = code.trim();
  if (!/^[A-Z0-9]+(?:_[A-Z0-9]+)*$/.test(trimmed)) return trimmed;
  const words = trimmed.split("_").map((w) => (ACRONYMS.has(w) ? w : w.toLowerCase()));
  const sentence = words.join(" ");
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

function text(value: unknown): string | null {
  if (typeof value === "string") return value.trim() || null;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

function list(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(text).filter((s): s is string => s !== null);
  const single = text(value);
  return single === null
    ? []
    : single
        .split("\n")
        .map((s) => s.replace(/^\s*[-*•]\s*/, "").trim())
        .filter(Boolean);
}

function wholeNumber(value: unknown): number | null {
  const n = typeof value === "string" && value.trim() ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : null;
}

function dueLine(value: unknown): string | null {
  const days = wholeNumber(value);
  if (days === null) return null;
  if (days === 0) return "Due: today";
  if (days === 1) return "Due: tomorrow";
  return `Due: in ${days} days`;
}

function bulletSection(heading: string, items: string[]): string | null {
  return items.length ? `${heading}:\n${items.map((i) => `- ${i}`).join("\n")}` : null;
}

function whySection(ctx: ArtifactContext, heading = "Why now"): string | null {
  // why arrives from stored JSON, so a stray non-string is skipped rather than trusted.
  const reasons = Array.isArray(ctx.why) ? ctx.why.filter((w): w is string => typeof w === "string") : [];
  return bulletSection(heading, reasons.map(humanize).filter(Boolean));
}

function sections(...parts: (string | null)[]): string {
  return parts.filter((s): s is string => s !== null && s !== "").join("\n\n");
}

/** Cuts to `max` UTF-16 units with an ellipsis, never leaving half of a surrogate pair behind. */
function cap(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${s.slice(0, end)}…`;
}
