import { describe, expect, it } from "vitest";
import { readBudgetSettings, settleConsumption } from "@/server/engine/budget";

/** Stored budgets and the counter settlement, at their edges (mutation testing, issue 7). */
describe("reading a stored budget", () => {
  const row = (patch: Partial<{ maxPerDay: number; perTypeCaps: string; decayIfUnused: boolean }> = {}) => ({
    maxPerDay: 5,
    perTypeCaps: "{}",
    decayIfUnused: false,
    ...patch,
  });

  it("a zero budget is a real budget (autonomy off), and zero caps are caps", () => {
    expect(readBudgetSettings(row({ maxPerDay: 0, perTypeCaps: '{"SEND_EMAIL":0}' }))).toEqual({
      ok: true,
      settings: { maxPerDay: 0, perTypeCaps: { SEND_EMAIL: 0 }, decayIfUnused: false },
    });
  });

  it("fractions and negatives are not budgets; unparseable caps are reported as unreadable", () => {
    expect(readBudgetSettings(row({ maxPerDay: 1.5 }))).toEqual({ ok: false, problem: "the daily budget is not a whole number" });
    expect(readBudgetSettings(row({ maxPerDay: -1 }))).toEqual({ ok: false, problem: "the daily budget is not a whole number" });
    expect(readBudgetSettings(row({ perTypeCaps: '{"SEND_EMAIL":2.5}' }))).toEqual({
      ok: false,
      problem: "the per-action-type cap for SEND_EMAIL is not a whole number",
    });
    expect(readBudgetSettings(row({ perTypeCaps: "{broken" }))).toEqual({ ok: false, problem: "the per-action-type caps are unreadable" });
  });
});

describe("settling the conditional counter updates", () => {
  it("a type cap that refused (null) stops the action whatever the account counter says", () => {
    expect(settleConsumption({ accountCap: 5, typeCap: 2 }, null, 3)).toEqual({
      ok: false,
      scope: "ACTION_TYPE",
      cap: 2,
      refundType: false,
    });
    expect(settleConsumption({ accountCap: 5, typeCap: 2 }, undefined, 3)).toEqual({
      ok: false,
      scope: "ACTION_TYPE",
      cap: 2,
      refundType: false,
    });
  });

  it("an account counter that refused (null) or was not tried stops it, giving back the type unit taken", () => {
    expect(settleConsumption({ accountCap: 5, typeCap: 2 }, 1, null)).toEqual({ ok: false, scope: "ACCOUNT", cap: 5, refundType: true });
    expect(settleConsumption({ accountCap: 5, typeCap: null }, undefined, undefined)).toEqual({
      ok: false,
      scope: "ACCOUNT",
      cap: 5,
      refundType: false,
    });
    expect(settleConsumption({ accountCap: 5, typeCap: 2 }, 1, 4)).toEqual({ ok: true, cap: 5, consumed: 4, perType: 2 });
  });
});
