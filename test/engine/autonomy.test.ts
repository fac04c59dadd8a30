import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACTION_TYPE_NAMES,
  ACTION_TYPES,
  type ActionTypeSpec,
  actionSpec,
  isActionType,
  RISK_LEVELS,
  riskAtMost,
  stricterRisk,
} from "@/server/engine/actions";
import {
  AUTONOMY_MODES,
  activeKillSwitch,
  GLOBAL_DEFAULT_MODE,
  isAllowlisted,
  KILL_SWITCH_SCOPES,
  type ModeRow,
  resolveMode,
} from "@/server/engine/autonomy";
import { effectiveDailyCap, NO_BUDGET, previousDays, remaining, typeCap, utcDateKey } from "@/server/engine/budget";

const ACCOUNTS = ["", "a1", "a2"];
const TYPES = ["", "CREATE_INTERNAL_TASK", "FLAG_FOR_REVIEW"];
const rowArb: fc.Arbitrary<ModeRow> = fc.record({
  accountKey: fc.constantFrom(...ACCOUNTS),
  actionType: fc.constantFrom(...TYPES),
  mode: fc.oneof(fc.constantFrom(...AUTONOMY_MODES), fc.constantFrom("YOLO", "")),
});

describe("resolveMode (property)", () => {
  it("the most specific readable row wins, in SPEC order; every source is reached", () => {
    const reached: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.array(rowArb, { maxLength: 6 }),
        fc.constantFrom("a1", "a2"),
        fc.constantFrom("CREATE_INTERNAL_TASK", "FLAG_FOR_REVIEW"),
        (rows, acc, type) => {
          const got = resolveMode(rows, acc, type);
          const readable = (r: ModeRow) => (AUTONOMY_MODES as readonly string[]).includes(r.mode);
          const levels = [
            ["ACCOUNT_TYPE", acc, type],
            ["TENANT_TYPE", "", type],
            ["ACCOUNT_DEFAULT", acc, ""],
            ["TENANT_DEFAULT", "", ""],
          ] as const;
          let expected: { mode: string; source: string } = { mode: GLOBAL_DEFAULT_MODE, source: "GLOBAL_DEFAULT" };
          for (const [source, a, t] of levels) {
            // the first row at the level decides; an unreadable one falls through to the next level
            const row = rows.find((r) => r.accountKey === a && r.actionType === t);
            if (row && readable(row)) {
              expected = { mode: row.mode, source };
              break;
            }
          }
          expect(got).toEqual(expected);
          reached[got.source] = (reached[got.source] ?? 0) + 1;
        },
      ),
      { numRuns: 1500 },
    );
    for (const s of ["ACCOUNT_TYPE", "TENANT_TYPE", "ACCOUNT_DEFAULT", "TENANT_DEFAULT", "GLOBAL_DEFAULT"]) {
      expect(reached[s] ?? 0, `${s} never reached`).toBeGreaterThan(0);
    }
  });

  it("the global default is APPROVAL_REQUIRED, never AUTO_EXECUTE", () => {
    expect(GLOBAL_DEFAULT_MODE).toBe("APPROVAL_REQUIRED");
    expect(resolveMode([], "a", "X")).toEqual({ mode: "APPROVAL_REQUIRED", source: "GLOBAL_DEFAULT" });
    // another account's row never applies
    expect(resolveMode([{ accountKey: "a2", actionType: "X", mode: "AUTO_EXECUTE" }], "a1", "X").source).toBe("GLOBAL_DEFAULT");
  });
});

describe("isAllowlisted and activeKillSwitch (properties)", () => {
  it("allowlisted iff a row names the type tenant-wide or for this account", () => {
    const reached = { yes: 0, no: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.record({ accountKey: fc.constantFrom(...ACCOUNTS), actionType: fc.constantFrom(...TYPES.slice(1)) }), { maxLength: 4 }),
        fc.constantFrom("a1", "a2"),
        fc.constantFrom(...TYPES.slice(1)),
        (rows, acc, type) => {
          const want = rows.some((r) => r.actionType === type && (r.accountKey === "" || r.accountKey === acc));
          expect(isAllowlisted(rows, acc, type)).toBe(want);
          reached[want ? "yes" : "no"]++;
        },
      ),
    );
    expect(reached.yes).toBeGreaterThan(0);
    expect(reached.no).toBeGreaterThan(0);
  });

  it("a switch covers an action iff it is enabled and global, tenant-wide, its type or its connector; the first covering one is returned", () => {
    const reached: Record<string, number> = {};
    const switchArb = fc.record({
      scope: fc.constantFrom(...KILL_SWITCH_SCOPES, "BOGUS"),
      key: fc.constantFrom("", "SEND_EMAIL", "FLAG_FOR_REVIEW", "email", "internal"),
      enabled: fc.boolean(),
      reason: fc.string({ maxLength: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(switchArb, { maxLength: 4 }),
        fc.constantFrom("SEND_EMAIL", "FLAG_FOR_REVIEW"),
        fc.constantFrom("email", "internal", undefined),
        (rows, type, connector) => {
          const covers = (r: (typeof rows)[number]) =>
            r.enabled &&
            (r.scope === "GLOBAL" ||
              r.scope === "TENANT" ||
              (r.scope === "ACTION_TYPE" && r.key === type) ||
              (r.scope === "CONNECTOR" && connector !== undefined && r.key === connector));
          const got = activeKillSwitch(rows, type, connector);
          expect(got).toBe(rows.find(covers) ?? null);
          const tag = got ? got.scope : "none";
          reached[tag] = (reached[tag] ?? 0) + 1;
        },
      ),
      { numRuns: 1000 },
    );
    for (const s of [...KILL_SWITCH_SCOPES, "none"]) expect(reached[s] ?? 0, `${s} never reached`).toBeGreaterThan(0);
  });

  it("a connector switch needs a connector, and a disabled switch never covers", () => {
    expect(activeKillSwitch([{ scope: "CONNECTOR", key: "", enabled: true, reason: "" }], "X", undefined)).toBeNull();
    expect(activeKillSwitch([{ scope: "GLOBAL", key: "", enabled: false, reason: "" }], "X", "email")).toBeNull();
  });
});

