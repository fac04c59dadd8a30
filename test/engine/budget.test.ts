import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NO_BUDGET, planConsumption, readBudgetSettings, settleConsumption, typeCap } from "@/server/engine/budget";

describe("budget rules (engine)", () => {
  it("stored settings: a readable cap map is read; anything else is reported, never read as 'no caps'", () => {
    expect(readBudgetSettings(null)).toEqual({ ok: true, settings: NO_BUDGET });
    expect(readBudgetSettings({ maxPerDay: 3, perTypeCaps: '{"FLAG_FOR_REVIEW":1}', decayIfUnused: false })).toEqual({
      ok: true,
      settings: { maxPerDay: 3, perTypeCaps: { FLAG_FOR_REVIEW: 1 }, decayIfUnused: false },
    });
    for (const bad of ["{not json", "[]", "null", "7", '"x"', '{"A":-1}', '{"A":1.5}', '{"A":"2"}', '{"A":null}'])
      expect(readBudgetSettings({ maxPerDay: 3, perTypeCaps: bad, decayIfUnused: false })).toMatchObject({ ok: false });
    expect(readBudgetSettings({ maxPerDay: -1, perTypeCaps: "{}", decayIfUnused: false })).toMatchObject({ ok: false });
  });

  it("any text: readBudgetSettings never throws, and what it accepts only holds whole, non-negative caps", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), fc.integer({ min: -5, max: 50 }), (text, max) => {
        const r = readBudgetSettings({ maxPerDay: max, perTypeCaps: text, decayIfUnused: false });
        if (r.ok) {
          expect(Number.isInteger(r.settings.maxPerDay) && r.settings.maxPerDay >= 0).toBe(true);
          for (const v of Object.values(r.settings.perTypeCaps)) expect(Number.isInteger(v) && v >= 0).toBe(true);
        } else expect(r.problem.length).toBeGreaterThan(0);
      }),
    );
  });

  it("a type named like an Object.prototype member has no cap", () => {
    expect(typeCap({ maxPerDay: 1, perTypeCaps: {}, decayIfUnused: false }, "constructor")).toBeNull();
    expect(typeCap({ maxPerDay: 1, perTypeCaps: {}, decayIfUnused: false }, "toString")).toBeNull();
  });

  it("settling: exhausted per type takes nothing; exhausted per account gives the type unit back; otherwise ok", () => {
    const stats = { typeExhausted: 0, accountExhaustedRefund: 0, accountExhaustedNoType: 0, ok: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.option(fc.integer({ min: 0, max: 10 })),
        fc.option(fc.integer({ min: 1, max: 10 })),
        fc.option(fc.integer({ min: 1, max: 10 })),
        (max, cap, typeResult, accountResult) => {
          const plan = planConsumption({ maxPerDay: max, perTypeCaps: cap === null ? {} : { X: cap }, decayIfUnused: false }, "X", 0);
          expect(plan).toEqual({ accountCap: max, typeCap: cap });
          const typeConsumed = cap === null ? undefined : typeResult;
          const out = settleConsumption(plan, typeConsumed, accountResult);
          if (cap !== null && typeResult === null) {
            stats.typeExhausted++;
            expect(out).toEqual({ ok: false, scope: "ACTION_TYPE", cap, refundType: false });
          } else if (accountResult === null) {
            if (cap === null) stats.accountExhaustedNoType++;
            else stats.accountExhaustedRefund++;
            expect(out).toEqual({ ok: false, scope: "ACCOUNT", cap: max, refundType: cap !== null });
          } else {
            stats.ok++;
            expect(out).toEqual({ ok: true, cap: max, consumed: accountResult, perType: cap });
          }
        },
      ),
      { numRuns: 300 },
    );
    // Every branch the property claims was reached.
    for (const [branch, n] of Object.entries(stats)) expect(n, branch).toBeGreaterThan(0);
  });

  it("decay: an account that used nothing over seven days gets half its cap, rounded up", () => {
    expect(planConsumption({ maxPerDay: 5, perTypeCaps: {}, decayIfUnused: true }, "X", 0).accountCap).toBe(3);
    expect(planConsumption({ maxPerDay: 5, perTypeCaps: {}, decayIfUnused: true }, "X", 1).accountCap).toBe(5);
  });
});
