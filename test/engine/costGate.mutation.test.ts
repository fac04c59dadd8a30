import { describe, expect, it } from "vitest";
import { type CostGateInput, type CostGateSettings, DEFAULT_COST_GATE_SETTINGS, evaluateCostGate } from "@/server/engine/costGate";

/**
 * The cost gate's boundaries and the words a revenue-ops user reads in the run log: each check
 * holds exactly at its limit, and each verdict says why (mutation testing, issue 7).
 */
const t0 = new Date("2026-03-02T10:00:00Z");
const secondsAgo = (s: number) => new Date(t0.getTime() - s * 1000);
const settings = (patch: Partial<CostGateSettings> = {}): CostGateSettings => ({ ...DEFAULT_COST_GATE_SETTINGS, ...patch });
const gate = (patch: Partial<CostGateInput> = {}) =>
  evaluateCostGate({
    triggerType: "SIGNAL_ARRIVED",
    runsToday: 0,
    tokensToday: 0,
    estimatedTokens: 0,
    lastRunAt: null,
    openIntents: 0,
    newEvidence: 1,
    newSignificantEvidence: 1,
    // A WARM account: neither heat branch applies (they are pinned in "cost gate: heat" below).
    heat: { score: 0.5, tier: "WARM" },
    now: t0,
    settings: settings(),
    ...patch,
  });
const ALLOW = {
  result: "ALLOW",
  reason: "WORTH_RUNNING",
  explanation: "New evidence, within budget, and nothing waiting on it: worth a decision run.",
  retryAfterSeconds: null,
};

describe("cost gate: the defaults a workspace starts with", () => {
  it("500 runs a day, no token limit without an LLM, 2 minutes between runs, 6 open proposals, team tier", () => {
    expect(DEFAULT_COST_GATE_SETTINGS).toEqual({
      maxRunsPerDay: 500,
      maxTokensPerDay: null,
      minSecondsBetweenRuns: 120,
      maxOpenIntents: 6,
      tier: "TEAM",
    });
  });
});

describe("cost gate: daily run budget", () => {
  it("the last run of the day is allowed; the one after it is skipped with the budget named", () => {
    expect(gate({ runsToday: 499 })).toEqual(ALLOW);
    expect(gate({ runsToday: 500 })).toEqual({
      result: "SKIP",
      reason: "RUN_BUDGET_EXHAUSTED",
      explanation: "Today's 500 decision runs are used up.",
      retryAfterSeconds: null,
    });
    expect(gate({ runsToday: 3, settings: settings({ maxRunsPerDay: 3 }) }).explanation).toBe("Today's 3 decision runs are used up.");
  });

  it("an exhausted budget wins over every later check", () => {
    expect(gate({ runsToday: 500, lastRunAt: secondsAgo(1), openIntents: 99, newEvidence: 0 }).reason).toBe("RUN_BUDGET_EXHAUSTED");
  });
});

describe("cost gate: daily token budget", () => {
  const withTokens = settings({ maxTokensPerDay: 1000 });
  it("spends up to the limit exactly, counting this run's estimate on top of today's spend", () => {
    expect(gate({ settings: withTokens, tokensToday: 800, estimatedTokens: 200 })).toEqual(ALLOW);
    expect(gate({ settings: withTokens, tokensToday: 800, estimatedTokens: 201 })).toEqual({
      result: "SKIP",
      reason: "TOKEN_BUDGET_EXHAUSTED",
      explanation: "Today's model token budget (1000) would be exceeded.",
      retryAfterSeconds: null,
    });
    // Neither part alone exceeds the limit; together they do.
    expect(gate({ settings: withTokens, tokensToday: 600, estimatedTokens: 600 }).reason).toBe("TOKEN_BUDGET_EXHAUSTED");
  });

  it("without an LLM (no token limit) any token count is allowed", () => {
    expect(gate({ tokensToday: 10_000_000, estimatedTokens: 10_000_000 })).toEqual(ALLOW);
  });

  it("a zero token limit still admits a rules run that spends nothing", () => {
    expect(gate({ settings: settings({ maxTokensPerDay: 0 }) })).toEqual(ALLOW);
    expect(gate({ settings: settings({ maxTokensPerDay: 0 }), estimatedTokens: 1 }).reason).toBe("TOKEN_BUDGET_EXHAUSTED");
  });
});

