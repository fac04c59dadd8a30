import { describe, expect, it } from "vitest";
import {
  DEFAULT_CADENCES,
  decideFire,
  fireAt,
  hourKey,
  hourlyCapExceeded,
  nextHour,
  onTriggerEvent,
  RITUALS,
  type RunCounters,
  runIdempotencyKey,
  DEFAULT_TRIGGER_SETTINGS as S,
  TRIGGER_TYPES,
  type TriggerSettings,
  type TriggerWindow,
} from "@/server/engine/triggers";

/**
 * Trigger boundaries a revenue-ops user relies on: when a burst fires, how long a drizzle can
 * postpone it, cooldown and hourly caps to the second, and the words of each suppression
 * (mutation testing, issue 7).
 */
const t0 = new Date("2026-03-02T10:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const idle: RunCounters = { accountLastRunAt: null, accountRunsThisHour: 0, tenantRunsThisHour: 0 };
const win = (openedAt: number, lastEventAt: number, events = 1): TriggerWindow => ({
  openedAt: at(openedAt),
  lastEventAt: at(lastEventAt),
  events,
});
const FIRE = (now: Date, s: TriggerSettings = S) => ({
  kind: "FIRE",
  caps: { account: s.perAccountHourlyCap, tenant: s.perTenantHourlyCap },
  hourKey: hourKey(now),
});

describe("trigger defaults", () => {
  it("signals wait 60 s of quiet (at most 5 min); lifecycle and posture changes 30 s (at most 2 min); rituals fire at once", () => {
    expect(S).toEqual({
      debounceSeconds: {
        SIGNAL_ARRIVED: 60,
        LIFECYCLE_STATE_CHANGE: 30,
        POSTURE_CHANGE: 30,
        TIME_RITUAL_DAILY_BRIEF: 0,
        TIME_RITUAL_WEEKLY_REVIEW: 0,
        TIME_RITUAL_RENEWAL_RUNWAY: 0,
      },
      maxWaitSeconds: {
        SIGNAL_ARRIVED: 300,
        LIFECYCLE_STATE_CHANGE: 120,
        POSTURE_CHANGE: 120,
        TIME_RITUAL_DAILY_BRIEF: 0,
        TIME_RITUAL_WEEKLY_REVIEW: 0,
        TIME_RITUAL_RENEWAL_RUNWAY: 0,
      },
      cooldownSeconds: 600,
      perAccountHourlyCap: 4,
      perTenantHourlyCap: 200,
    });
  });

  it("rituals: daily brief 08:00 on weekdays, weekly review Monday 09:00, renewal runway the 1st at 07:00", () => {
    expect(RITUALS).toEqual(["TIME_RITUAL_DAILY_BRIEF", "TIME_RITUAL_WEEKLY_REVIEW", "TIME_RITUAL_RENEWAL_RUNWAY"]);
    expect(DEFAULT_CADENCES).toEqual({
      TIME_RITUAL_DAILY_BRIEF: "0 8 * * 1-5",
      TIME_RITUAL_WEEKLY_REVIEW: "0 9 * * 1",
      TIME_RITUAL_RENEWAL_RUNWAY: "0 7 1 * *",
    });
    expect(TRIGGER_TYPES).toEqual(["SIGNAL_ARRIVED", "LIFECYCLE_STATE_CHANGE", "POSTURE_CHANGE", ...RITUALS]);
  });
});

describe("debounce windows", () => {
  it("the first event opens a window due after the quiet period", () => {
    expect(onTriggerEvent(null, "SIGNAL_ARRIVED", at(0), S)).toEqual({
      kind: "OPENED",
      window: { openedAt: at(0), lastEventAt: at(0), events: 1 },
      fireAt: at(60),
    });
    expect(onTriggerEvent(null, "LIFECYCLE_STATE_CHANGE", at(0), S).fireAt).toEqual(at(30));
    expect(onTriggerEvent(null, "TIME_RITUAL_DAILY_BRIEF", at(0), S).fireAt).toEqual(at(0));
  });

  it("a later event joins the window: same opening, one more event, quiet deadline pushed out", () => {
    const opened = onTriggerEvent(null, "SIGNAL_ARRIVED", at(0), S).window;
    expect(onTriggerEvent(opened, "SIGNAL_ARRIVED", at(45), S)).toEqual({
      kind: "COALESCED",
      window: { openedAt: at(0), lastEventAt: at(45), events: 2 },
      fireAt: at(105),
    });
    expect(onTriggerEvent(win(0, 45, 7), "SIGNAL_ARRIVED", at(50), S).window.events).toBe(8);
  });

  it("the window fires at the earlier of quiet deadline and max wait", () => {
    // quiet deadline 60 s after the last event, unless that is past 300 s after opening
    expect(fireAt(win(0, 100), "SIGNAL_ARRIVED", S)).toEqual(at(160));
    expect(fireAt(win(0, 240), "SIGNAL_ARRIVED", S)).toEqual(at(300));
    expect(fireAt(win(0, 280), "SIGNAL_ARRIVED", S)).toEqual(at(300));
    expect(fireAt(win(0, 100), "POSTURE_CHANGE", S)).toEqual(at(120));
    expect(fireAt(win(0, 10), "POSTURE_CHANGE", S)).toEqual(at(40));
  });
});

describe("deciding whether a due window fires", () => {
  it("waits until the due second, then fires with the hourly caps and the UTC hour", () => {
    const w = win(0, 0);
    expect(decideFire(w, "SIGNAL_ARRIVED", at(59.999), idle, S)).toEqual({ kind: "WAIT", until: at(60) });
    expect(decideFire(w, "SIGNAL_ARRIVED", at(60), idle, S)).toEqual(FIRE(at(60)));
    expect(FIRE(at(60)).hourKey).toBe("2026-03-02T10");
    expect(decideFire(w, "SIGNAL_ARRIVED", at(3600), idle, S)).toEqual({ ...FIRE(at(3600)), hourKey: "2026-03-02T11" });
  });

  it("cooldown: a run 599 s after the last one is suppressed until the 600th second; at 600 s it fires", () => {
    const w = win(0, 0);
    const counters = { ...idle, accountLastRunAt: at(-539) };
    expect(decideFire(w, "SIGNAL_ARRIVED", at(60), counters, S)).toEqual({
      kind: "SUPPRESS",
      reason: "COOLDOWN",
      explanation: "This account had a decision run less than 10 minutes ago.",
      retryAt: at(61),
    });
    expect(decideFire(w, "SIGNAL_ARRIVED", at(60), { ...idle, accountLastRunAt: at(-540) }, S)).toEqual(FIRE(at(60)));
  });

  it("the cooldown explanation states the configured minutes, rounded", () => {
    const s = { ...S, cooldownSeconds: 90 };
    expect(decideFire(win(0, 0), "SIGNAL_ARRIVED", at(60), { ...idle, accountLastRunAt: at(0) }, s)).toMatchObject({
      explanation: "This account had a decision run less than 2 minutes ago.",
      retryAt: at(90),
    });
  });

  it("cooldown is checked before the caps", () => {
    const counters = { accountLastRunAt: at(0), accountRunsThisHour: 99, tenantRunsThisHour: 999 };
    expect(decideFire(win(0, 0), "SIGNAL_ARRIVED", at(60), counters, S)).toMatchObject({ reason: "COOLDOWN" });
  });

  it("the account's 4th run this hour fires; a 5th is refused until the next hour", () => {
    const w = win(0, 0);
    expect(decideFire(w, "SIGNAL_ARRIVED", at(60), { ...idle, accountRunsThisHour: 3 }, S)).toEqual(FIRE(at(60)));
    expect(decideFire(w, "SIGNAL_ARRIVED", at(60), { ...idle, accountRunsThisHour: 4 }, S)).toEqual({
      kind: "SUPPRESS",
      reason: "HOURLY_CAP",
      explanation: "This account already had 4 decision runs this hour.",
      retryAt: new Date("2026-03-02T11:00:00Z"),
    });
  });

  it("the workspace's 200th run this hour fires; a 201st is refused, in the workspace's words", () => {
    const w = win(0, 0);
    expect(decideFire(w, "SIGNAL_ARRIVED", at(60), { ...idle, tenantRunsThisHour: 199 }, S)).toEqual(FIRE(at(60)));
    expect(decideFire(w, "SIGNAL_ARRIVED", at(60), { ...idle, tenantRunsThisHour: 200 }, S)).toEqual({
      kind: "SUPPRESS",
      reason: "HOURLY_CAP",
      explanation: "Your workspace already had 200 decision runs this hour.",
      retryAt: new Date("2026-03-02T11:00:00Z"),
    });
  });

  it("a refused cap reported by the caller names its scope and the configured cap", () => {
    const s = { ...S, perAccountHourlyCap: 2, perTenantHourlyCap: 9 };
    expect(hourlyCapExceeded("ACCOUNT", at(1799), s).explanation).toBe("This account already had 2 decision runs this hour.");
    expect(hourlyCapExceeded("TENANT", at(1799), s)).toEqual({
      kind: "SUPPRESS",
      reason: "HOURLY_CAP",
      explanation: "Your workspace already had 9 decision runs this hour.",
      retryAt: new Date("2026-03-02T11:00:00Z"),
    });
  });
});

describe("hours and run keys", () => {
  it("the next hour starts at the top of the following UTC hour, from any second of this one", () => {
    expect(nextHour(new Date("2026-03-02T10:00:00.000Z"))).toEqual(new Date("2026-03-02T11:00:00.000Z"));
    expect(nextHour(new Date("2026-03-02T10:59:59.999Z"))).toEqual(new Date("2026-03-02T11:00:00.000Z"));
    expect(nextHour(new Date("2026-03-02T23:30:00.000Z"))).toEqual(new Date("2026-03-03T00:00:00.000Z"));
    const input = new Date("2026-03-02T10:30:00Z");
    nextHour(input);
    expect(input).toEqual(new Date("2026-03-02T10:30:00Z")); // the caller's date is not moved
  });

  it("the hour key is the UTC date and hour", () => {
    expect(hourKey(new Date("2026-03-02T23:59:59Z"))).toBe("2026-03-02T23");
  });

  it("one run key per tenant, account, trigger and bucket", () => {
    expect(runIdempotencyKey("t1", "a1", "SIGNAL_ARRIVED", t0)).toBe("t1:a1:SIGNAL_ARRIVED:2026-03-02T10:00:00.000Z");
  });
});
