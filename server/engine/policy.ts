import { type ActionTypeSpec, actionSpec, RISK_LEVELS, type RiskLevel, riskAtMost, stricterRisk } from "./actions";
import type { AutonomyMode } from "./autonomy";

/**
 * The auto-approval policy (SPEC §4.1): a pure, deterministic function of its input. The model
 * that proposed an intent never decides here; only this function and the budget do. Every clause
 * that applies is reported; the first one in priority order decides.
 */
export const POLICY_ENGINE_VERSION = "autopilot-policy/1";

export const POLICY_DECISIONS = ["AUTO_EXECUTE", "REQUIRE_APPROVAL", "BLOCK"] as const;
export type PolicyDecision = (typeof POLICY_DECISIONS)[number];

/** Closed vocabulary; integrations rely on these strings. */
export const REASON_CODES = [
  "UNKNOWN_ACTION_TYPE",
  "KILL_SWITCH_ACTIVE",
  "ACTION_TYPE_NOT_ALLOWLISTED",
  "ACTION_TYPE_DISABLED",
  "MODE_PROPOSE_ONLY",
  "MODE_APPROVAL_REQUIRED",
  "EXTERNAL_CONTACT",
  "RISK_LEVEL_HIGH",
  "RISK_LEVEL_MEDIUM",
  "BLOCKING_UNKNOWNS",
  "CONFIDENCE_BELOW_THRESHOLD",
  "TENANT_POLICY",
  "BUDGET_EXHAUSTED",
  "GATE_ERROR",
  "POLICY_SATISFIED",
  "NOT_OPTED_IN",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface PolicyThresholds {
  /** minimum confidence to auto-execute on SUSPECT and CUSTOMER accounts */
  minConfidence: number;
  /** stricter minimum on PROSPECT accounts (less known, more to lose) */
  prospectMinConfidence: number;
  /** the tenant policy row's version, part of policy_version */
  version: number;
}

export interface PolicyInput {
  actionType: string;
  confidence: number;
  riskLevel: string;
  lifecycle: string;
  mode: AutonomyMode;
  allowlisted: boolean;
  blockingUnknowns: readonly string[];
  killSwitch: { scope: string; key: string; reason: string } | null;
  thresholds: PolicyThresholds;
}

export interface PolicyResult {
  decision: PolicyDecision;
  reason: ReasonCode;
  explanation: string;
  policyVersion: string;
  /** the clause that decided */
  policyClause: string;
  /** every clause that applied, in priority order */
  clauses: string[];
}

/** Highest auto-executable risk. Fixed in code: configuration can make the gate stricter only. */
const MAX_AUTO_RISK: RiskLevel = "LOW";

interface Clause {
  id: string;
  decision: Exclude<PolicyDecision, "AUTO_EXECUTE">;
  reason: ReasonCode;
  applies: (i: PolicyInput, derived: Derived) => boolean;
  explain: (i: PolicyInput, derived: Derived) => string;
}

interface Derived {
  /** the action type's registry row, looked up once (undefined: not a type autopilot knows) */
  spec: ActionTypeSpec | undefined;
  label: string;
  risk: RiskLevel;
  threshold: number;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

const CLAUSES: Clause[] = [
  {
    id: "P1.unknown-action-type",
    decision: "BLOCK",
    reason: "UNKNOWN_ACTION_TYPE",
    applies: (_i, d) => !d.spec,
    explain: (i) => `"${i.actionType}" is not an action type autopilot knows, so it was blocked.`,
  },
  {
    id: "P2.kill-switch",
    decision: "REQUIRE_APPROVAL",
    reason: "KILL_SWITCH_ACTIVE",
    applies: (i) => i.killSwitch !== null,
    explain: (i) =>
      `${killSwitchPhrase(i.killSwitch?.scope)} kill switch is on${i.killSwitch?.reason ? ` ("${i.killSwitch.reason}")` : ""}, so nothing runs on its own; a person must approve.`,
  },
  {
    id: "P3.allowlist",
    decision: "REQUIRE_APPROVAL",
    reason: "ACTION_TYPE_NOT_ALLOWLISTED",
    applies: (i) => !i.allowlisted,
    explain: (_i, d) => {
      const spec = d.spec;
      if (spec?.externalContact)
        return `${d.label} contacts the customer, which autopilot never does on its own, so it needs your approval.`;
      if (spec && !spec.mayAutoExecute)
        return `${d.label} is ${spec.risk.toLowerCase()}-risk and can never run on autopilot, so it needs your approval.`;
      return `${d.label} is not on your team's autopilot allowlist, so it needs your approval.`;
    },
  },
  {
    id: "P4.mode-disabled",
    decision: "BLOCK",
    reason: "ACTION_TYPE_DISABLED",
    applies: (i) => i.mode === "DISABLED",
    explain: (_i, d) => `${d.label} is turned off for this account, so it was blocked.`,
  },
  {
    id: "P5.mode-propose-only",
    decision: "REQUIRE_APPROVAL",
    reason: "MODE_PROPOSE_ONLY",
    applies: (i) => i.mode === "PROPOSE_ONLY",
    explain: (_i, d) => `Autopilot only proposes ${d.label.toLowerCase()} here; you decide whether to do it.`,
  },
  {
    id: "P6.mode-approval-required",
    decision: "REQUIRE_APPROVAL",
    reason: "MODE_APPROVAL_REQUIRED",
    applies: (i) => i.mode !== "AUTO_EXECUTE",
    explain: (_i, d) => `${d.label} is set to need approval for this account.`,
  },
  {
    id: "P7.external-contact",
    decision: "REQUIRE_APPROVAL",
    reason: "EXTERNAL_CONTACT",
    applies: (_i, d) => d.spec?.externalContact === true,
    explain: (_i, d) => `${d.label} contacts the customer, and autopilot never contacts customers on its own.`,
  },
  {
    id: "P8.risk-high",
    decision: "REQUIRE_APPROVAL",
    reason: "RISK_LEVEL_HIGH",
    applies: (_i, d) => d.risk === "HIGH",
    explain: (_i, d) => `${d.label} is high-risk, so a person must approve it.`,
  },
  {
    id: "P9.risk-medium",
    decision: "REQUIRE_APPROVAL",
    reason: "RISK_LEVEL_MEDIUM",
    applies: (_i, d) => !riskAtMost(d.risk, MAX_AUTO_RISK),
    explain: (_i, d) => `${d.label} changes CRM data (medium risk), so a person must approve it.`,
  },
  {
    id: "P10.never-autonomous",
    decision: "REQUIRE_APPROVAL",
    reason: "TENANT_POLICY",
    applies: (_i, d) => d.spec?.mayAutoExecute !== true,
    explain: (_i, d) => `${d.label} is never carried out autonomously.`,
  },
  {
    id: "P11.blocking-unknowns",
    decision: "REQUIRE_APPROVAL",
    reason: "BLOCKING_UNKNOWNS",
    applies: (i) => i.blockingUnknowns.length > 0,
    explain: (i) => `Autopilot is missing something it needs to know (${i.blockingUnknowns.slice(0, 3).join(", ")}), so it is asking you.`,
  },
  {
    id: "P12.confidence",
    decision: "REQUIRE_APPROVAL",
    reason: "CONFIDENCE_BELOW_THRESHOLD",
    // Written as "not (within bounds)" so a NaN confidence or a NaN threshold fails closed:
    // every comparison with NaN is false, which here means "ask a human".
    applies: (i, d) => !(i.confidence >= d.threshold && i.confidence <= 1),
    explain: (i, d) =>
      `Autopilot is ${Number.isFinite(i.confidence) ? pct(i.confidence) : "not"} confident; it acts alone only at ${pct(d.threshold)} or more${i.lifecycle === "PROSPECT" ? " on prospects" : ""}.`,
  },
];

/**
 * Every decision names its version; the text is remembered for the last tenant policy version
 * seen rather than built on every call (a gate group, a what-if replay and the benchmark decide
 * many intents under one version in a row).
 */
let lastVersion: number | undefined;
let lastVersionText = "";
export function policyVersion(t: PolicyThresholds) {
  if (t.version !== lastVersion) {
    lastVersionText = `${POLICY_ENGINE_VERSION}+tenant.${t.version}`;
    lastVersion = t.version;
  }
  return lastVersionText;
}

export function evaluatePolicy(input: PolicyInput): PolicyResult {
  const spec = actionSpec(input.actionType);
  const proposed = (RISK_LEVELS as readonly string[]).includes(input.riskLevel) ? (input.riskLevel as RiskLevel) : "HIGH";
  const derived: Derived = {
    spec,
    label: spec?.label ?? input.actionType,
    // The registry's risk is a floor: a proposal can only make an action riskier.
    risk: spec ? stricterRisk(spec.risk, proposed) : "HIGH",
    threshold: input.lifecycle === "PROSPECT" ? input.thresholds.prospectMinConfidence : input.thresholds.minConfidence,
  };
  // One pass: the first clause that applies decides; every one that applies is listed.
  let first: Clause | undefined;
  const clauses: string[] = [];
  for (const c of CLAUSES) {
    if (!c.applies(input, derived)) continue;
    first ??= c;
    clauses.push(c.id);
  }
  const version = policyVersion(input.thresholds);
  if (first) {
    return {
      decision: first.decision,
      reason: first.reason,
      explanation: first.explain(input, derived),
      policyVersion: version,
      policyClause: first.id,
      clauses,
    };
  }
  return {
    decision: "AUTO_EXECUTE",
    reason: "POLICY_SATISFIED",
    explanation: `${derived.label} is allowlisted, low-risk and ${pct(input.confidence)} confident, so autopilot did it.`,
    policyVersion: version,
    policyClause: "P13.auto-execute",
    clauses: ["P13.auto-execute"],
  };
}

/** The gate's verdict when policy allowed it but today's autonomy budget is spent. */
export function budgetExhausted(policy: PolicyResult, detail: { cap: number; scope: "ACCOUNT" | "ACTION_TYPE" }): PolicyResult {
  return {
    ...policy,
    decision: "REQUIRE_APPROVAL",
    reason: "BUDGET_EXHAUSTED",
    explanation: `Autopilot already used today's ${detail.cap} autonomous action${detail.cap === 1 ? "" : "s"}${detail.scope === "ACTION_TYPE" ? " of this type" : ""} on this account, so this one waits for you.`,
    policyClause: "G1.budget",
    clauses: [...policy.clauses, "G1.budget"],
  };
}

/**
 * The gate's verdict when policy allowed a decision run's proposal to run on its own but always-on
 * autonomy is not switched on for it (server/engine/alwaysOn.ts): it waits in the inbox instead.
 * `missing` names every condition that does not hold, so the sentence says what to fix.
 */
export function notOptedIn(policy: PolicyResult, missing: readonly string[]): PolicyResult {
  const parts = missing.map((m) => NOT_OPTED_IN_PHRASE[m] ?? m.toLowerCase().replaceAll("_", " "));
  return {
    ...policy,
    decision: "REQUIRE_APPROVAL",
    reason: "NOT_OPTED_IN",
    explanation: `Autopilot could have done this on its own, but always-on autonomy is not switched on here (${parts.join("; ")}), so it waits for you.`,
    policyClause: "G2.always-on",
    clauses: [...policy.clauses, "G2.always-on"],
  };
}

const NOT_OPTED_IN_PHRASE: Record<string, string> = {
  TENANT_NOT_OPTED_IN: "the workspace has not opted in",
  ACCOUNT_NOT_OPTED_IN: "this account has not opted in",
  NO_DIGEST_CONFIGURED: "the account owner has no daily digest set up",
};

/** Fail closed: whatever went wrong inside the gate, the answer is "ask a human". */
export function gateError(version: string): PolicyResult {
  return {
    decision: "REQUIRE_APPROVAL",
    reason: "GATE_ERROR",
    explanation: "Autopilot could not finish checking this action, so it is asking you instead.",
    policyVersion: version,
    policyClause: "G0.fail-closed",
    clauses: ["G0.fail-closed"],
  };
}

/** "A global", "A tenant", "A connector", "An action type" — the article follows the scope's sound. */
function killSwitchPhrase(scope: string | undefined): string {
  const words = (scope ?? "").toLowerCase().replace("_", " ");
  return `${/^[aeiou]/.test(words) ? "An" : "A"} ${words}`;
}
