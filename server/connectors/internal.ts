/**
 * The internal connector's renderer: turns an approved internal action into the artifact a seller
 * reads (note, task, flag, brief, draft, research request). Pure; the service stores the result.
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
}

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
    render: (p, ctx, account) => ({
      title: text(p.title) ?? `Meeting brief: ${account}`,
      body: sections(
        text(p.body) ?? `Briefing for your next meeting with ${account}.`,
        bulletSection("Attendees", list(p.attendees)),
        bulletSection("Agenda", list(p.agenda)),
        whySection(ctx, "Context"),
      ),
    }),
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
    render: (p, ctx, account) => ({
      title: text(p.title) ?? `Recent news: ${account}`,
      body: sections(
        text(p.body) ?? `Check recent news about ${account}: funding, leadership changes, launches, layoffs, acquisitions.`,
        bulletSection("Focus", list(p.topics)),
        whySection(ctx),
      ),
    }),
  },
  ANALYZE_USAGE_PATTERNS: {
    kind: "RESEARCH",
    render: (p, ctx, account) => {
      const days = wholeNumber(p.window_days);
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
