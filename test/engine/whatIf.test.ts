import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AUTONOMY_MODES, type ModeSource } from "@/server/engine/autonomy";
import { canonicalJson } from "@/server/engine/canonical";
import { evaluatePolicy, type PolicyInput } from "@/server/engine/policy";
import {
  type PolicyChange,
  proposedAllowlisted,
  proposedMode,
  readStoredEvaluation,
  type StoredEvaluation,
  WhatIfReplay,
  whatIf,
} from "@/server/engine/whatIf";

/**
 * The what-if replay (server/engine/whatIf.ts) against a small simulation of the gate: inputs
 * decided by the real pure policy, then always-on, then an account's daily budget consumed in
 * time order — the order services/gate/intake.ts applies them. Replaying that history with no
 * effective change must reproduce every recorded answer.
 */

const TYPES = ["CREATE_INTERNAL_TASK", "CREATE_INTERNAL_NOTE", "SEND_EMAIL", "UPDATE_ACCOUNT_FIELDS", "LAUNCH_ROCKETS"];
const UNUSED_TYPE = "GENERATE_MEETING_BRIEF";
const ACCOUNTS = ["acc-1", "acc-2", "acc-3"];
const SOURCES: ModeSource[] = ["ACCOUNT_TYPE", "TENANT_TYPE", "ACCOUNT_DEFAULT", "TENANT_DEFAULT", "GLOBAL_DEFAULT"];

const arbInput = fc.record({
  accountId: fc.constantFrom(...ACCOUNTS),
  actionType: fc.constantFrom(...TYPES),
  // mostly autonomous-looking, so the budget and always-on branches are reached often
  confidence: fc.oneof(fc.constant(0.95), fc.double({ min: 0, max: 1, noNaN: true })),
  riskLevel: fc.constantFrom("LOW", "LOW", "MINIMAL", "HIGH"),
  lifecycle: fc.constantFrom("CUSTOMER", "PROSPECT"),
  mode: fc.constantFrom("AUTO_EXECUTE", "AUTO_EXECUTE", ...AUTONOMY_MODES),
  modeSource: fc.constantFrom(...SOURCES),
  allowlisted: fc.boolean(),
  blocking: fc.boolean(),
  kill: fc.integer({ min: 0, max: 9 }),
  source: fc.constantFrom("API", "DECISION"),
  day: fc.constantFrom("2026-03-01", "2026-03-02"),
});

const arbWorld = fc.record({
  evals: fc.array(arbInput, { minLength: 1, maxLength: 60 }),
  caps: fc.record({ "acc-1": fc.nat(4), "acc-2": fc.nat(4), "acc-3": fc.nat(4) }),
  optedIn: fc.record({ "acc-1": fc.boolean(), "acc-2": fc.boolean(), "acc-3": fc.boolean() }),
});

type World = typeof arbWorld extends fc.Arbitrary<infer W> ? W : never;

/** What the gate would have stored, in time order. */
function simulate(w: World): StoredEvaluation[] {
  const used = new Map<string, number>();
  const days = [...w.evals].sort((x, y) => x.day.localeCompare(y.day));
  return days.map((e, i) => {
    const input: PolicyInput = {
      actionType: e.actionType,
      confidence: e.confidence,
      riskLevel: e.riskLevel,
      lifecycle: e.lifecycle,
      mode: e.mode,
      allowlisted: e.allowlisted,
      blockingUnknowns: e.blocking ? ["budget owner"] : [],
      killSwitch: e.kill === 0 ? { scope: "TENANT", key: "", reason: "incident" } : null,
      thresholds: { minConfidence: 0.75, prospectMinConfidence: 0.85, version: 1 },
    };
    const policy = evaluatePolicy(input);
    const accountId = e.accountId as keyof World["caps"];
    const missing =
      e.source === "DECISION" && policy.decision === "AUTO_EXECUTE" ? (w.optedIn[accountId] ? [] : ["ACCOUNT_NOT_OPTED_IN"]) : null;
    let decision: string = policy.decision;
    let reason: string = policy.reason;
    let budget: StoredEvaluation["budget"] = null;
    if (policy.decision === "AUTO_EXECUTE" && missing && missing.length > 0) {
      decision = "REQUIRE_APPROVAL";
      reason = "NOT_OPTED_IN";
    } else if (policy.decision === "AUTO_EXECUTE") {
      const key = `${accountId}|${e.day}`;
      const cap = w.caps[accountId];
      const n = used.get(key) ?? 0;
      if (n < cap) {
        used.set(key, n + 1);
        budget = { ok: true, cap, consumed: n + 1, dateKey: e.day };
      } else {
        budget = { ok: false, scope: "ACCOUNT", cap, dateKey: e.day };
        decision = "REQUIRE_APPROVAL";
        reason = "BUDGET_EXHAUSTED";
      }
    }
    return {
      intentId: `i${i}`,
      accountId,
      actionType: e.actionType,
      at: new Date(`${e.day}T10:00:00Z`),
      decision,
      reason,
      input,
      modeSource: e.modeSource,
      budget,
      alwaysOnMissing: missing ?? (e.source === "DECISION" ? (w.optedIn[accountId] ? [] : ["ACCOUNT_NOT_OPTED_IN"]) : null),
    };
  });
}

