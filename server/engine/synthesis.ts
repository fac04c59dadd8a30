import type { ActionType, RiskLevel } from "./actions";

/**
 * The default decision synthesizer (SPEC §4.3): deterministic rules from the account's own data —
 * signals, posture, lifecycle, contacts, opportunities and recent activity — to ranked proposals,
 * each with its `why`, confidence, risk and blocking unknowns. It only proposes; the gate decides.
 *
 * Two promises hold by construction:
 * - a recipient is always one of the account's contacts, chosen by role; with no fitting contact
 *   the proposal names the gap as a blocking unknown instead of inventing an address;
 * - confidence is computed from the evidence behind a proposal (severity, recency, corroborating
 *   signals), so it moves when the evidence does.
 */
export interface SynthesisSignal {
  id?: string;
  type: string;
  severity: string;
  evidence: Record<string, unknown>;
  at: Date;
}

export interface SynthesisContact {
  id: string;
  name: string;
  email: string | null;
  title: string | null;
}

export interface SynthesisOpportunity {
  id: string;
  name: string;
  stage: string;
  amountCents: number;
  closeDate: Date | null;
}

/** Recent intents on the account: what was already proposed, done or is waiting. */
export interface SynthesisActivity {
  actionType: string;
  status: string;
  at: Date;
}

export interface SynthesisInput {
  account: { name: string; domain: string | null; lifecycle: string; posture: string; momentum: string };
  signals: SynthesisSignal[];
  triggerType: string;
  contacts: SynthesisContact[];
  opportunities: SynthesisOpportunity[];
  activity: SynthesisActivity[];
  now: Date;
  /** the account's heat as the `heat` job computed it; absent reads as unscored (COLD, 0) */
  heat?: { score: number; tier: string };
}

export interface Proposal {
  actionType: ActionType;
  riskLevel: RiskLevel;
  confidence: number;
  why: string[];
  parameters: Record<string, unknown>;
  blockingUnknowns: string[];
  rankScore: number;
}

// ---------------------------------------------------------------------------------------------
// Contacts by role

export const CONTACT_ROLES = ["ECONOMIC_BUYER", "EXECUTIVE", "TECHNICAL", "CUSTOMER_SUCCESS", "SALES"] as const;
export type ContactRole = (typeof CONTACT_ROLES)[number];

const ROLE_PATTERNS: Record<ContactRole, RegExp> = {
  ECONOMIC_BUYER: /\b(cfo|chief financial|finance|procurement|purchasing|controller|budget)\b/i,
  EXECUTIVE: /\b(ceo|coo|chief|president|founder|owner|vp|vice president|head of|director|general manager)\b/i,
  TECHNICAL: /\b(cto|cio|ciso|it|engineering|engineer|technical|architect|security|platform|devops)\b/i,
  CUSTOMER_SUCCESS: /\b(customer success|success|support|operations|ops|admin|administrator|enablement)\b/i,
  SALES: /\b(sales|revops|revenue|commercial|business development|partnerships)\b/i,
};

const ROLE_LABEL: Record<ContactRole, string> = {
  ECONOMIC_BUYER: "finance or procurement (budget holder)",
  EXECUTIVE: "executive",
  TECHNICAL: "IT or engineering",
  CUSTOMER_SUCCESS: "operations or customer success",
  SALES: "sales or revenue operations",
};

export function contactRoles(c: Pick<SynthesisContact, "title">): ContactRole[] {
  const title = c.title ?? "";
  return CONTACT_ROLES.filter((r) => ROLE_PATTERNS[r].test(title));
}

/** The first contact with an address whose title fits the earliest role in `roles`. */
export function pickContact(contacts: SynthesisContact[], roles: readonly ContactRole[]) {
  const reachable = [...contacts].filter((c) => !!c.email?.includes("@")).sort((x, y) => x.id.localeCompare(y.id));
  for (const role of roles) {
    const c = reachable.find((x) => contactRoles(x).includes(role));
    if (c) return { contact: c, role };
  }
  return null;
}

type Draft = Omit<Proposal, "why" | "rankScore" | "confidence"> & {
  /** certainty of the rule with minimal evidence; evidence raises it towards `ceiling` */
  prior: number;
  ceiling: number;
};

