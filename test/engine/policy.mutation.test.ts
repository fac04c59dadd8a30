import { describe, expect, it } from "vitest";
import { budgetExhausted, evaluatePolicy, gateError, type PolicyInput, policyVersion } from "@/server/engine/policy";

/**
 * What a seller and an auditor read: for one input per clause, the exact clause that decided,
 * every clause that applied (stored with the evaluation), and the sentence shown in the inbox.
 * Written from StrykerJS survivors (npm run test:mutation): a change here is a visible change.
 */
const base: PolicyInput = {
  actionType: "CREATE_INTERNAL_TASK",
  confidence: 0.9,
  riskLevel: "LOW",
  lifecycle: "CUSTOMER",
  mode: "AUTO_EXECUTE",
  allowlisted: true,
  blockingUnknowns: [],
  killSwitch: null,
  thresholds: { minConfidence: 0.75, prospectMinConfidence: 0.85, version: 3 },
};

const CASES: [string, Partial<PolicyInput>, string[], string][] = [
  ["satisfied", {}, ["P13.auto-execute"], "Create internal task is allowlisted, low-risk and 90% confident, so autopilot did it."],
  [
    "unknown type",
    { actionType: "LAUNCH_ROCKETS" },
    ["P1.unknown-action-type", "P8.risk-high", "P9.risk-medium", "P10.never-autonomous"],
    '"LAUNCH_ROCKETS" is not an action type autopilot knows, so it was blocked.',
  ],
  [
    "kill switch with a reason",
    { killSwitch: { scope: "CONNECTOR", key: "internal", reason: "incident 42" } },
    ["P2.kill-switch"],
    'A connector kill switch is on ("incident 42"), so nothing runs on its own; a person must approve.',
  ],
  [
    "kill switch without a reason",
    { killSwitch: { scope: "GLOBAL", key: "", reason: "" } },
    ["P2.kill-switch"],
    "A global kill switch is on, so nothing runs on its own; a person must approve.",
  ],
  [
    "action-type kill switch (an, not a)",
    { killSwitch: { scope: "ACTION_TYPE", key: "CREATE_INTERNAL_TASK", reason: "" } },
    ["P2.kill-switch"],
    "An action type kill switch is on, so nothing runs on its own; a person must approve.",
  ],
  [
    "not allowlisted, customer-facing",
    { allowlisted: false, actionType: "SEND_EMAIL" },
    ["P3.allowlist", "P7.external-contact", "P8.risk-high", "P9.risk-medium", "P10.never-autonomous"],
    "Send email contacts the customer, which autopilot never does on its own, so it needs your approval.",
  ],
  [
    "not allowlisted, never autonomous",
    { allowlisted: false, actionType: "CHANGE_DISCOUNT" },
    ["P3.allowlist", "P8.risk-high", "P9.risk-medium", "P10.never-autonomous"],
    "Change discount is high-risk and can never run on autopilot, so it needs your approval.",
  ],
  [
    "not allowlisted",
    { allowlisted: false },
    ["P3.allowlist"],
    "Create internal task is not on your team's autopilot allowlist, so it needs your approval.",
  ],
  [
    "disabled",
    { mode: "DISABLED" },
    ["P4.mode-disabled", "P6.mode-approval-required"],
    "Create internal task is turned off for this account, so it was blocked.",
  ],
  [
    "propose only",
    { mode: "PROPOSE_ONLY" },
    ["P5.mode-propose-only", "P6.mode-approval-required"],
    "Autopilot only proposes create internal task here; you decide whether to do it.",
  ],
  [
    "approval required",
    { mode: "APPROVAL_REQUIRED" },
    ["P6.mode-approval-required"],
    "Create internal task is set to need approval for this account.",
  ],
  [
    "external contact",
    { actionType: "SEND_EMAIL" },
    ["P7.external-contact", "P8.risk-high", "P9.risk-medium", "P10.never-autonomous"],
    "Send email contacts the customer, and autopilot never contacts customers on its own.",
  ],
  [
    "high risk type",
    { actionType: "CHANGE_DISCOUNT" },
    ["P8.risk-high", "P9.risk-medium", "P10.never-autonomous"],
    "Change discount is high-risk, so a person must approve it.",
  ],
  [
    "medium risk type",
    { actionType: "UPDATE_ACCOUNT_FIELDS" },
    ["P9.risk-medium", "P10.never-autonomous"],
    "Update account fields changes CRM data (medium risk), so a person must approve it.",
  ],
  [
    "medium risk proposed for a low-risk type",
    { riskLevel: "MEDIUM" },
    ["P9.risk-medium"],
    "Create internal task changes CRM data (medium risk), so a person must approve it.",
  ],
  [
    "an unreadable proposed risk counts as high",
    { riskLevel: "low" },
    ["P8.risk-high", "P9.risk-medium"],
    "Create internal task is high-risk, so a person must approve it.",
  ],
  [
    "blocking unknowns (first three named)",
    { blockingUnknowns: ["renewal date", "owner", "budget", "champion"] },
    ["P11.blocking-unknowns"],
    "Autopilot is missing something it needs to know (renewal date, owner, budget), so it is asking you.",
  ],
  ["low confidence", { confidence: 0.5 }, ["P12.confidence"], "Autopilot is 50% confident; it acts alone only at 75% or more."],
  [
    "low confidence on a prospect",
    { confidence: 0.8, lifecycle: "PROSPECT" },
    ["P12.confidence"],
    "Autopilot is 80% confident; it acts alone only at 85% or more on prospects.",
  ],
  [
    "no confidence at all",
    { confidence: Number.NaN },
    ["P12.confidence"],
    "Autopilot is not confident; it acts alone only at 75% or more.",
  ],
  ["confidence above 1", { confidence: 1.5 }, ["P12.confidence"], "Autopilot is 150% confident; it acts alone only at 75% or more."],
];