const ctxOf = (w: World) => ({ allowlist: [], budgetCaps: new Map(Object.entries(w.caps)) });

/** Changes that cover none of the evaluations, or restate nothing. */
const noEffect: PolicyChange[][] = [
  [],
  [{ accountId: "acc-unknown", mode: "DISABLED", maxAutonomousPerDay: 0 }],
  [{ actionType: UNUSED_TYPE, mode: "DISABLED", allowlist: false }],
  [{ accountId: "acc-unknown", actionType: "CREATE_INTERNAL_TASK", allowlist: true }],
];

/** One stored autonomous evaluation on acc-1 with a daily cap of 1: consumed the unit, or found it spent (null). */
const base = (id: string, actionType: string, consumed: number | null): StoredEvaluation => ({
  intentId: id,
  accountId: "acc-1",
  actionType,
  at: new Date("2026-03-02T10:00:00Z"),
  decision: consumed === null ? "REQUIRE_APPROVAL" : "AUTO_EXECUTE",
  reason: consumed === null ? "BUDGET_EXHAUSTED" : "POLICY_SATISFIED",
  input: {
    actionType,
    confidence: 0.95,
    riskLevel: "LOW",
    lifecycle: "CUSTOMER",
    mode: "AUTO_EXECUTE",
    allowlisted: true,
    blockingUnknowns: [],
    killSwitch: null,
    thresholds: { minConfidence: 0.75, prospectMinConfidence: 0.85, version: 1 },
  },
  modeSource: "TENANT_DEFAULT",
  budget:
    consumed === null
      ? { ok: false, scope: "ACCOUNT", cap: 1, dateKey: "2026-03-02" }
      : { ok: true, cap: 1, consumed, dateKey: "2026-03-02" },
  alwaysOnMissing: null,
});

