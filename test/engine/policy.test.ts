import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTION_TYPE_NAMES, ACTION_TYPES, RISK_LEVELS } from "@/server/engine/actions";
import { AUTONOMY_MODES, activeKillSwitch, isAllowlisted, resolveMode } from "@/server/engine/autonomy";
import { effectiveDailyCap, utcDateKey } from "@/server/engine/budget";
import { evaluatePolicy, type PolicyInput, REASON_CODES } from "@/server/engine/policy";

const thresholds = { minConfidence: 0.75, prospectMinConfidence: 0.85, version: 1 };

const inputArb: fc.Arbitrary<PolicyInput> = fc.record({
  actionType: fc.oneof(fc.constantFrom(...ACTION_TYPE_NAMES), fc.string({ maxLength: 20 })),
  confidence: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(Number.NaN, -1, 2, Number.POSITIVE_INFINITY)),
  riskLevel: fc.oneof(fc.constantFrom(...RISK_LEVELS), fc.string({ maxLength: 8 })),
  lifecycle: fc.constantFrom("PROSPECT", "SUSPECT", "CUSTOMER", "???"),
  mode: fc.constantFrom(...AUTONOMY_MODES),
  allowlisted: fc.boolean(),
  blockingUnknowns: fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 3 }),
  killSwitch: fc.option(
    fc.record({ scope: fc.constantFrom("GLOBAL", "TENANT", "ACTION_TYPE", "CONNECTOR"), key: fc.string(), reason: fc.string() }),
    { nil: null },
  ),
  thresholds: fc.record({
    minConfidence: fc.double({ min: 0, max: 1, noNaN: true }),
    prospectMinConfidence: fc.double({ min: 0, max: 1, noNaN: true }),
    version: fc.integer({ min: 1, max: 99 }),
  }),
});