describe("the action registry", () => {
  it("never lets a customer-facing, commercial or risky type auto-execute", () => {
    for (const name of ACTION_TYPE_NAMES) {
      const spec: ActionTypeSpec = ACTION_TYPES[name];
      if (spec.externalContact || spec.class === "outreach" || spec.class === "commercial" || !riskAtMost(spec.risk, "LOW")) {
        expect(spec.mayAutoExecute, name).toBe(false);
      }
      if (spec.mayAutoExecute) expect(spec.connector, name).toBe("internal");
      if (spec.externalContact) expect(spec.connector, name).not.toBe("internal");
      expect(spec.label.length, name).toBeGreaterThan(3);
    }
  });

  it("pins each type's risk, contact, autonomy and connector (a change here is a policy change)", () => {
    const table = Object.fromEntries(
      ACTION_TYPE_NAMES.map((n) => {
        const s = ACTION_TYPES[n];
        return [
          n,
          `${s.class} ${s.risk} ${s.externalContact ? "external" : "internal"} ${s.mayAutoExecute ? "auto" : "never"} ${s.connector}`,
        ];
      }),
    );
    expect(table).toMatchSnapshot();
  });

  it("looks types up by own name only", () => {
    expect(isActionType("SEND_EMAIL")).toBe(true);
    expect(isActionType("constructor")).toBe(false);
    expect(isActionType("toString")).toBe(false);
    expect(actionSpec("__proto__")).toBeUndefined();
    expect(actionSpec("SEND_EMAIL")?.connector).toBe("email");
  });

  it("risk order: stricterRisk is the max, riskAtMost the ≤, over every pair", () => {
    RISK_LEVELS.forEach((a, i) => {
      RISK_LEVELS.forEach((b, j) => {
        expect(stricterRisk(a, b)).toBe(RISK_LEVELS[Math.max(i, j)]);
        expect(riskAtMost(a, b)).toBe(i <= j);
      });
    });
  });
});

describe("budget arithmetic", () => {
  it("UTC day keys, and the n days before today, newest first", () => {
    expect(utcDateKey(new Date("2026-03-01T23:59:59.999Z"))).toBe("2026-03-01");
    expect(utcDateKey(new Date("2026-03-02T00:00:00.000Z"))).toBe("2026-03-02");
    expect(previousDays(new Date("2026-03-02T00:30:00Z"), 3)).toEqual(["2026-03-01", "2026-02-28", "2026-02-27"]);
    expect(previousDays(new Date("2026-03-02T00:30:00Z"), 0)).toEqual([]);
  });

  it("decay halves (rounded up) only when on and nothing was used; otherwise the cap stands", () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(10), fc.boolean(), (maxPerDay, used, decay) => {
        const cap = effectiveDailyCap({ maxPerDay, perTypeCaps: {}, decayIfUnused: decay }, used);
        expect(cap).toBe(decay && used === 0 ? Math.ceil(maxPerDay / 2) : maxPerDay);
      }),
    );
    expect(effectiveDailyCap({ maxPerDay: 1, perTypeCaps: {}, decayIfUnused: true }, 0)).toBe(1);
    expect(effectiveDailyCap({ maxPerDay: 7, perTypeCaps: {}, decayIfUnused: true }, 0)).toBe(4);
  });

  it("per-type caps are numbers or absent; remaining never goes below zero", () => {
    const b = { maxPerDay: 5, perTypeCaps: { A: 0, B: 2 }, decayIfUnused: false };
    expect(typeCap(b, "A")).toBe(0);
    expect(typeCap(b, "B")).toBe(2);
    expect(typeCap(b, "C")).toBeNull();
    expect(typeCap({ ...b, perTypeCaps: { A: "3" as unknown as number } }, "A")).toBeNull();
    expect(remaining(5, 2)).toBe(3);
    expect(remaining(2, 5)).toBe(0);
    expect(remaining(2, 2)).toBe(0);
  });

  it("no budget configured means no autonomy", () => {
    expect(NO_BUDGET).toEqual({ maxPerDay: 0, perTypeCaps: {}, decayIfUnused: false });
  });
});
