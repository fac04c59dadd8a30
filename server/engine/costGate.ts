import type { HeatTier } from "./heat";

/**
 * The decision cost gate (SPEC §4.3): before any decision synthesis, is a run worth its cost?
 * Pure: ALLOW | DEFER (retry once, after retry_after_seconds) | SKIP (final for this cycle).
 * The account's heat (computed by the `heat` job, SPEC §4.4) shifts the marginal value: a HOT
 * account is worth running again sooner; a COLD one is not worth a run for low-severity news.
 */
export const COST_GATE_RESULTS = ["ALLOW", "DEFER", "SKIP"] as const;
export type CostGateResult = (typeof COST_GATE_RESULTS)[number];

export const COST_GATE_REASONS = [
  "RUN_BUDGET_EXHAUSTED",
  "TOKEN_BUDGET_EXHAUSTED",
  "TOO_RECENT",
  "ACTION_SATURATION",
  "NO_NEW_EVIDENCE",
  "LOW_MARGINAL_VALUE",
  "WORTH_RUNNING",
] as const;
export type CostGateReason = (typeof COST_GATE_REASONS)[number];

export const TENANT_TIERS = ["FREE", "TEAM", "ENTERPRISE"] as const;
export type TenantTier = (typeof TENANT_TIERS)[number];

export interface CostGateSettings {
  maxRunsPerDay: number;
  /** null when no LLM is configured: token spend is then not a constraint */
  maxTokensPerDay: number | null;
  /** a run closer than this to the previous one is deferred */
  minSecondsBetweenRuns: number;
  /** open (pending) intents on an account at which new runs stop adding value */
  maxOpenIntents: number;
  tier: TenantTier;
}

export const DEFAULT_COST_GATE_SETTINGS: CostGateSettings = {
  maxRunsPerDay: 500,
  maxTokensPerDay: null,
  minSecondsBetweenRuns: 120,
  maxOpenIntents: 6,
  tier: "TEAM",
};

export interface CostGateInput {
  triggerType: string;
  runsToday: number;
  tokensToday: number;
  /** estimated tokens of this run when an LLM synthesizes (0 for the rules engine) */
  estimatedTokens: number;
  lastRunAt: Date | null;
  openIntents: number;
  /** signals for the account since its last run */
  newEvidence: number;
  /** of those, the ones above low severity */
  newSignificantEvidence: number;
  /** the account's heat as the `heat` job last computed it (no row yet: COLD, 0). Heat sums up
   * the account's recent evidence and posture, so it weighs the value of new evidence: */
  heat: { score: number; tier: HeatTier };
  now: Date;
  settings: CostGateSettings;
}

export interface CostGateVerdict {
  result: CostGateResult;
  reason: CostGateReason;
  explanation: string;
  retryAfterSeconds: number | null;
}

const RITUAL = /^TIME_RITUAL_/;
/** A HOT account may run again after this share of the usual gap between runs. */
export const HOT_GAP_FACTOR = 0.5;

export function evaluateCostGate(i: CostGateInput): CostGateVerdict {
  const s = i.settings;
  if (i.runsToday >= s.maxRunsPerDay) {
    return skip("RUN_BUDGET_EXHAUSTED", `Today's ${s.maxRunsPerDay} decision runs are used up.`);
  }
  if (s.maxTokensPerDay !== null && i.tokensToday + i.estimatedTokens > s.maxTokensPerDay) {
    return skip("TOKEN_BUDGET_EXHAUSTED", `Today's model token budget (${s.maxTokensPerDay}) would be exceeded.`);
  }
  if (i.lastRunAt) {
    const since = (i.now.getTime() - i.lastRunAt.getTime()) / 1000;
    const hot = i.heat.tier === "HOT";
    const minGap = hot ? Math.ceil(s.minSecondsBetweenRuns * HOT_GAP_FACTOR) : s.minSecondsBetweenRuns;
    if (since < minGap) {
      const wait = Math.ceil(minGap - since);
      return {
        result: "DEFER",
        reason: "TOO_RECENT",
        explanation: `The last run was ${Math.round(since)} s ago; trying again in ${wait} s${hot ? " (sooner: the account is HOT)" : ""}.`,
        retryAfterSeconds: wait,
      };
    }
  }
  if (i.openIntents >= s.maxOpenIntents) {
    return skip("ACTION_SATURATION", `${i.openIntents} proposals already wait on this account; another run would add noise.`);
  }
  // Rituals run on their schedule; signal-driven runs need something new to think about.
  if (!RITUAL.test(i.triggerType) && i.newEvidence === 0) {
    return skip("NO_NEW_EVIDENCE", "Nothing new has arrived for this account since its last run.");
  }
  if (s.tier === "FREE" && i.newSignificantEvidence === 0 && !RITUAL.test(i.triggerType)) {
    return skip("LOW_MARGINAL_VALUE", "On the free tier, only low-severity news arrived: the scheduled rituals will review it.");
  }
  if (i.heat.tier === "COLD" && i.newSignificantEvidence === 0 && !RITUAL.test(i.triggerType)) {
    return skip(
      "LOW_MARGINAL_VALUE",
      `The account is COLD (heat ${i.heat.score.toFixed(2)}) and only low-severity news arrived: the scheduled rituals will review it.`,
    );
  }
  return {
    result: "ALLOW",
    reason: "WORTH_RUNNING",
    explanation: "New evidence, within budget, and nothing waiting on it: worth a decision run.",
    retryAfterSeconds: null,
  };
}

function skip(reason: CostGateReason, explanation: string): CostGateVerdict {
  return { result: "SKIP", reason, explanation, retryAfterSeconds: null };
}
