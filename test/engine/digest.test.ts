import { describe, expect, it } from "vitest";
import {
  addDays,
  coveredDay,
  dayWindow,
  digestDue,
  firstInstantAtOrAfter,
  heldReason,
  isAutonomousStart,
  isBlocked,
  isDateKey,
  localDateKey,
  nextSendAt,
  oneLineWhy,
  readableWhy,
  SEND_WINDOW_HOURS,
} from "@/server/engine/digest";

const H = 3_600_000;
const ny = { enabled: true, email: "seller@example.com", hourLocal: 8, timezone: "America/New_York" };

describe("local day windows", () => {
  it("a plain day is 24 hours from local midnight", () => {
    const w = dayWindow("2026-03-02", "America/New_York");
    expect(w.start.toISOString()).toBe("2026-03-02T05:00:00.000Z");
    expect(w.end.toISOString()).toBe("2026-03-03T05:00:00.000Z");
  });

  it("the spring-forward day in New York is 23 hours, the fall-back day 25", () => {
    const spring = dayWindow("2026-03-08", "America/New_York");
    expect(spring.start.toISOString()).toBe("2026-03-08T05:00:00.000Z");
    expect(spring.end.toISOString()).toBe("2026-03-09T04:00:00.000Z");
    expect(spring.end.getTime() - spring.start.getTime()).toBe(23 * H);
    const fall = dayWindow("2026-11-01", "America/New_York");
    expect(fall.start.toISOString()).toBe("2026-11-01T04:00:00.000Z");
    expect(fall.end.getTime() - fall.start.getTime()).toBe(25 * H);
  });

  it("a zone whose midnight does not exist starts the day at the transition; half-hour offsets", () => {
    // Santiago springs forward at 24:00 on Saturday 2026-09-05: Sunday begins at 01:00 (UTC-3).
    const cl = dayWindow("2026-09-06", "America/Santiago");
    expect(cl.start.toISOString()).toBe("2026-09-06T04:00:00.000Z");
    expect(localDateKey(new Date(cl.start.getTime() - 1), "America/Santiago")).toBe("2026-09-05");
    expect(dayWindow("2026-01-01", "Asia/Kolkata").start.toISOString()).toBe("2025-12-31T18:30:00.000Z");
    expect(dayWindow("2026-01-01", "Pacific/Kiritimati").start.toISOString()).toBe("2025-12-31T10:00:00.000Z");
  });

  it("consecutive days tile time with no gap or overlap across a year of New York days", () => {
    let d = "2026-01-01";
    for (let i = 0; i < 366; i++) {
      const next = addDays(d, 1);
      const w = dayWindow(d, "America/New_York");
      expect(dayWindow(next, "America/New_York").start.getTime()).toBe(w.end.getTime());
      expect(localDateKey(w.start, "America/New_York")).toBe(d);
      expect(localDateKey(new Date(w.end.getTime() - 1000), "America/New_York")).toBe(d);
      d = next;
    }
  });

  it("a skipped local hour begins at the transition", () => {
    // 02:00 does not exist in New York on 2026-03-08; 03:00 EDT (07:00Z) is the first instant at or after it.
    expect(firstInstantAtOrAfter("2026-03-08", 2, "America/New_York").toISOString()).toBe("2026-03-08T07:00:00.000Z");
  });

  it("date keys are real calendar dates", () => {
    expect(isDateKey("2026-02-28")).toBe(true);
    expect(isDateKey("2026-02-30")).toBe(false);
    expect(isDateKey("2026-2-3")).toBe(false);
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28");
  });
});