/** Parameters and blocking unknowns for an action that reaches a person at the account. */
function recipient(
  ctx: Ctx,
  roles: readonly ContactRole[],
  key: string,
): { parameters: Record<string, unknown>; blockingUnknowns: string[] } {
  const hit = pickContact(ctx.input.contacts, roles);
  if (!hit) {
    const say = (n: number) =>
      `No contact at ${ctx.input.account.name} with an email in a fitting role (${roles
        .slice(0, n)
        .map((r) => ROLE_LABEL[r])
        .join(", or ")}${n < roles.length ? ", …" : ""}): add one or choose who.`;
    // Name fewer roles rather than cut off what to do about it: the stored unknown has 200 characters.
    let n = roles.length;
    while (n > 1 && say(n).length > 200) n -= 1;
    return { parameters: { recipient_role: roles[0] }, blockingUnknowns: [clip(say(n))] };
  }
  return {
    parameters: {
      [key]: hit.contact.email,
      contact_id: hit.contact.id,
      contact_name: hit.contact.name,
      ...(hit.contact.title ? { contact_title: hit.contact.title } : {}),
      recipient_role: hit.role,
    },
    blockingUnknowns: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Rules

interface Ctx {
  input: SynthesisInput;
  openOpportunities: SynthesisOpportunity[];
}

const OPEN = (o: SynthesisOpportunity) => o.stage !== "CLOSED_WON" && o.stage !== "CLOSED_LOST";
const money = (cents: number) => `$${Math.round(cents / 100).toLocaleString("en-US")}`;
const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : "no close date");
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The open opportunity closing first (ties by id), or null. */
function nextOpportunity(ctx: Ctx) {
  return (
    [...ctx.openOpportunities].sort(
      (x, y) =>
        (x.closeDate?.getTime() ?? Number.MAX_SAFE_INTEGER) - (y.closeDate?.getTime() ?? Number.MAX_SAFE_INTEGER) ||
        x.id.localeCompare(y.id),
    )[0] ?? null
  );
}

const opportunityRef = (o: SynthesisOpportunity | null) =>
  o
    ? { opportunity_id: o.id, opportunity: `${o.name} (${o.stage.toLowerCase()}, ${money(o.amountCents)}, closes ${day(o.closeDate)})` }
    : {};

const RULES: Record<string, (ctx: Ctx, s: SynthesisSignal) => Draft[]> = {
  SUPPORT_RISK_EMERGING: (ctx, s) => {
    const tickets = num(s.evidence.open_p1_tickets);
    const a = ctx.input.account;
    const r = recipient(ctx, ["TECHNICAL", "CUSTOMER_SUCCESS", "EXECUTIVE"], "to");
    const first = typeof r.parameters.contact_name === "string" ? r.parameters.contact_name.trim().split(/\s+/)[0] : "";
    const greeting = first ? `Hi ${first}` : "Hi";
    return [
      {
        actionType: "FLAG_FOR_REVIEW",
        riskLevel: "LOW",
        prior: 0.7,
        ceiling: 0.97,
        parameters: {
          reason:
            tickets !== null ? `${tickets} open priority ticket${tickets === 1 ? "" : "s"} at ${a.name}` : `Support risk at ${a.name}`,
          ...opportunityRef(nextOpportunity(ctx)),
        },
        blockingUnknowns: [],
      },
      {
        actionType: "SEND_EMAIL",
        riskLevel: "HIGH",
        prior: 0.45,
        ceiling: 0.85,
        parameters: {
          ...r.parameters,
          subject: "Your open support tickets",
          body: `${greeting} — I saw the open priority tickets at ${a.name}. Our support lead is on it; can we find 15 minutes this week?`,
        },
        blockingUnknowns: r.blockingUnknowns,
      },
    ];
  },
  RENEWAL_WINDOW_ENTERED: (ctx, s) => {
    const a = ctx.input.account;
    const opp = nextOpportunity(ctx);
    const days = num(s.evidence.days_to_renewal);
    const r = recipient(ctx, ["ECONOMIC_BUYER", "EXECUTIVE"], "contact");
    return [
      {
        actionType: "GENERATE_MEETING_BRIEF",
        riskLevel: "LOW",
        prior: 0.7,
        ceiling: 0.95,
        parameters: {
          title: `Renewal prep — ${a.name}`,
          agenda: ["Usage review", "Open issues", "Commercial terms"],
          ...(days !== null ? { days_to_renewal: days } : {}),
          ...opportunityRef(opp),
        },
        blockingUnknowns: [],
      },
      {
        actionType: "REQUEST_RENEWAL_MEETING",
        riskLevel: "HIGH",
        prior: 0.5,
        ceiling: 0.88,
        parameters: { ...r.parameters, ...opportunityRef(opp) },
        blockingUnknowns: r.blockingUnknowns,
      },
    ];
  },
  STAKEHOLDER_GAP_DETECTED: (ctx, s) => {
    const missing = Array.isArray(s.evidence.missing_roles)
      ? s.evidence.missing_roles.filter((x): x is string => typeof x === "string").slice(0, 3)
      : [];
    // The introduction is asked of someone already in the deal.
    const r = recipient(ctx, ["SALES", "EXECUTIVE", "CUSTOMER_SUCCESS", "TECHNICAL"], "via");
    return [
      {
        actionType: "REQUEST_STAKEHOLDER_INTRO",
        riskLevel: "HIGH",
        prior: 0.4,
        ceiling: 0.8,
        parameters: { ...r.parameters, role: missing.join(", ") || "Economic buyer" },
        blockingUnknowns: r.blockingUnknowns,
      },
    ];
  },
  DISCOVERY_PROGRESS_STALLED: (ctx, s) => {
    const a = ctx.input.account;
    const days = num(s.evidence.days_in_stage);
    const opp = ctx.openOpportunities.find((o) => o.stage === "DISCOVERY" || o.stage === "QUALIFY") ?? nextOpportunity(ctx);
    return [
      {
        actionType: "CREATE_INTERNAL_TASK",
        riskLevel: "LOW",
        prior: 0.65,
        ceiling: 0.95,
        parameters: {
          title: opp ? `Unblock ${opp.name}` : `Unblock discovery at ${a.name}`,
          description: `Discovery has not moved${days !== null ? ` for ${days} days` : ""}.${opp ? ` ${opportunityRef(opp).opportunity}.` : ""}`,
          due_in_days: 3,
          ...opportunityRef(opp),
        },
        blockingUnknowns: [],
      },
    ];
  },
  USAGE_TREND_CHANGE: (ctx, s) => {
    const change = num(s.evidence.change_pct);
    const metric = typeof s.evidence.metric === "string" ? s.evidence.metric : null;
    const out: Draft[] = [
      {
        actionType: "ANALYZE_USAGE_PATTERNS",
        riskLevel: "MINIMAL",
        prior: 0.75,
        ceiling: 0.97,
        parameters: { window_days: 30, ...(metric ? { metrics: [metric] } : {}) },
        blockingUnknowns: [],
      },
    ];
    if (change !== null && change <= -15 && ctx.input.account.posture !== "AT_RISK") {
      out.push({
        actionType: "UPDATE_ACCOUNT_FIELDS",
        riskLevel: "MEDIUM",
        prior: 0.5,
        ceiling: 0.9,
        parameters: { fields: { posture: "WATCH" }, note: `${metric ?? "Usage"} down ${-change}%` },
        blockingUnknowns: [],
      });
    }
    return out;
  },
  NO_ENGAGEMENT_PRESENT: (ctx, s) => {
    const days = num(s.evidence.days_since_last_touch);
    const r = recipient(ctx, ["CUSTOMER_SUCCESS", "SALES", "EXECUTIVE", "TECHNICAL", "ECONOMIC_BUYER"], "to");
    return [
      {
        actionType: "DRAFT_EMAIL",
        riskLevel: "LOW",
        prior: 0.45,
        ceiling: 0.85,
        parameters: {
          ...r.parameters,
          subject: "Checking in",
          body: `It has been ${days !== null ? `${days} days` : "a while"} — anything we can help with this quarter?`,
        },
        blockingUnknowns: r.blockingUnknowns,
      },
    ];
  },
  FIRST_ENGAGEMENT_OCCURRED: (ctx, s) => {
    const a = ctx.input.account;
    const channel = typeof s.evidence.channel === "string" ? s.evidence.channel : null;
    const r = recipient(ctx, ["SALES", "EXECUTIVE", "TECHNICAL"], "contact");
    return [
      {
        actionType: "CREATE_INTERNAL_NOTE",
        riskLevel: "LOW",
        prior: 0.7,
        ceiling: 0.95,
        parameters: { body: `First engagement from ${a.name}${channel ? ` (${channel})` : ""}: follow up within 48 hours.` },
        blockingUnknowns: [],
      },
      {
        actionType: "REQUEST_DISCOVERY_CALL",
        riskLevel: "HIGH",
        prior: 0.45,
        ceiling: 0.85,
        parameters: { ...r.parameters, ...(channel ? { channel } : {}) },
        blockingUnknowns: r.blockingUnknowns,
      },
    ];
  },
  ACCOUNT_ACTIVATION_DETECTED: (ctx) => {
    const a = ctx.input.account;
    const out: Draft[] = [
      {
        actionType: "FETCH_ACCOUNT_NEWS",
        riskLevel: "MINIMAL",
        prior: 0.75,
        ceiling: 0.97,
        parameters: { query: a.name },
        blockingUnknowns: [],
      },
    ];
    if (ctx.openOpportunities.length === 0) {
      out.push({
        actionType: "CREATE_INTERNAL_TASK",
        riskLevel: "LOW",
        prior: 0.55,
        ceiling: 0.9,
        parameters: { title: `Qualify ${a.name}: activity but no open opportunity`, due_in_days: 5 },
        blockingUnknowns: [],
      });
    }
    return out;
  },
};

const RITUALS: Record<string, (ctx: Ctx) => Draft[]> = {
  TIME_RITUAL_DAILY_BRIEF: (ctx) => {
    const a = ctx.input.account;
    const since = ctx.input.now.getTime() - 86_400_000;
    const fresh = ctx.input.signals.filter((s) => s.at.getTime() >= since).length;
    const pipeline = ctx.openOpportunities.reduce((sum, o) => sum + o.amountCents, 0);
    return [
      {
        actionType: "CREATE_INTERNAL_NOTE",
        riskLevel: "LOW",
        prior: 0.8,
        ceiling: 0.95,
        parameters: {
          body:
            `Daily brief for ${a.name}: posture ${a.posture.toLowerCase()}, momentum ${a.momentum.toLowerCase()}; ` +
            `${fresh} signal${fresh === 1 ? "" : "s"} in the last 24 h; ` +
            `${ctx.openOpportunities.length} open opportunit${ctx.openOpportunities.length === 1 ? "y" : "ies"} (${money(pipeline)}).`,
        },
        blockingUnknowns: [],
      },
    ];
  },
  TIME_RITUAL_WEEKLY_REVIEW: (ctx) => [
    {
      actionType: "CREATE_INTERNAL_TASK",
      riskLevel: "LOW",
      prior: 0.75,
      ceiling: 0.95,
      parameters: { title: `Weekly review: ${ctx.input.account.name}`, due_in_days: 2, ...opportunityRef(nextOpportunity(ctx)) },
      blockingUnknowns: [],
    },
  ],
  TIME_RITUAL_RENEWAL_RUNWAY: (ctx) =>
    ctx.input.account.lifecycle === "CUSTOMER"
      ? [
          {
            actionType: "GENERATE_MEETING_BRIEF",
            riskLevel: "LOW",
            prior: 0.75,
            ceiling: 0.95,
            parameters: { title: `Renewal runway — ${ctx.input.account.name}`, ...opportunityRef(nextOpportunity(ctx)) },
            blockingUnknowns: [],
          },
        ]
      : [],
};

// ---------------------------------------------------------------------------------------------
// Evidence → confidence

export const SEVERITY_WEIGHT: Record<string, number> = { low: 0.4, medium: 0.7, high: 1, critical: 1.4 };
/** Evidence loses half its weight every this many days. */
export const EVIDENCE_HALF_LIFE_DAYS = 3;
const RITUAL_STRENGTH = 1;

/** One signal's weight as evidence: its severity, discounted by its age. */
export function evidenceWeight(s: Pick<SynthesisSignal, "severity" | "at">, now: Date): number {
  const ageDays = Math.max(0, (now.getTime() - s.at.getTime()) / 86_400_000);
  return (SEVERITY_WEIGHT[s.severity] ?? SEVERITY_WEIGHT.medium ?? 0.7) * 0.5 ** (ageDays / EVIDENCE_HALF_LIFE_DAYS);
}

/**
 * From the rule's prior towards its ceiling as evidence accumulates: more severe, more recent and
 * more corroborating signals each raise it, with diminishing returns.
 */
export function confidenceFrom(prior: number, ceiling: number, strength: number): number {
  return round3(prior + (ceiling - prior) * (1 - Math.exp(-Math.max(0, strength))));
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
/** Blocking unknowns are stored and validated at 200 characters at most. */
const clip = (s: string) => (s.length <= 200 ? s : `${s.slice(0, 199)}…`);

/** Something of this type done in the last three days makes another one less likely to help. */
const RECENT_ACTIVITY_MS = 3 * 86_400_000;
const RECENTLY_DONE_FACTOR = 0.85;

/** At heat 1 a proposal ranks this much higher than the same proposal on a cold account. */
export const HEAT_RANK_WEIGHT = 0.25;

/**
 * Next-action ranking: confidence, posture urgency, and heat — among equally sure proposals, the
 * one on the hotter account comes first. Heat outside 0..1 (never stored) is clamped.
 */
/** An account at risk is more urgent: its proposals rank a little higher at equal confidence. */
const AT_RISK_URGENCY = 1.1;

/**
 * The rank of a proposal of this confidence for this account — the same for every synthesizer
 * (rules or a model), so the next-action list orders them on one scale.
 */
export function rankFor(confidence: number, input: Pick<SynthesisInput, "account" | "heat">): number {
  return rankScore(confidence, input.account.posture === "AT_RISK" ? AT_RISK_URGENCY : 1, input.heat?.score ?? 0);
}

export function rankScore(confidence: number, urgency: number, heat: number): number {
  return round3(confidence * urgency * (1 + HEAT_RANK_WEIGHT * Math.min(1, Math.max(0, heat))));
}

/** Ranked proposals, highest rank first, at most one per action type. */
export function synthesize(input: SynthesisInput, limit = 5): Proposal[] {
  const ctx: Ctx = { input, openOpportunities: input.opportunities.filter(OPEN) };
  const waiting = new Set(input.activity.filter((a) => a.status === "PENDING_APPROVAL").map((a) => a.actionType));
  const recentlyDone = new Set(
    input.activity
      .filter((a) => a.status === "SUCCEEDED" && input.now.getTime() - a.at.getTime() < RECENT_ACTIVITY_MS)
      .map((a) => a.actionType),
  );
  const byType = new Map<string, { draft: Draft; why: string[]; strength: number }>();
  const add = (d: Draft, why: string, strength: number) => {
    const prev = byType.get(d.actionType);
    // The newest evidence shapes the parameters (signals arrive newest first); every supporting
    // signal adds to the strength — corroboration.
    byType.set(d.actionType, {
      draft: prev?.draft ?? d,
      why: prev ? [...new Set([...prev.why, why])] : [why],
      strength: (prev?.strength ?? 0) + strength,
    });
  };
  const signals = [...input.signals].sort((x, y) => y.at.getTime() - x.at.getTime() || (x.id ?? "").localeCompare(y.id ?? ""));
  for (const s of signals) for (const d of RULES[s.type]?.(ctx, s) ?? []) add(d, s.type, evidenceWeight(s, input.now));
  for (const d of RITUALS[input.triggerType]?.(ctx) ?? []) add(d, input.triggerType, RITUAL_STRENGTH);

  const out: Proposal[] = [];
  for (const { draft, why, strength } of byType.values()) {
    // Already waiting for a human: a second copy would only add noise to the inbox.
    if (waiting.has(draft.actionType)) continue;
    const { prior, ceiling, ...rest } = draft;
    const confidence = round3(confidenceFrom(prior, ceiling, strength) * (recentlyDone.has(draft.actionType) ? RECENTLY_DONE_FACTOR : 1));
    out.push({ ...rest, why, confidence, rankScore: rankFor(confidence, input) });
  }
  return out.sort((x, y) => y.rankScore - x.rankScore || x.actionType.localeCompare(y.actionType)).slice(0, limit);
}

/** Every string in `parameters` (nested) that looks like an email address. */
export function addressesIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") {
    for (const m of value.matchAll(/[^\s<>"',;:()]+@[^\s<>"',;:()]+\.[^\s<>"',;:()]+/g)) out.push(m[0].toLowerCase());
  } else if (Array.isArray(value)) {
    for (const v of value) addressesIn(v, out);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) addressesIn(v, out);
  }
  return out;
}

