import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTION_TYPE_NAMES, ACTION_TYPES } from "@/server/engine/actions";
import {
  gapCutoff,
  inGap,
  LABEL_FOR_STATUS,
  missingLabel,
  OUTCOME_LABELS,
  OUTREACH_ACTION_TYPES,
  RESPONSE_SIGNAL_TYPES,
  type ResponseSignal,
  responseLabelOf,
  responseOutcome,
  responseWindowEnd,
  trainingLabel,
} from "@/server/engine/outcomes";
import { SIGNAL_TYPES } from "@/server/engine/signals";

const H = 3_600_000;
const D = 24 * H;
const t0 = new Date("2026-03-02T10:00:00Z");
const at = (ms: number) => new Date(t0.getTime() + ms);
const sig = (id: string, type: string, ms: number, evidence: unknown = {}): ResponseSignal => ({ id, type, occurredAt: at(ms), evidence });
const exec = (status: string) => ({ id: "e1", status });

describe("missingLabel: the label a decided intent's status implies", () => {
  it.each([
    ["BLOCKED", "IDEA_BLOCKED"],
    ["REJECTED", "IDEA_REJECTED"],
    ["SUPERSEDED", "IDEA_EDITED"],
    ["EXPIRED", "IDEA_EXPIRED"],
  ])("%s without %s → that label, no execution", (status, label) => {
    expect(missingLabel({ status, labels: [], execution: null })).toEqual({ kind: "RECORD", label, executionId: null });
    expect(missingLabel({ status, labels: [label], execution: null })).toEqual({ kind: "COMPLETE" });
  });

  it.each([
    ["SUCCEEDED", "EXECUTION_SUCCEEDED"],
    ["FAILED", "EXECUTION_FAILED"],
  ])("%s needs its own execution ended the same way before %s is recorded on it", (status, label) => {
    expect(missingLabel({ status, labels: [], execution: exec(status) })).toEqual({ kind: "RECORD", label, executionId: "e1" });
    expect(missingLabel({ status, labels: [label], execution: exec(status) })).toEqual({ kind: "COMPLETE" });
    // No execution, or one that says otherwise: not guessed.
    expect(missingLabel({ status, labels: [], execution: null })).toEqual({ kind: "UNKNOWN" });
    expect(missingLabel({ status, labels: [], execution: exec("EXECUTING") })).toEqual({ kind: "UNKNOWN" });
    expect(missingLabel({ status, labels: [], execution: exec(status === "SUCCEEDED" ? "FAILED" : "SUCCEEDED") })).toEqual({
      kind: "UNKNOWN",
    });
  });

  it("a replay's outcome does not stand in for the original's: FAILED with only a replay's EXECUTION_SUCCEEDED still needs EXECUTION_FAILED", () => {
    expect(missingLabel({ status: "FAILED", labels: ["EXECUTION_SUCCEEDED"], execution: exec("FAILED") })).toMatchObject({
      kind: "RECORD",
      label: "EXECUTION_FAILED",
    });
  });

  it("a response label does not satisfy the execution label", () => {
    expect(missingLabel({ status: "SUCCEEDED", labels: ["NO_RESPONSE"], execution: exec("SUCCEEDED") })).toMatchObject({
      kind: "RECORD",
      label: "EXECUTION_SUCCEEDED",
    });
  });

  it.each(["APPROVED", "EXECUTING", "AUTO_APPROVED", "SOMETHING_NEW"])("%s (decided, stuck or unknown) is not guessed", (status) => {
    expect(missingLabel({ status, labels: [], execution: exec("EXECUTING") })).toEqual({ kind: "UNKNOWN" });
  });

  it.each(["PROPOSED", "PENDING_APPROVAL"])("%s waits for a decision: nothing is due", (status) => {
    expect(missingLabel({ status, labels: [], execution: null })).toEqual({ kind: "UNDECIDED" });
  });

  it("every implied label is in the taxonomy", () => {
    for (const label of Object.values(LABEL_FOR_STATUS)) expect(OUTCOME_LABELS).toContain(label);
  });

  it("property: a RECORD verdict names a label the intent does not have yet, and is the one its status implies", () => {
    const statuses = [...Object.keys(LABEL_FOR_STATUS), "APPROVED", "EXECUTING", "PENDING_APPROVAL"];
    fc.assert(
      fc.property(
        fc.constantFrom(...statuses),
        fc.subarray([...OUTCOME_LABELS]),
        fc.option(fc.constantFrom("SUCCEEDED", "FAILED", "EXECUTING")),
        (status, labels, execStatus) => {
          const v = missingLabel({ status, labels, execution: execStatus ? exec(execStatus) : null });
          if (v.kind === "RECORD") {
            expect(labels).not.toContain(v.label);
            expect(LABEL_FOR_STATUS[status as keyof typeof LABEL_FOR_STATUS]).toBe(v.label);
          }
        },
      ),
    );
  });
});

