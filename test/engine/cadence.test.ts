import { describe, expect, it } from "vitest";
import {
  afterPull,
  cadencePullJobId,
  comparePulls,
  DEFAULT_CADENCE,
  intervalMs,
  type PullState,
  readCadence,
  schedule,
  validateCadence,
} from "@/server/engine/cadence";
import { budgetRetryAfter, eligibility, rateLimitedRetryAfter, readPerConnector, remainingFor } from "@/server/engine/perception";

const H = 3_600_000;
const now = new Date("2026-03-02T10:00:00.000Z");
const never: PullState = { lastShallowAt: null, lastDeepAt: null, nextShallowAt: null, nextDeepAt: null };
const ids = Array.from({ length: 400 }, (_, i) => `acct_${i}`);

describe("cadence table", () => {
  it("the reference table: HOT deep hourly + shallow on signal, WARM shallow 6 h, COLD shallow 3–7 days", () => {
    expect(DEFAULT_CADENCE.HOT).toEqual({ shallow: null, deep: { minHours: 1, maxHours: 1 }, shallowOnSignal: true });
    expect(DEFAULT_CADENCE.WARM).toEqual({ shallow: { minHours: 6, maxHours: 6 }, deep: null, shallowOnSignal: false });
    expect(DEFAULT_CADENCE.COLD).toEqual({ shallow: { minHours: 72, maxHours: 168 }, deep: null, shallowOnSignal: false });
    expect(validateCadence(DEFAULT_CADENCE)).toEqual([]);
  });

  it("COLD intervals are fixed per account and spread over 3..7 days", () => {
    const r = DEFAULT_CADENCE.COLD.shallow as { minHours: number; maxHours: number };
    const xs = ids.map((id) => intervalMs(r, id));
    for (const [i, id] of ids.entries()) expect(intervalMs(r, id)).toBe(xs[i]);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(72 * H);
    expect(Math.max(...xs)).toBeLessThanOrEqual(168 * H);
    // spread: every day of the range is used by someone
    const days = new Set(xs.map((x) => Math.floor(x / (24 * H))));
    expect([...days].sort()).toEqual([3, 4, 5, 6]);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(80 * H);
  });

  it("validation names the field: out of bounds, max below min", () => {
    const bad = {
      ...DEFAULT_CADENCE,
      WARM: { shallow: { minHours: 0.1, maxHours: 6 }, deep: null, shallowOnSignal: false },
      COLD: { shallow: { minHours: 72, maxHours: 24 }, deep: null, shallowOnSignal: false },
    };
    expect(validateCadence(bad).map((p) => p.field)).toEqual(["tiers.WARM.shallow.min_hours", "tiers.COLD.shallow.max_hours"]);
  });

  it("a stored table falls back to the defaults per tier for what is missing or invalid", () => {
    const t = readCadence({ WARM: { shallow: { minHours: 2, maxHours: 2 } }, COLD: { shallow: { minHours: -1, maxHours: 3 } }, HOT: "x" });
    expect(t.WARM).toEqual({ shallow: { minHours: 2, maxHours: 2 }, deep: null, shallowOnSignal: false });
    expect(t.COLD).toEqual(DEFAULT_CADENCE.COLD);
    expect(t.HOT).toEqual(DEFAULT_CADENCE.HOT);
    expect(readCadence(null)).toEqual(DEFAULT_CADENCE);
  });
});