describe("when a digest is due and which day it covers", () => {
  it("the digest sent on local day D covers D-1, and is due from the local hour for the send window", () => {
    // 08:10 EDT on Monday 2026-03-09 (the day after the change): covers Sunday 2026-03-08.
    expect(digestDue(ny, new Date("2026-03-09T12:10:00Z"))).toEqual({ due: true, dateKey: "2026-03-08" });
    expect(coveredDay(new Date("2026-03-09T12:10:00Z"), "America/New_York")).toBe("2026-03-08");
    // 07:59 EDT: not yet. (12:00Z would be 07:00 under EST: the hour moves with the clocks.)
    expect(digestDue(ny, new Date("2026-03-09T11:59:00Z")).due).toBe(false);
    // At the end of the window: no longer.
    expect(digestDue(ny, new Date(Date.parse("2026-03-09T12:00:00Z") + SEND_WINDOW_HOURS * H)).due).toBe(false);
    expect(digestDue(ny, new Date(Date.parse("2026-03-09T12:00:00Z") + SEND_WINDOW_HOURS * H - 1)).due).toBe(true);
  });

  it("on the spring-forward day the local hour moves by one UTC hour", () => {
    // 08:00 on 2026-03-08 is EDT (12:00Z); on 2026-03-07 it was EST (13:00Z).
    expect(digestDue(ny, new Date("2026-03-08T12:30:00Z"))).toEqual({ due: true, dateKey: "2026-03-07" });
    expect(digestDue(ny, new Date("2026-03-07T12:30:00Z")).due).toBe(false);
    expect(digestDue(ny, new Date("2026-03-07T13:30:00Z"))).toEqual({ due: true, dateKey: "2026-03-06" });
  });

  it("a digest set at an hour that the DST change skips still goes out that day", () => {
    const two = { ...ny, hourLocal: 2 };
    expect(digestDue(two, new Date("2026-03-08T07:05:00Z"))).toEqual({ due: true, dateKey: "2026-03-07" });
  });

  it("already sent, disabled or unconfigured: not due", () => {
    expect(digestDue(ny, new Date("2026-03-09T12:10:00Z"), (d) => d === "2026-03-08")).toMatchObject({
      due: false,
      reason: "ALREADY_SENT",
    });
    expect(digestDue({ ...ny, enabled: false }, new Date("2026-03-09T12:10:00Z"))).toMatchObject({ due: false, reason: "NOT_CONFIGURED" });
    expect(digestDue({ ...ny, email: "nope" }, new Date("2026-03-09T12:10:00Z")).due).toBe(false);
  });

  it("the next send time is today's hour if still ahead, else tomorrow's", () => {
    expect(nextSendAt(ny, new Date("2026-03-09T11:00:00Z"))?.toISOString()).toBe("2026-03-09T12:00:00.000Z");
    expect(nextSendAt(ny, new Date("2026-03-09T12:00:00Z"))?.toISOString()).toBe("2026-03-10T12:00:00.000Z");
    // Saturday evening before the change: Sunday's 08:00 is already EDT.
    expect(nextSendAt(ny, new Date("2026-03-07T23:00:00Z"))?.toISOString()).toBe("2026-03-08T12:00:00.000Z");
    expect(nextSendAt({ ...ny, enabled: false }, new Date())).toBeNull();
  });
});

describe("classifying the day's ledger entries", () => {
  it("an autonomous act is an auto-executed start, not a sweeper retry of it", () => {
    expect(isAutonomousStart({ auto_executed: true })).toBe(true);
    expect(isAutonomousStart({ auto_executed: true, retry: true })).toBe(false);
    expect(isAutonomousStart({ auto_executed: false })).toBe(false);
    expect(isAutonomousStart({})).toBe(false);
  });

  it("blocked is policy's BLOCK; held is a person asked instead for a hold-back reason", () => {
    expect(isBlocked({ decision: "BLOCK" })).toBe(true);
    expect(isBlocked({ decision: "REQUIRE_APPROVAL" })).toBe(false);
    expect(heldReason({ decision: "REQUIRE_APPROVAL", reason: "NOT_OPTED_IN" })).toBe("NOT_OPTED_IN");
    expect(heldReason({ decision: "REQUIRE_APPROVAL", reason: "BUDGET_EXHAUSTED" })).toBe("BUDGET_EXHAUSTED");
    expect(heldReason({ decision: "REQUIRE_APPROVAL", reason: "RISK_LEVEL_HIGH" })).toBeNull();
    expect(heldReason({ decision: "BLOCK", reason: "KILL_SWITCH_ACTIVE" })).toBeNull();
  });

  it("one line of why: policy's explanation or the stated reason, whichever is preferred, else the other", () => {
    expect(oneLineWhy({ explanation: "Policy allows it.\nMore.", why: "[]" })).toBe("Policy allows it.");
    expect(oneLineWhy({ explanation: null, why: '["RENEWAL_WINDOW_ENTERED"]' })).toBe("RENEWAL_WINDOW_ENTERED");
    expect(oneLineWhy({ explanation: null, why: "not json" })).toBe("No reason recorded");
    expect(oneLineWhy(null)).toBe("No reason recorded");
    expect(oneLineWhy({ explanation: "Policy allows it.", why: '["RENEWAL_WINDOW_ENTERED"]' }, "stated")).toBe("RENEWAL_WINDOW_ENTERED");
    expect(oneLineWhy({ explanation: "Policy allows it.", why: "[]" }, "stated")).toBe("Policy allows it.");
    expect(readableWhy("RENEWAL_WINDOW_ENTERED")).toBe("Renewal window entered");
    expect(readableWhy("Autopilot is 74% confident.")).toBe("Autopilot is 74% confident.");
  });
});