describe("cost gate: too recent", () => {
  it("defers a run 30 s after the last one for the remaining 90 s, and says so", () => {
    expect(gate({ lastRunAt: secondsAgo(30) })).toEqual({
      result: "DEFER",
      reason: "TOO_RECENT",
      explanation: "The last run was 30 s ago; trying again in 90 s.",
      retryAfterSeconds: 90,
    });
  });

  it("rounds the wait up to whole seconds and the age to the nearest second", () => {
    expect(gate({ lastRunAt: secondsAgo(30.6) })).toMatchObject({
      explanation: "The last run was 31 s ago; trying again in 90 s.",
      retryAfterSeconds: 90,
    });
    expect(gate({ lastRunAt: secondsAgo(119.5) })).toMatchObject({ result: "DEFER", retryAfterSeconds: 1 });
  });

  it("exactly the minimum gap later the run is allowed", () => {
    expect(gate({ lastRunAt: secondsAgo(120) })).toEqual(ALLOW);
    expect(gate({ lastRunAt: secondsAgo(3600) })).toEqual(ALLOW);
  });

  it("a last run stamped in the future (clock skew) is not older than the gap", () => {
    expect(gate({ lastRunAt: secondsAgo(-10) })).toMatchObject({ result: "DEFER", retryAfterSeconds: 130 });
  });

  it("is checked before saturation and evidence", () => {
    expect(gate({ lastRunAt: secondsAgo(10), openIntents: 99, newEvidence: 0 }).reason).toBe("TOO_RECENT");
  });
});

describe("cost gate: action saturation", () => {
  it("five waiting proposals still allow a run; the sixth stops it, with the count", () => {
    expect(gate({ openIntents: 5 })).toEqual(ALLOW);
    expect(gate({ openIntents: 6 })).toEqual({
      result: "SKIP",
      reason: "ACTION_SATURATION",
      explanation: "6 proposals already wait on this account; another run would add noise.",
      retryAfterSeconds: null,
    });
  });

  it("is checked before evidence", () => {
    expect(gate({ openIntents: 6, newEvidence: 0 }).reason).toBe("ACTION_SATURATION");
  });
});

describe("cost gate: evidence", () => {
  it("a signal-driven run with nothing new is skipped", () => {
    expect(gate({ newEvidence: 0, newSignificantEvidence: 0 })).toEqual({
      result: "SKIP",
      reason: "NO_NEW_EVIDENCE",
      explanation: "Nothing new has arrived for this account since its last run.",
      retryAfterSeconds: null,
    });
    expect(gate({ triggerType: "POSTURE_CHANGE", newEvidence: 0 }).reason).toBe("NO_NEW_EVIDENCE");
  });

  it("every ritual runs on its schedule without new evidence, on every tier", () => {
    for (const triggerType of ["TIME_RITUAL_DAILY_BRIEF", "TIME_RITUAL_WEEKLY_REVIEW", "TIME_RITUAL_RENEWAL_RUNWAY"]) {
      expect(gate({ triggerType, newEvidence: 0, newSignificantEvidence: 0 })).toEqual(ALLOW);
      expect(gate({ triggerType, newEvidence: 0, newSignificantEvidence: 0, settings: settings({ tier: "FREE" }) })).toEqual(ALLOW);
    }
  });

  it("a ritual is recognised by its prefix, not by the words appearing anywhere", () => {
    expect(gate({ triggerType: "NOT_TIME_RITUAL_DAILY_BRIEF", newEvidence: 0 }).reason).toBe("NO_NEW_EVIDENCE");
  });

  it("on the free tier only low-severity news is left to the rituals", () => {
    const free = settings({ tier: "FREE" });
    expect(gate({ settings: free, newEvidence: 3, newSignificantEvidence: 0 })).toEqual({
      result: "SKIP",
      reason: "LOW_MARGINAL_VALUE",
      explanation: "On the free tier, only low-severity news arrived: the scheduled rituals will review it.",
      retryAfterSeconds: null,
    });
    expect(gate({ settings: free, newEvidence: 3, newSignificantEvidence: 1 })).toEqual(ALLOW);
    // Paid tiers run on low-severity news too.
    expect(gate({ settings: settings({ tier: "TEAM" }), newEvidence: 3, newSignificantEvidence: 0 })).toEqual(ALLOW);
    expect(gate({ settings: settings({ tier: "ENTERPRISE" }), newEvidence: 3, newSignificantEvidence: 0 })).toEqual(ALLOW);
    // A ritual with some low-severity news runs on the free tier.
    expect(gate({ settings: free, triggerType: "TIME_RITUAL_WEEKLY_REVIEW", newEvidence: 2, newSignificantEvidence: 0 })).toEqual(ALLOW);
  });
});

