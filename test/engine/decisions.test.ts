import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_COST_GATE_SETTINGS, evaluateCostGate } from "@/server/engine/costGate";
import { decideFire, onTriggerEvent, DEFAULT_TRIGGER_SETTINGS as S, type TriggerWindow } from "@/server/engine/triggers";

const t0 = new Date("2026-03-02T10:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const idle = { accountLastRunAt: null, accountRunsThisHour: 0, tenantRunsThisHour: 0 };

describe("triggers: debounce with a maximum wait", () => {
  it("a burst coalesces into one window that fires after the quiet period", () => {
    let w: TriggerWindow | null = null;
    for (const s of [0, 5, 10, 20]) w = onTriggerEvent(w, "SIGNAL_ARRIVED", at(s), S).window;
    expect(w?.events).toBe(4);
    expect(decideFire(w as TriggerWindow, "SIGNAL_ARRIVED", at(79), idle, S)).toEqual({ kind: "WAIT", until: at(80) });
    expect(decideFire(w as TriggerWindow, "SIGNAL_ARRIVED", at(80), idle, S)).toEqual({
      kind: "FIRE",
      caps: { account: S.perAccountHourlyCap, tenant: S.perTenantHourlyCap },
      hourKey: at(80).toISOString().slice(0, 13),
    });
  });

  it("a steady drizzle cannot postpone the run past maxWait", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 59 }), { minLength: 1, maxLength: 200 }), (gaps) => {
        let w: TriggerWindow | null = null;
        let t = 0;
        let due = at(0);
        for (const g of gaps) {
          const out = onTriggerEvent(w, "SIGNAL_ARRIVED", at(t), S);
          w = out.window;
          due = out.fireAt;
          t += g;
        }
        expect(due.getTime()).toBeLessThanOrEqual(at(S.maxWaitSeconds.SIGNAL_ARRIVED).getTime());
      }),
    );
  });

  it("cooldown and hourly caps suppress with their reason", () => {
    const w = onTriggerEvent(null, "POSTURE_CHANGE", at(0), S).window;
    expect(decideFire(w, "POSTURE_CHANGE", at(60), { ...idle, accountLastRunAt: at(0) }, S)).toMatchObject({
      kind: "SUPPRESS",
      reason: "COOLDOWN",
      retryAt: at(600),
    });
    expect(decideFire(w, "POSTURE_CHANGE", at(60), { ...idle, accountRunsThisHour: S.perAccountHourlyCap }, S)).toMatchObject({
      kind: "SUPPRESS",
      reason: "HOURLY_CAP",
    });
    expect(decideFire(w, "POSTURE_CHANGE", at(60), { ...idle, tenantRunsThisHour: S.perTenantHourlyCap }, S)).toMatchObject({
      kind: "SUPPRESS",
      reason: "HOURLY_CAP",
    });
  });
});

describe("cost gate", () => {
  const base = {
    triggerType: "SIGNAL_ARRIVED",
    runsToday: 0,
    tokensToday: 0,
    estimatedTokens: 0,
    lastRunAt: null,
    openIntents: 0,
    newEvidence: 2,
    newSignificantEvidence: 1,
    heat: { score: 0.5, tier: "WARM" as const },
    now: t0,
    settings: DEFAULT_COST_GATE_SETTINGS,
  };
  it.each([
    [{}, "ALLOW", "WORTH_RUNNING"],
    [{ runsToday: 500 }, "SKIP", "RUN_BUDGET_EXHAUSTED"],
    [
      { settings: { ...DEFAULT_COST_GATE_SETTINGS, maxTokensPerDay: 1000 }, tokensToday: 900, estimatedTokens: 200 },
      "SKIP",
      "TOKEN_BUDGET_EXHAUSTED",
    ],
    [{ lastRunAt: at(-30) }, "DEFER", "TOO_RECENT"],
    [{ openIntents: 6 }, "SKIP", "ACTION_SATURATION"],
    [{ newEvidence: 0 }, "SKIP", "NO_NEW_EVIDENCE"],
    [{ newEvidence: 0, triggerType: "TIME_RITUAL_DAILY_BRIEF" }, "ALLOW", "WORTH_RUNNING"],
    [{ newSignificantEvidence: 0, settings: { ...DEFAULT_COST_GATE_SETTINGS, tier: "FREE" as const } }, "SKIP", "LOW_MARGINAL_VALUE"],
    [{ settings: { ...DEFAULT_COST_GATE_SETTINGS, tier: "FREE" as const } }, "ALLOW", "WORTH_RUNNING"],
    [{ newSignificantEvidence: 0 }, "ALLOW", "WORTH_RUNNING"],
    [{ newSignificantEvidence: 0, heat: { score: 0, tier: "COLD" as const } }, "SKIP", "LOW_MARGINAL_VALUE"],
    [{ lastRunAt: at(-70), heat: { score: 0.9, tier: "HOT" as const } }, "ALLOW", "WORTH_RUNNING"],
  ])("%j → %s %s", (patch, result, reason) => {
    const v = evaluateCostGate({ ...base, ...patch });
    expect(v.result).toBe(result);
    expect(v.reason).toBe(reason);
    expect(v.explanation.length).toBeGreaterThan(10);
    if (result === "DEFER") expect(v.retryAfterSeconds).toBe(90);
    else expect(v.retryAfterSeconds).toBeNull();
  });
});
