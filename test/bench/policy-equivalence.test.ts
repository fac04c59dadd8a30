import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CEDAR_CLAUSES, CEDAR_POLICIES, checkPolicyEquivalence, f64Key, policyCorpus } from "@/bench/policy";
import { ACTION_TYPE_NAMES, ACTION_TYPES, riskAtMost } from "@/server/engine/actions";
import { AUTONOMY_MODES } from "@/server/engine/autonomy";

/**
 * CI proof that the Cedar policy set the gate benchmark times against (bench/policy.ts) is the same
 * policy as server/engine/policy.ts on the benchmark's corpus — no timing here.
 */
describe("gate benchmark: Cedar policy set ≡ evaluatePolicy", () => {
  const corpus = policyCorpus();

  it("the corpus is deterministic and covers the input space", () => {
    expect(policyCorpus()).toEqual(corpus);
    const types = new Set(corpus.map((i) => i.actionType));
    for (const t of ACTION_TYPE_NAMES) expect(types, t).toContain(t);
    expect([...types].some((t) => !Object.hasOwn(ACTION_TYPES, t))).toBe(true);
    const modes = new Set(corpus.map((i) => i.mode));
    for (const m of AUTONOMY_MODES) expect(modes, m).toContain(m);
    expect(new Set(corpus.map((i) => i.killSwitch === null))).toEqual(new Set([true, false]));
    expect(new Set(corpus.map((i) => i.allowlisted))).toEqual(new Set([true, false]));
    expect(corpus.some((i) => Number.isNaN(i.confidence))).toBe(true);
    expect(corpus.some((i) => i.blockingUnknowns.length > 0)).toBe(true);
  });

  it("agrees on every input: allow ⇔ AUTO_EXECUTE, determining policies = clauses that applied, same deciding clause", () => {
    const s = checkPolicyEquivalence(corpus); // throws with the offending input on any mismatch
    expect(s.inputs).toBe(corpus.length);
    expect(s.allowed / s.inputs).toBeGreaterThan(0.05);
    // every Cedar policy is exercised…
    for (const { id } of CEDAR_CLAUSES) expect(s.fired[id] ?? 0, id).toBeGreaterThan(0);
    // …and every clause decides somewhere, except P10 while the registry makes it unreachable as the
    // first firing clause (every never-autonomous type is also MEDIUM/HIGH risk, so P8/P9 fire first)
    const p10CanDecide = ACTION_TYPE_NAMES.some((n) => {
      const t = ACTION_TYPES[n];
      return !t.mayAutoExecute && !t.externalContact && riskAtMost(t.risk, "LOW");
    });
    for (const { id } of CEDAR_CLAUSES) {
      if (id === "P10.never-autonomous" && !p10CanDecide) continue;
      expect(s.decidedBy[id] ?? 0, id).toBeGreaterThan(0);
    }
  });

  it("catches a Cedar set that differs from ours (the check has teeth)", () => {
    const mutants: Record<string, Record<string, string>> = {
      "≤ instead of < on the threshold": {
        ...CEDAR_POLICIES,
        "P12.confidence": (CEDAR_POLICIES["P12.confidence"] ?? "").replace("Lo < context.minConfidenceLo", "Lo <= context.minConfidenceLo"),
      },
      "unreadable proposed risk not treated as HIGH": {
        ...CEDAR_POLICIES,
        "P8.risk-high": (CEDAR_POLICIES["P8.risk-high"] ?? "").replace(
          /\|\|\s*!\(context\.riskLevel[^)]*\)/,
          '|| context.riskLevel == "HIGH"',
        ),
      },
      "a clause missing": Object.fromEntries(Object.entries(CEDAR_POLICIES).filter(([id]) => id !== "P6.mode-approval-required")),
    };
    for (const [name, policies] of Object.entries(mutants)) {
      expect(policies, name).not.toEqual(CEDAR_POLICIES);
      expect(() => checkPolicyEquivalence(corpus, policies), name).toThrow(/NOT equivalent/);
    }
  });

  it("f64Key orders doubles exactly like JS comparison (what Cedar compares instead of floats)", () => {
    const cmp = (a: number, b: number) => {
      const x = f64Key(a);
      const y = f64Key(b);
      return x.hi !== y.hi ? Math.sign(x.hi - y.hi) : Math.sign(x.lo - y.lo);
    };
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ noNaN: true, noDefaultInfinity: true }), (a, b) => {
        expect(cmp(a, b)).toBe(a < b ? -1 : a > b ? 1 : 0);
        const k = f64Key(a);
        expect(Number.isSafeInteger(k.hi) && Number.isSafeInteger(k.lo) && k.lo >= 0 && k.lo < 2 ** 32).toBe(true);
      }),
      { numRuns: 5000 },
    );
    expect(cmp(-0, 0)).toBe(0);
    expect(cmp(0.8, 0.8000000000000002)).toBe(-1);
  });
});