describe("cost gate: heat (the `heat` job's score and tier)", () => {
  const cold = { score: 0.1, tier: "COLD" } as const;
  const hot = { score: 0.9, tier: "HOT" } as const;

  it("a COLD account with only low-severity news is not worth a run, on every tenant tier; the verdict names the heat", () => {
    for (const tier of ["TEAM", "ENTERPRISE"] as const) {
      expect(gate({ heat: cold, newEvidence: 3, newSignificantEvidence: 0, settings: settings({ tier }) })).toEqual({
        result: "SKIP",
        reason: "LOW_MARGINAL_VALUE",
        explanation: "The account is COLD (heat 0.10) and only low-severity news arrived: the scheduled rituals will review it.",
        retryAfterSeconds: null,
      });
    }
    // One significant signal makes it worth a run even when COLD.
    expect(gate({ heat: cold, newEvidence: 3, newSignificantEvidence: 1 })).toEqual(ALLOW);
    // WARM and HOT accounts run on low-severity news.
    expect(gate({ heat: { score: 0.5, tier: "WARM" }, newEvidence: 3, newSignificantEvidence: 0 })).toEqual(ALLOW);
    expect(gate({ heat: hot, newEvidence: 3, newSignificantEvidence: 0 })).toEqual(ALLOW);
    // Rituals run on their schedule whatever the heat.
    expect(gate({ heat: cold, triggerType: "TIME_RITUAL_DAILY_BRIEF", newEvidence: 2, newSignificantEvidence: 0 })).toEqual(ALLOW);
    // Nothing new at all is still NO_NEW_EVIDENCE, checked first.
    expect(gate({ heat: cold, newEvidence: 0, newSignificantEvidence: 0 }).reason).toBe("NO_NEW_EVIDENCE");
  });

  it("a HOT account may run again after half the usual gap; exactly at it, it runs", () => {
    // Default gap 120 s: a HOT account waits 60 s, others the full 120 s.
    expect(gate({ heat: hot, lastRunAt: secondsAgo(60) })).toEqual(ALLOW);
    expect(gate({ heat: hot, lastRunAt: secondsAgo(59) })).toEqual({
      result: "DEFER",
      reason: "TOO_RECENT",
      explanation: "The last run was 59 s ago; trying again in 1 s (sooner: the account is HOT).",
      retryAfterSeconds: 1,
    });
    expect(gate({ heat: { score: 0.6, tier: "WARM" }, lastRunAt: secondsAgo(60) })).toEqual({
      result: "DEFER",
      reason: "TOO_RECENT",
      explanation: "The last run was 60 s ago; trying again in 60 s.",
      retryAfterSeconds: 60,
    });
    expect(gate({ heat: cold, lastRunAt: secondsAgo(119) }).retryAfterSeconds).toBe(1);
    // An odd gap rounds up: 45 s → a HOT account waits 23 s.
    expect(gate({ heat: hot, lastRunAt: secondsAgo(22), settings: settings({ minSecondsBetweenRuns: 45 }) }).retryAfterSeconds).toBe(1);
    expect(gate({ heat: hot, lastRunAt: secondsAgo(23), settings: settings({ minSecondsBetweenRuns: 45 }) })).toEqual(ALLOW);
  });
});