/**
 * A proposal from elsewhere (the LLM) may name anyone. Any parameter carrying an address that is
 * not one of the account's contacts is dropped and becomes a blocking unknown, so an invented
 * recipient can never reach a connector — a human must pick a real one.
 */
export function enforceContactRecipients(p: Proposal, contacts: SynthesisContact[], accountName: string): Proposal {
  // Compared the way addresses are found, so an odd but real contact address still matches itself.
  const known = new Set(contacts.flatMap((c) => addressesIn(c.email ?? "")));
  const parameters: Record<string, unknown> = {};
  const unknowns: string[] = [];
  for (const [key, value] of Object.entries(p.parameters)) {
    const foreign = addressesIn(value).filter((a) => !known.has(a));
    if (foreign.length === 0) {
      parameters[key] = value;
      continue;
    }
    unknowns.push(clip(`"${key.slice(0, 40)}" named an address that is not one of ${accountName}'s contacts: choose a contact.`));
    if (Array.isArray(value)) {
      const kept = value.filter((v) => addressesIn(v).every((a) => known.has(a)));
      if (kept.length) parameters[key] = kept;
    }
  }
  if (unknowns.length === 0) return p;
  return { ...p, parameters, blockingUnknowns: [...new Set([...p.blockingUnknowns, ...unknowns])].slice(0, 10) };
}