describe("evaluatePolicy: clause, clauses and sentence per case", () => {
  it.each(CASES)("%s", (_name, patch, clauses, explanation) => {
    const out = evaluatePolicy({ ...base, ...patch });
    expect(out).toMatchObject({ policyClause: clauses[0], clauses, explanation, policyVersion: "autopilot-policy/1+tenant.3" });
  });

  it("policy_version names the engine and the tenant's policy row", () => {
    expect(policyVersion({ minConfidence: 0, prospectMinConfidence: 0, version: 17 })).toBe("autopilot-policy/1+tenant.17");
  });
});

describe("evaluatePolicy: confidence boundaries", () => {
  const at = (confidence: number, lifecycle = "CUSTOMER") => evaluatePolicy({ ...base, confidence, lifecycle }).decision;
  it("exactly the threshold is enough; exactly 1 is allowed; anything above 1 is not", () => {
    expect(at(0.75)).toBe("AUTO_EXECUTE");
    expect(at(0.7499999)).toBe("REQUIRE_APPROVAL");
    expect(at(1)).toBe("AUTO_EXECUTE");
    expect(at(1.0000001)).toBe("REQUIRE_APPROVAL");
  });
  it("the stricter prospect threshold applies to prospects only", () => {
    expect(at(0.8, "CUSTOMER")).toBe("AUTO_EXECUTE");
    expect(at(0.8, "SUSPECT")).toBe("AUTO_EXECUTE");
    expect(at(0.8, "PROSPECT")).toBe("REQUIRE_APPROVAL");
    expect(at(0.85, "PROSPECT")).toBe("AUTO_EXECUTE");
    // a tenant whose prospect threshold is the looser one: prospects use it all the same
    expect(
      evaluatePolicy({ ...base, lifecycle: "PROSPECT", confidence: 0.6, thresholds: { ...base.thresholds, prospectMinConfidence: 0.5 } })
        .decision,
    ).toBe("AUTO_EXECUTE");
  });
});

describe("the gate's own verdicts", () => {
  const policy = evaluatePolicy(base);
  it("budget exhausted: one action, several, per type", () => {
    expect(budgetExhausted(policy, { cap: 1, scope: "ACCOUNT" })).toEqual({
      ...policy,
      decision: "REQUIRE_APPROVAL",
      reason: "BUDGET_EXHAUSTED",
      explanation: "Autopilot already used today's 1 autonomous action on this account, so this one waits for you.",
      policyClause: "G1.budget",
      clauses: ["P13.auto-execute", "G1.budget"],
    });
    expect(budgetExhausted(policy, { cap: 3, scope: "ACTION_TYPE" }).explanation).toBe(
      "Autopilot already used today's 3 autonomous actions of this type on this account, so this one waits for you.",
    );
  });
  it("fail closed", () => {
    expect(gateError("autopilot-policy/1+tenant.9")).toEqual({
      decision: "REQUIRE_APPROVAL",
      reason: "GATE_ERROR",
      explanation: "Autopilot could not finish checking this action, so it is asking you instead.",
      policyVersion: "autopilot-policy/1+tenant.9",
      policyClause: "G0.fail-closed",
      clauses: ["G0.fail-closed"],
    });
  });
});
