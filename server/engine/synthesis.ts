import type { ActionType, RiskLevel } from "./actions";

/**
 * The default decision synthesizer: deterministic rules from signals, posture and lifecycle to
 * ranked proposals, each with its `why`, confidence, risk and blocking unknowns. It only
 * proposes; the gate decides. An optional LLM synthesizer produces the same shape.
 */
export interface SynthesisSignal {
  type: string;
  severity: string;
  evidence: Record<string, unknown>;
  at: Date;
}

export interface SynthesisInput {
  account: { name: string; domain: string | null; lifecycle: string; posture: string; momentum: string };
  signals: SynthesisSignal[];
  triggerType: string;
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

const SEVERITY_WEIGHT: Record<string, number> = { low: 0.85, medium: 0.95, high: 1.05, critical: 1.1 };

const host = (a: SynthesisInput["account"]) => a.domain ?? `${a.name.toLowerCase().replace(/[^a-z]+/g, "")}.example`;

const RULES: Record<string, (a: SynthesisInput["account"], s: SynthesisSignal) => Omit<Proposal, "why" | "rankScore">[]> = {
  SUPPORT_RISK_EMERGING: (a) => [
    {
      actionType: "FLAG_FOR_REVIEW",
      riskLevel: "LOW",
      confidence: 0.91,
      parameters: { reason: `Open P1 tickets at ${a.name}` },
      blockingUnknowns: [],
    },
    {
      actionType: "SEND_EMAIL",
      riskLevel: "HIGH",
      confidence: 0.72,
      parameters: {
        to: `it.director@${host(a)}`,
        subject: "Your open support tickets",
        body: `Hi — I saw the open priority tickets at ${a.name}. Our support lead is on it; can we find 15 minutes this week?`,
      },
      blockingUnknowns: [],
    },
  ],
  RENEWAL_WINDOW_ENTERED: (a) => [
    {
      actionType: "GENERATE_MEETING_BRIEF",
      riskLevel: "LOW",
      confidence: 0.88,
      parameters: { title: `Renewal prep — ${a.name}`, agenda: ["Usage review", "Expansion options", "Commercial terms"] },
      blockingUnknowns: [],
    },
    {
      actionType: "REQUEST_RENEWAL_MEETING",
      riskLevel: "HIGH",
      confidence: 0.81,
      parameters: { contact: `cfo@${host(a)}`, proposed_slots: ["Tue 10:00", "Thu 15:00"] },
      blockingUnknowns: [],
    },
  ],
  STAKEHOLDER_GAP_DETECTED: (a) => [
    {
      actionType: "REQUEST_STAKEHOLDER_INTRO",
      riskLevel: "HIGH",
      confidence: 0.67,
      parameters: { via: `champion@${host(a)}`, role: "Economic buyer" },
      blockingUnknowns: [],
    },
  ],
  DISCOVERY_PROGRESS_STALLED: (a) => [
    {
      actionType: "CREATE_INTERNAL_TASK",
      riskLevel: "LOW",
      confidence: 0.86,
      parameters: { title: `Unblock discovery at ${a.name}`, due_in_days: 3 },
      blockingUnknowns: [],
    },
  ],
  USAGE_TREND_CHANGE: (a, s) => {
    const change = Number(s.evidence.change_pct ?? 0);
    const out: Omit<Proposal, "why" | "rankScore">[] = [
      {
        actionType: "ANALYZE_USAGE_PATTERNS",
        riskLevel: "MINIMAL",
        confidence: 0.93,
        parameters: { window_days: 30 },
        blockingUnknowns: [],
      },
    ];
    if (change <= -15 && a.posture !== "AT_RISK") {
      out.push({
        actionType: "UPDATE_ACCOUNT_FIELDS",
        riskLevel: "MEDIUM",
        confidence: 0.78,
        parameters: { fields: { posture: "WATCH" }, note: `Usage down ${-change}%` },
        blockingUnknowns: [],
      });
    }
    return out;
  },
  NO_ENGAGEMENT_PRESENT: (a) => [
    {
      actionType: "DRAFT_EMAIL",
      riskLevel: "LOW",
      confidence: 0.64,
      parameters: { to: `ops@${host(a)}`, subject: "Checking in", body: "It has been a while — anything we can help with this quarter?" },
      blockingUnknowns: [],
    },
  ],
  FIRST_ENGAGEMENT_OCCURRED: (a) => [
    {
      actionType: "CREATE_INTERNAL_NOTE",
      riskLevel: "LOW",
      confidence: 0.9,
      parameters: { body: `First engagement from ${a.name}: follow up within 48 hours.` },
      blockingUnknowns: [],
    },
    {
      actionType: "REQUEST_DISCOVERY_CALL",
      riskLevel: "HIGH",
      confidence: 0.74,
      parameters: { contact: `vp.sales@${host(a)}` },
      blockingUnknowns: [],
    },
  ],
  ACCOUNT_ACTIVATION_DETECTED: (a) => [
    { actionType: "FETCH_ACCOUNT_NEWS", riskLevel: "MINIMAL", confidence: 0.95, parameters: { query: a.name }, blockingUnknowns: [] },
    {
      actionType: "CHANGE_DISCOUNT",
      riskLevel: "HIGH",
      confidence: 0.55,
      parameters: { discount_pct: 12 },
      blockingUnknowns: ["budget holder"],
    },
  ],
};

const RITUALS: Record<string, (a: SynthesisInput["account"]) => Omit<Proposal, "why" | "rankScore">[]> = {
  TIME_RITUAL_DAILY_BRIEF: (a) => [
    {
      actionType: "CREATE_INTERNAL_NOTE",
      riskLevel: "LOW",
      confidence: 0.9,
      parameters: { body: `Daily brief for ${a.name}: posture ${a.posture.toLowerCase()}, momentum ${a.momentum.toLowerCase()}.` },
      blockingUnknowns: [],
    },
  ],
  TIME_RITUAL_WEEKLY_REVIEW: (a) => [
    {
      actionType: "CREATE_INTERNAL_TASK",
      riskLevel: "LOW",
      confidence: 0.85,
      parameters: { title: `Weekly review: ${a.name}`, due_in_days: 2 },
      blockingUnknowns: [],
    },
  ],
  TIME_RITUAL_RENEWAL_RUNWAY: (a) =>
    a.lifecycle === "CUSTOMER"
      ? [
          {
            actionType: "GENERATE_MEETING_BRIEF",
            riskLevel: "LOW",
            confidence: 0.87,
            parameters: { title: `Renewal runway — ${a.name}` },
            blockingUnknowns: [],
          },
        ]
      : [],
};

/** Ranked proposals, highest rank first, at most one per action type. */
export function synthesize(input: SynthesisInput, limit = 5): Proposal[] {
  const byType = new Map<string, Proposal>();
  const add = (p: Omit<Proposal, "why" | "rankScore">, why: string[], weight: number) => {
    const rankScore = Math.round(p.confidence * weight * 1000) / 1000;
    const prev = byType.get(p.actionType);
    if (!prev || prev.rankScore < rankScore)
      byType.set(p.actionType, { ...p, why: [...new Set([...(prev?.why ?? []), ...why])], rankScore });
  };
  // Newest signals first: the most recent evidence shapes the proposal.
  const signals = [...input.signals].sort((x, y) => y.at.getTime() - x.at.getTime());
  for (const s of signals) for (const p of RULES[s.type]?.(input.account, s) ?? []) add(p, [s.type], SEVERITY_WEIGHT[s.severity] ?? 1);
  for (const p of RITUALS[input.triggerType]?.(input.account) ?? []) add(p, [input.triggerType], 1);
  if (input.account.posture === "AT_RISK") {
    for (const p of byType.values()) p.rankScore = Math.round(p.rankScore * 1.1 * 1000) / 1000;
  }
  return [...byType.values()].sort((x, y) => y.rankScore - x.rankScore || x.actionType.localeCompare(y.actionType)).slice(0, limit);
}