describe("schedule", () => {
  it("a never-pulled account is placed at a hashed phase inside its first interval (load is smoothed)", () => {
    const firsts = ids.map((id) => schedule(DEFAULT_CADENCE, "COLD", id, never, null, now).nextShallowAt?.getTime() ?? 0);
    for (const [i, id] of ids.entries()) {
      const every = intervalMs(DEFAULT_CADENCE.COLD.shallow as { minHours: number; maxHours: number }, id);
      expect(firsts[i]).toBeGreaterThanOrEqual(now.getTime());
      expect(firsts[i]).toBeLessThan(now.getTime() + every);
    }
    const dueNow = firsts.filter((t) => t <= now.getTime()).length;
    expect(dueNow).toBeLessThan(ids.length / 20);
  });

  it("HOT: deep due one hour after the last deep pull, not before; no scheduled shallow", () => {
    const last = new Date(now.getTime() - H + 60_000);
    const s = schedule(DEFAULT_CADENCE, "HOT", "a1", { ...never, lastDeepAt: last, lastShallowAt: last }, null, now);
    expect(s).toMatchObject({ due: null, nextShallowAt: null, nextDeepAt: new Date(last.getTime() + H) });
    const later = schedule(
      DEFAULT_CADENCE,
      "HOT",
      "a1",
      { ...never, lastDeepAt: last, lastShallowAt: last },
      null,
      new Date(now.getTime() + 60_000),
    );
    expect(later).toMatchObject({ due: "DEEP", trigger: "SCHEDULED" });
  });

  it("HOT: a signal received after the last pull makes a shallow pull due; one before it does not", () => {
    const last = new Date(now.getTime() - 10 * 60_000);
    const st = { ...never, lastDeepAt: last, lastShallowAt: last };
    expect(schedule(DEFAULT_CADENCE, "HOT", "a1", st, new Date(last.getTime() + 1), now)).toMatchObject({
      due: "SHALLOW",
      trigger: "SIGNAL",
    });
    expect(schedule(DEFAULT_CADENCE, "HOT", "a1", st, last, now).due).toBeNull();
    // WARM has no shallow-on-signal
    const warm = { ...never, lastShallowAt: last };
    expect(schedule(DEFAULT_CADENCE, "WARM", "a1", warm, new Date(now.getTime() - 1), now).due).toBeNull();
  });

  it("deep wins over shallow when both are due", () => {
    const t = {
      ...DEFAULT_CADENCE,
      HOT: { shallow: { minHours: 1, maxHours: 1 }, deep: { minHours: 1, maxHours: 1 }, shallowOnSignal: true },
    };
    const old = new Date(now.getTime() - 2 * H);
    expect(schedule(t, "HOT", "a1", { ...never, lastShallowAt: old, lastDeepAt: old }, null, now).due).toBe("DEEP");
  });

  it("a promotion applies at once: a COLD account's far stored due time is replaced under HOT", () => {
    const stored = { ...never, nextShallowAt: new Date(now.getTime() + 100 * H) };
    const s = schedule(DEFAULT_CADENCE, "HOT", "a1", stored, null, now);
    expect(s.nextShallowAt).toBeNull();
    expect(s.nextDeepAt?.getTime()).toBeLessThanOrEqual(now.getTime() + H);
  });

  it("after a deep pull both times move; after a shallow one only the shallow time", () => {
    const deep = afterPull(DEFAULT_CADENCE, "HOT", "a1", "DEEP", now, never);
    expect(deep).toMatchObject({ lastShallowAt: now, lastDeepAt: now, nextDeepAt: new Date(now.getTime() + H) });
    const before = { ...never, lastDeepAt: new Date(now.getTime() - 5 * H) };
    const shallow = afterPull(DEFAULT_CADENCE, "WARM", "a1", "SHALLOW", now, before);
    expect(shallow).toMatchObject({ lastShallowAt: now, lastDeepAt: before.lastDeepAt, nextShallowAt: new Date(now.getTime() + 6 * H) });
  });

  it("pull-job ids are deterministic per slot; the asking order is HOT → WARM → COLD, deep first", () => {
    expect(cadencePullJobId("a1", "DEEP", "SCHEDULED", now)).toBe(
      cadencePullJobId("a1", "DEEP", "SCHEDULED", new Date(now.getTime() + 30_000)),
    );
    expect(cadencePullJobId("a1", "DEEP", "SCHEDULED", now)).not.toBe(
      cadencePullJobId("a1", "DEEP", "SCHEDULED", new Date(now.getTime() + H)),
    );
    expect(cadencePullJobId("a1", "SHALLOW", "SIGNAL", now)).not.toBe(cadencePullJobId("a1", "SHALLOW", "SCHEDULED", now));
    const p = (tier: "HOT" | "WARM" | "COLD", depth: "SHALLOW" | "DEEP", h: number) => ({
      tier,
      depth,
      slotAt: new Date(now.getTime() - h * H),
      accountId: `${tier}${depth}${h}`,
    });
    const sorted = [
      p("COLD", "SHALLOW", 9),
      p("WARM", "SHALLOW", 1),
      p("HOT", "SHALLOW", 5),
      p("HOT", "DEEP", 1),
      p("HOT", "DEEP", 2),
    ].sort(comparePulls);
    expect(sorted.map((x) => x.accountId)).toEqual(["HOTDEEP2", "HOTDEEP1", "HOTSHALLOW5", "WARMSHALLOW1", "COLDSHALLOW9"]);
  });
});

describe("pull admission (pure half)", () => {
  it("eligibility: no runner, kill switch, disabled, not configured — each its own SKIP reason; ready → null", () => {
    expect(eligibility({ hasRunner: false, availability: null, connectorKillSwitchOn: false })).toEqual({
      result: "SKIP",
      reason: "NO_PULL_RUNNER",
    });
    expect(eligibility({ hasRunner: true, availability: "READY", connectorKillSwitchOn: true })).toEqual({
      result: "SKIP",
      reason: "KILL_SWITCH",
    });
    expect(eligibility({ hasRunner: true, availability: "DISABLED", connectorKillSwitchOn: false })).toEqual({
      result: "SKIP",
      reason: "CONNECTOR_DISABLED",
    });
    expect(eligibility({ hasRunner: true, availability: "NOT_CONFIGURED", connectorKillSwitchOn: false })).toEqual({
      result: "SKIP",
      reason: "CONNECTOR_NOT_CONFIGURED",
    });
    expect(eligibility({ hasRunner: true, availability: "READY", connectorKillSwitchOn: false })).toBeNull();
  });

  it("retry-after: to the next minute window for a rate limit, to the next UTC midnight for the budget", () => {
    expect(rateLimitedRetryAfter(new Date("2026-03-02T10:00:15.000Z"))).toBe(45);
    expect(rateLimitedRetryAfter(new Date("2026-03-02T10:00:59.500Z"))).toBe(1);
    expect(budgetRetryAfter(new Date("2026-03-02T23:00:00.000Z"))).toBe(3600);
    expect(budgetRetryAfter(new Date("2026-03-02T00:00:00.000Z"))).toBe(86_400);
  });

  it("remaining units: the smaller of the tenant's and the connector's; unreadable caps are dropped", () => {
    const s = { unitsPerDay: 10, perConnector: readPerConnector({ crm: 4, bad: -1, worse: "x", half: 1.5 }) };
    expect(s.perConnector).toEqual({ crm: 4 });
    expect(remainingFor(s, { total: 3, byConnector: { crm: 1 } }, "crm")).toBe(3);
    expect(remainingFor(s, { total: 3, byConnector: {} }, "demo")).toBe(7);
    expect(remainingFor(s, { total: 12, byConnector: {} }, "demo")).toBe(0);
  });
});