describe("whatIf", () => {
  it("with no effective change reproduces every recorded answer, and reaches every branch of the gate's order", () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(arbWorld, fc.constantFrom(...noEffect), (w, changes) => {
        const evals = simulate(w);
        for (const e of evals) seen.set(e.reason ?? "", (seen.get(e.reason ?? "") ?? 0) + 1);
        const r = whatIf(evals, changes, ctxOf(w));
        expect(r.evaluated).toBe(evals.length);
        expect(r.changed).toEqual([]);
      }),
      { numRuns: 300 },
    );
    for (const reason of [
      "POLICY_SATISFIED",
      "BUDGET_EXHAUSTED",
      "NOT_OPTED_IN",
      "MODE_APPROVAL_REQUIRED",
      "ACTION_TYPE_NOT_ALLOWLISTED",
      "KILL_SWITCH_ACTIVE",
    ])
      expect(seen.get(reason) ?? 0, reason).toBeGreaterThan(0);
  });

  it("a tightening never makes anything autonomous, and every intent it changes was autonomous or asked for another reason", () => {
    fc.assert(
      fc.property(arbWorld, fc.constantFrom("APPROVAL_REQUIRED", "PROPOSE_ONLY", "DISABLED") as fc.Arbitrary<"DISABLED">, (w, mode) => {
        const evals = simulate(w);
        const changes: PolicyChange[] = ACCOUNTS.flatMap((accountId) => TYPES.map((actionType) => ({ accountId, actionType, mode })));
        const r = whatIf(evals, changes, ctxOf(w));
        for (const c of r.changed) expect(c.after.decision).not.toBe("AUTO_EXECUTE");
        // most specific level: every evaluation the policy let through now stops at its mode
        const autonomous = evals.filter((e) => e.decision === "AUTO_EXECUTE").map((e) => e.intentId);
        expect(r.changed.filter((c) => c.before.decision === "AUTO_EXECUTE").map((c) => c.actionIntentId)).toEqual(autonomous);
      }),
      { numRuns: 200 },
    );
  });

  it("budget: 0 everywhere stops exactly the autonomous ones; a cap nobody reaches frees exactly the budget-exhausted ones", () => {
    fc.assert(
      fc.property(arbWorld, (w) => {
        const evals = simulate(w);
        const zero = whatIf(
          evals,
          ACCOUNTS.map((accountId) => ({ accountId, maxAutonomousPerDay: 0 })),
          ctxOf(w),
        );
        expect(zero.changed.map((c) => c.actionIntentId)).toEqual(
          evals.filter((e) => e.decision === "AUTO_EXECUTE").map((e) => e.intentId),
        );
        for (const c of zero.changed) expect(c.after.reason).toBe("BUDGET_EXHAUSTED");
        const roomy = whatIf(
          evals,
          ACCOUNTS.map((accountId) => ({ accountId, maxAutonomousPerDay: 1000 })),
          ctxOf(w),
        );
        expect(roomy.changed.map((c) => c.actionIntentId)).toEqual(
          evals.filter((e) => e.reason === "BUDGET_EXHAUSTED").map((e) => e.intentId),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("the fast path (skip, on the stored text, given only the inputs its input scope names) answers exactly as the full replay, whatever the changes", () => {
    const arbChange: fc.Arbitrary<PolicyChange> = fc.record(
      {
        accountId: fc.constantFrom(...ACCOUNTS),
        actionType: fc.constantFrom(...TYPES.slice(0, 4)),
        mode: fc.constantFrom(...AUTONOMY_MODES),
        allowlist: fc.boolean(),
        maxAutonomousPerDay: fc.nat(4),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(arbWorld, fc.array(arbChange, { minLength: 1, maxLength: 4 }), (w, changes) => {
        const evals = simulate(w);
        const full = whatIf(evals, changes, ctxOf(w));
        const fast = new WhatIfReplay(changes, ctxOf(w));
        const scope = fast.inputScope();
        const changed = [];
        for (const e of evals) {
          // What the service's page carries: the input only of the rows the scope names.
          const inScope =
            scope.all ||
            scope.actionTypes.includes(e.actionType) ||
            e.reason === "BUDGET_EXHAUSTED" ||
            (scope.autoExecuted && e.decision === "AUTO_EXECUTE");
          const text = inScope
            ? canonicalJson({ ...e.input, modeSource: e.modeSource, account: { id: e.accountId }, budget: e.budget })
            : null;
          if (
            fast.skip({
              accountId: e.accountId,
              actionType: e.actionType,
              createdAt: e.at.toISOString(),
              decision: e.decision,
              reason: e.reason,
              input: text,
            })
          )
            continue;
          expect(inScope).toBe(true);
          const row = fast.push(e);
          if (row) changed.push(row);
        }
        expect(changed).toEqual([...full.changed]);
        expect(fast.evaluated).toBe(full.evaluated);
        expect(fast.byActionType).toEqual(full.byActionType);
      }),
      { numRuns: 300 },
    );
  });

  it("a freed unit goes to the next one that day: tightening one type lets a later, exhausted one of another type through", () => {
    const evals = [base("first", "CREATE_INTERNAL_TASK", 1), base("second", "CREATE_INTERNAL_NOTE", null)];
    const r = whatIf(evals, [{ actionType: "CREATE_INTERNAL_TASK", mode: "APPROVAL_REQUIRED" }], { allowlist: [], budgetCaps: new Map() });
    expect(r.changed.map((c) => [c.actionIntentId, c.after.decision])).toEqual([
      ["first", "REQUIRE_APPROVAL"],
      ["second", "AUTO_EXECUTE"],
    ]);
  });

  it("a unit taken stops a later one that day, on the fast path too: widening one type exhausts another's last unit", () => {
    const first = {
      ...base("first", "CREATE_INTERNAL_NOTE", null),
      decision: "REQUIRE_APPROVAL",
      reason: "MODE_APPROVAL_REQUIRED",
      budget: null,
    };
    first.input = { ...first.input, mode: "APPROVAL_REQUIRED" };
    const evals = [first, base("second", "CREATE_INTERNAL_TASK", 1)];
    const changes: PolicyChange[] = [{ accountId: "acc-1", actionType: "CREATE_INTERNAL_NOTE", mode: "AUTO_EXECUTE" }];
    const ctx = { allowlist: [], budgetCaps: new Map([["acc-1", 1]]) };
    const expected = [
      ["first", "AUTO_EXECUTE"],
      ["second", "REQUIRE_APPROVAL"],
    ];
    expect(whatIf(evals, changes, ctx).changed.map((c) => [c.actionIntentId, c.after.decision])).toEqual(expected);
    const fast = new WhatIfReplay(changes, ctx);
    const out = [];
    for (const e of evals) {
      const text = canonicalJson({ ...e.input, modeSource: e.modeSource, account: { id: e.accountId }, budget: e.budget });
      if (!fast.skip({ ...e, createdAt: e.at.toISOString(), input: text })) out.push(fast.push(e));
    }
    expect(out.map((c) => [c?.actionIntentId, c?.after.decision])).toEqual(expected);
  });

  it("mode precedence: a change less specific than the level that decided is shadowed", () => {
    const ev = { accountId: "a", actionType: "T", modeSource: "TENANT_TYPE" as ModeSource, input: { mode: "AUTO_EXECUTE" } as PolicyInput };
    expect(proposedMode(ev, [{ mode: "DISABLED" }])).toBe("AUTO_EXECUTE");
    expect(proposedMode(ev, [{ accountId: "a", mode: "DISABLED" }])).toBe("AUTO_EXECUTE");
    expect(proposedMode(ev, [{ actionType: "T", mode: "DISABLED" }])).toBe("DISABLED");
    expect(
      proposedMode(ev, [
        { accountId: "a", actionType: "T", mode: "PROPOSE_ONLY" },
        { actionType: "T", mode: "DISABLED" },
      ]),
    ).toBe("PROPOSE_ONLY");
    expect(proposedMode(ev, [{ accountId: "b", actionType: "T", mode: "DISABLED" }])).toBe("AUTO_EXECUTE");
  });

  it("allowlist: a tenant-wide removal keeps an account's own listing", () => {
    const ev = { accountId: "a", actionType: "T", input: { allowlisted: true } as PolicyInput };
    const rows = [
      { accountKey: "", actionType: "T" },
      { accountKey: "a", actionType: "T" },
    ];
    expect(proposedAllowlisted(ev, [{ actionType: "T", allowlist: false }], rows)).toBe(true);
    expect(proposedAllowlisted(ev, [{ actionType: "T", allowlist: false }], rows.slice(0, 1))).toBe(false);
    expect(
      proposedAllowlisted(
        ev,
        [
          { actionType: "T", allowlist: false },
          { accountId: "a", actionType: "T", allowlist: false },
        ],
        rows,
      ),
    ).toBe(false);
    expect(
      proposedAllowlisted(
        { ...ev, input: { allowlisted: false } as PolicyInput },
        [{ accountId: "a", actionType: "T", allowlist: true }],
        [],
      ),
    ).toBe(true);
  });

  it("reads a stored row as the gate wrote it, and skips one it did not", () => {
    const input = {
      actionType: "CREATE_INTERNAL_TASK",
      confidence: 0.9,
      riskLevel: "LOW",
      lifecycle: "CUSTOMER",
      mode: "AUTO_EXECUTE",
      allowlisted: true,
      blockingUnknowns: [],
      killSwitch: null,
      thresholds: { minConfidence: 0.75, prospectMinConfidence: 0.85, version: 1 },
      modeSource: "TENANT_DEFAULT",
      account: { id: "acc", ownerId: "u1" },
      budget: { ok: true, cap: 3, consumed: 1, perType: null, dateKey: "2026-03-02" },
    };
    const row = { intentId: "i", decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED", createdAt: new Date(), source: "DECISION" };
    expect(readStoredEvaluation({ ...row, input: JSON.stringify(input) })).toMatchObject({
      accountId: "acc",
      ownerId: "u1",
      budget: { ok: true, consumed: 1 },
      alwaysOnUnknown: true,
    });
    expect(readStoredEvaluation({ ...row, input: "{" })).toBeNull();
    expect(readStoredEvaluation({ ...row, input: JSON.stringify({ ...input, modeSource: "SOMEWHERE" }) })).toBeNull();
  });
});