describe("evaluatePolicy (properties)", () => {
  it("is deterministic: the same input always gives the same output", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        expect(evaluatePolicy(structuredClone(input))).toEqual(evaluatePolicy(input));
      }),
      { numRuns: 2000 },
    );
  });

  it("never auto-executes a HIGH-risk, external-contact, non-allowlisted, unknown or killed action", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const out = evaluatePolicy(input);
        const spec = (ACTION_TYPES as Record<string, (typeof ACTION_TYPES)[keyof typeof ACTION_TYPES]>)[input.actionType];
        if (out.decision !== "AUTO_EXECUTE") return;
        expect(spec).toBeDefined();
        expect(spec?.externalContact).toBe(false);
        expect(spec?.risk).not.toBe("HIGH");
        expect(spec?.risk).not.toBe("MEDIUM");
        expect(["MINIMAL", "LOW"]).toContain(input.riskLevel);
        expect(input.allowlisted).toBe(true);
        expect(input.mode).toBe("AUTO_EXECUTE");
        expect(input.killSwitch).toBeNull();
        expect(input.blockingUnknowns).toHaveLength(0);
      }),
      { numRuns: 5000 },
    );
  });

  it("always gives a closed-enum reason, a sentence, a version and a clause", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const out = evaluatePolicy(input);
        expect(REASON_CODES).toContain(out.reason);
        expect(out.explanation.length).toBeGreaterThan(10);
        expect(out.policyVersion).toMatch(/^autopilot-policy\/1\+tenant\.\d+$/);
        expect(out.clauses[0]).toBe(out.policyClause);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("evaluatePolicy (examples)", () => {
  const base: PolicyInput = {
    actionType: "CREATE_INTERNAL_TASK",
    confidence: 0.9,
    riskLevel: "LOW",
    lifecycle: "CUSTOMER",
    mode: "AUTO_EXECUTE",
    allowlisted: true,
    blockingUnknowns: [],
    killSwitch: null,
    thresholds,
  };
  it.each([
    [{}, "AUTO_EXECUTE", "POLICY_SATISFIED"],
    [{ actionType: "LAUNCH_ROCKETS" }, "BLOCK", "UNKNOWN_ACTION_TYPE"],
    [{ killSwitch: { scope: "TENANT", key: "", reason: "incident" } }, "REQUIRE_APPROVAL", "KILL_SWITCH_ACTIVE"],
    [{ allowlisted: false }, "REQUIRE_APPROVAL", "ACTION_TYPE_NOT_ALLOWLISTED"],
    [{ mode: "DISABLED" }, "BLOCK", "ACTION_TYPE_DISABLED"],
    [{ mode: "PROPOSE_ONLY" }, "REQUIRE_APPROVAL", "MODE_PROPOSE_ONLY"],
    [{ mode: "APPROVAL_REQUIRED" }, "REQUIRE_APPROVAL", "MODE_APPROVAL_REQUIRED"],
    [{ actionType: "SEND_EMAIL" }, "REQUIRE_APPROVAL", "EXTERNAL_CONTACT"],
    [{ actionType: "CHANGE_DISCOUNT" }, "REQUIRE_APPROVAL", "RISK_LEVEL_HIGH"],
    [{ actionType: "UPDATE_ACCOUNT_FIELDS" }, "REQUIRE_APPROVAL", "RISK_LEVEL_MEDIUM"],
    [{ riskLevel: "HIGH" }, "REQUIRE_APPROVAL", "RISK_LEVEL_HIGH"],
    [{ blockingUnknowns: ["renewal date"] }, "REQUIRE_APPROVAL", "BLOCKING_UNKNOWNS"],
    [{ confidence: 0.5 }, "REQUIRE_APPROVAL", "CONFIDENCE_BELOW_THRESHOLD"],
    [{ confidence: 0.8, lifecycle: "PROSPECT" }, "REQUIRE_APPROVAL", "CONFIDENCE_BELOW_THRESHOLD"],
  ] as [Partial<PolicyInput>, string, string][])("%j → %s %s", (patch, decision, reason) => {
    const out = evaluatePolicy({ ...base, ...patch });
    expect(out.decision).toBe(decision);
    expect(out.reason).toBe(reason);
  });
});

describe("modes, allowlist, kill switches, budget math", () => {
  const rows = [
    { accountKey: "", actionType: "", mode: "PROPOSE_ONLY" },
    { accountKey: "a1", actionType: "", mode: "DISABLED" },
    { accountKey: "", actionType: "CREATE_INTERNAL_TASK", mode: "AUTO_EXECUTE" },
    { accountKey: "a1", actionType: "CREATE_INTERNAL_TASK", mode: "APPROVAL_REQUIRED" },
  ];
  it("resolves first match: account+type → tenant+type → account default → tenant default → global", () => {
    expect(resolveMode(rows, "a1", "CREATE_INTERNAL_TASK")).toEqual({ mode: "APPROVAL_REQUIRED", source: "ACCOUNT_TYPE" });
    expect(resolveMode(rows, "a2", "CREATE_INTERNAL_TASK")).toEqual({ mode: "AUTO_EXECUTE", source: "TENANT_TYPE" });
    expect(resolveMode(rows, "a1", "FLAG_FOR_REVIEW")).toEqual({ mode: "DISABLED", source: "ACCOUNT_DEFAULT" });
    expect(resolveMode(rows, "a2", "FLAG_FOR_REVIEW")).toEqual({ mode: "PROPOSE_ONLY", source: "TENANT_DEFAULT" });
    expect(resolveMode([], "a2", "FLAG_FOR_REVIEW")).toEqual({ mode: "APPROVAL_REQUIRED", source: "GLOBAL_DEFAULT" });
    expect(resolveMode([{ accountKey: "", actionType: "", mode: "YOLO" }], "a", "X").mode).toBe("APPROVAL_REQUIRED");
  });
  it("allowlist applies tenant-wide or per account", () => {
    const allow = [
      { accountKey: "", actionType: "FLAG_FOR_REVIEW" },
      { accountKey: "a1", actionType: "CREATE_INTERNAL_NOTE" },
    ];
    expect(isAllowlisted(allow, "a9", "FLAG_FOR_REVIEW")).toBe(true);
    expect(isAllowlisted(allow, "a1", "CREATE_INTERNAL_NOTE")).toBe(true);
    expect(isAllowlisted(allow, "a2", "CREATE_INTERNAL_NOTE")).toBe(false);
  });
  it("kill switches cover global, tenant, type and connector", () => {
    const on = (scope: string, key = "") => [{ scope, key, enabled: true, reason: "r" }];
    expect(activeKillSwitch(on("GLOBAL"), "SEND_EMAIL", "email")).not.toBeNull();
    expect(activeKillSwitch(on("ACTION_TYPE", "SEND_EMAIL"), "SEND_EMAIL", "email")).not.toBeNull();
    expect(activeKillSwitch(on("ACTION_TYPE", "SEND_EMAIL"), "FLAG_FOR_REVIEW", "internal")).toBeNull();
    expect(activeKillSwitch(on("CONNECTOR", "internal"), "FLAG_FOR_REVIEW", "internal")).not.toBeNull();
    expect(activeKillSwitch([{ scope: "TENANT", key: "", enabled: false, reason: "" }], "X", "internal")).toBeNull();
  });
  it("budget days are UTC and decay halves unused autonomy", () => {
    expect(utcDateKey(new Date("2026-03-01T23:59:59-05:00"))).toBe("2026-03-02");
    expect(effectiveDailyCap({ maxPerDay: 5, perTypeCaps: {}, decayIfUnused: true }, 0)).toBe(3);
    expect(effectiveDailyCap({ maxPerDay: 5, perTypeCaps: {}, decayIfUnused: true }, 2)).toBe(5);
    expect(effectiveDailyCap({ maxPerDay: 5, perTypeCaps: {}, decayIfUnused: false }, 0)).toBe(5);
  });
});

describe("evaluatePolicy fails closed on broken thresholds", () => {
  it("a NaN threshold never lets anything through", () => {
    const out = evaluatePolicy({
      actionType: "FETCH_ACCOUNT_NEWS",
      confidence: 0.01,
      riskLevel: "MINIMAL",
      lifecycle: "CUSTOMER",
      mode: "AUTO_EXECUTE",
      allowlisted: true,
      blockingUnknowns: [],
      killSwitch: null,
      thresholds: { minConfidence: Number.NaN, prospectMinConfidence: Number.NaN, version: 1 },
    });
    expect(out).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "CONFIDENCE_BELOW_THRESHOLD" });
  });
});