describe("inGap: decided, no outcome, after N hours", () => {
  const decidedAt = t0;
  it("exactly at N hours after the decision is a gap; a millisecond before is not", () => {
    expect(inGap({ status: "APPROVED", decidedAt, outcomes: 0 }, at(24 * H), 24)).toBe(true);
    expect(inGap({ status: "APPROVED", decidedAt, outcomes: 0 }, at(24 * H - 1), 24)).toBe(false);
    expect(gapCutoff(at(24 * H), 24)).toEqual(decidedAt);
  });

  it("any outcome, no decision yet, or a status still waiting for someone: not a gap", () => {
    expect(inGap({ status: "APPROVED", decidedAt, outcomes: 1 }, at(100 * H), 24)).toBe(false);
    expect(inGap({ status: "APPROVED", decidedAt: null, outcomes: 0 }, at(100 * H), 24)).toBe(false);
    // The gate stamps decidedAt on an intent it sent to a human; the human has not decided yet.
    expect(inGap({ status: "PENDING_APPROVAL", decidedAt, outcomes: 0 }, at(100 * H), 24)).toBe(false);
  });
});

describe("response windows on outreach", () => {
  it("outreach is exactly the external-contact action types", () => {
    expect([...OUTREACH_ACTION_TYPES].sort()).toEqual(ACTION_TYPE_NAMES.filter((t) => ACTION_TYPES[t].externalContact).sort());
    expect(OUTREACH_ACTION_TYPES).toEqual(
      expect.arrayContaining(["SEND_EMAIL", "REQUEST_RENEWAL_MEETING", "REQUEST_DISCOVERY_CALL", "REQUEST_STAKEHOLDER_INTRO"]),
    );
    expect(OUTREACH_ACTION_TYPES).not.toContain("DRAFT_EMAIL");
  });

  it("every response signal type is a signal type, and says something", () => {
    for (const type of RESPONSE_SIGNAL_TYPES) {
      expect(SIGNAL_TYPES).toContain(type);
      expect(responseLabelOf({ type, evidence: {} })).not.toBeNull();
    }
  });

  it.each([
    ["EMAIL_REPLY_RECEIVED", {}, "RESPONSE_RECEIVED"],
    ["EMAIL_REPLY_RECEIVED", { sentiment: "positive" }, "RESPONSE_RECEIVED"],
    ["EMAIL_REPLY_RECEIVED", { sentiment: "negative" }, "NEGATIVE_RESPONSE"],
    ["EMAIL_REPLY_RECEIVED", ["negative"], "RESPONSE_RECEIVED"],
    ["EMAIL_REPLY_RECEIVED", null, "RESPONSE_RECEIVED"],
    ["MEETING_BOOKED", { sentiment: "negative" }, "RESPONSE_RECEIVED"],
    ["EMAIL_BOUNCED", {}, "NEGATIVE_RESPONSE"],
    ["UNSUBSCRIBED", {}, "NEGATIVE_RESPONSE"],
    ["USAGE_TREND_CHANGE", {}, null],
  ])("%s with evidence %j → %s", (type, evidence, label) => {
    expect(responseLabelOf({ type, evidence })).toBe(label);
  });

  const w = { start: t0, days: 7 };
  const end = 7 * D;

  it("a reply inside the window closes it at once, even while it is still open", () => {
    const reply = sig("s1", "EMAIL_REPLY_RECEIVED", 2 * D);
    expect(responseOutcome(w, at(3 * D), [reply])).toEqual({ label: "RESPONSE_RECEIVED", signal: reply, windowEnd: at(end) });
  });

  it("open with no answer → nothing yet; ended with none → NO_RESPONSE, from exactly the window's end", () => {
    expect(responseOutcome(w, at(end - 1), [])).toBeNull();
    expect(responseOutcome(w, at(end), [])).toEqual({ label: "NO_RESPONSE", signal: null, windowEnd: at(end) });
    expect(responseWindowEnd(t0, 7)).toEqual(at(end));
  });

  it("the window is [start, end): a signal at the start counts, one exactly at the end or before the start does not", () => {
    expect(responseOutcome(w, at(end), [sig("s", "EMAIL_BOUNCED", 0)])?.label).toBe("NEGATIVE_RESPONSE");
    expect(responseOutcome(w, at(end), [sig("s", "EMAIL_BOUNCED", end)])?.label).toBe("NO_RESPONSE");
    expect(responseOutcome(w, at(end), [sig("s", "EMAIL_BOUNCED", -1)])?.label).toBe("NO_RESPONSE");
    expect(responseOutcome(w, at(end), [sig("s", "EMAIL_BOUNCED", end - 1)])?.label).toBe("NEGATIVE_RESPONSE");
    // Not ended yet and the only signal lies past the end: still open.
    expect(responseOutcome(w, at(end - 1), [sig("s", "EMAIL_BOUNCED", end)])).toBeNull();
  });

  it("the first response by occurredAt decides, then by id; other signal types are ignored", () => {
    const later = sig("a", "EMAIL_REPLY_RECEIVED", 3 * D);
    const earlier = sig("z", "UNSUBSCRIBED", 1 * D);
    const noise = sig("0", "USAGE_TREND_CHANGE", 1);
    expect(responseOutcome(w, at(end), [later, noise, earlier])).toMatchObject({ label: "NEGATIVE_RESPONSE", signal: earlier });
    const tieA = sig("a", "MEETING_BOOKED", D);
    const tieB = sig("b", "EMAIL_BOUNCED", D);
    expect(responseOutcome(w, at(end), [tieB, tieA])).toMatchObject({ label: "RESPONSE_RECEIVED", signal: tieA });
  });

  it("property: the verdict does not depend on the order signals are given in", () => {
    const types = [...RESPONSE_SIGNAL_TYPES, "USAGE_TREND_CHANGE"];
    // Signal ids are unique (primary keys), so the id tie-break is total.
    const arb = fc.uniqueArray(
      fc.record({
        id: fc.string({ minLength: 1, maxLength: 4 }),
        type: fc.constantFrom(...types),
        ms: fc.integer({ min: -D, max: 9 * D }),
        negative: fc.boolean(),
      }),
      { maxLength: 8, selector: (r) => r.id },
    );
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: 10 * D }), (raw, nowMs) => {
        const signals = raw.map((r) => sig(r.id, r.type, r.ms, r.negative ? { sentiment: "negative" } : {}));
        const a = responseOutcome(w, at(nowMs), signals);
        const b = responseOutcome(w, at(nowMs), [...signals].reverse());
        expect(b?.label ?? null).toBe(a?.label ?? null);
        expect(b?.signal?.occurredAt ?? null).toEqual(a?.signal?.occurredAt ?? null);
        // A verdict before the end only ever comes from a signal inside the window.
        if (a && nowMs < end) expect(a.signal).not.toBeNull();
      }),
    );
  });
});

describe("trainingLabel over the labels normalize records", () => {
  it("what the recipient did outweighs what the seller did; blocked and auto-executed ideas teach nothing", () => {
    expect(trainingLabel(["EXECUTION_SUCCEEDED", "RESPONSE_RECEIVED"], false)).toBe(1);
    expect(trainingLabel(["EXECUTION_SUCCEEDED", "NO_RESPONSE"], false)).toBe(0);
    expect(trainingLabel(["IDEA_EDITED", "EXECUTION_SUCCEEDED", "NEGATIVE_RESPONSE"], false)).toBe(0);
    expect(trainingLabel(["IDEA_BLOCKED"], false)).toBeNull();
    expect(trainingLabel(["IDEA_EXPIRED"], false)).toBe(0);
    expect(trainingLabel(["EXECUTION_SUCCEEDED"], true)).toBeNull();
  });
});
