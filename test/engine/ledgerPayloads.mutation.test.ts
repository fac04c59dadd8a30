import { describe, expect, it } from "vitest";
import { parseLedgerPayload, TYPED_LEDGER_ENTRY_TYPES } from "@/server/engine/ledgerPayloads";

/**
 * The ledger explorer reads every stored payload through these schemas: an entry missing its core
 * fields must show as UNRECOGNIZED (with its raw payload), never as a typed entry with holes
 * (mutation testing, issue 7).
 */
describe("ledger payloads: core fields are required", () => {
  it.each(TYPED_LEDGER_ENTRY_TYPES.map((t) => [t]))("%s: an empty payload is not a typed entry", (type) => {
    expect(parseLedgerPayload(type, {})).toEqual({ type: "UNRECOGNIZED", entryType: type, payload: {} });
    expect(parseLedgerPayload(type, "{}")).toEqual({ type: "UNRECOGNIZED", entryType: type, payload: {} });
  });

  it("a proposal in a synthesis record must name its action type", () => {
    const ok = { run_id: "r1", ok: true, synthesizer: "rules", proposals: [{ action_type: "FLAG_FOR_REVIEW" }] };
    expect(parseLedgerPayload("DECISION_SYNTHESIZED", ok).type).toBe("DECISION_SYNTHESIZED");
    const bad = { ...ok, proposals: [{ rank_score: 0.9 }] };
    expect(parseLedgerPayload("DECISION_SYNTHESIZED", bad)).toEqual({
      type: "UNRECOGNIZED",
      entryType: "DECISION_SYNTHESIZED",
      payload: bad,
    });
  });

  it("a kill switch named in an approval request must say its scope", () => {
    const base = { action_intent_id: "i1", reason: "KILL_SWITCH" };
    expect(parseLedgerPayload("APPROVAL_REQUESTED", { ...base, kill_switch: { scope: "GLOBAL" } }).type).toBe("APPROVAL_REQUESTED");
    expect(parseLedgerPayload("APPROVAL_REQUESTED", { ...base, kill_switch: { key: "x" } }).type).toBe("UNRECOGNIZED");
  });

  it("what is not an object keeps no payload: arrays, null, numbers, text", () => {
    for (const stored of ["[1,2]", "null", "5", '"text"', [{ signal_type: "X" }], null, 7]) {
      expect(parseLedgerPayload("SIGNAL_RECEIVED", stored)).toEqual({ type: "UNRECOGNIZED", entryType: "SIGNAL_RECEIVED", payload: {} });
    }
    // An object that does not fit keeps its raw payload for the explorer to show.
    expect(parseLedgerPayload("SIGNAL_RECEIVED", '{"signal_type":5}')).toEqual({
      type: "UNRECOGNIZED",
      entryType: "SIGNAL_RECEIVED",
      payload: { signal_type: 5 },
    });
  });

  it("a value whose field throws when read is UNRECOGNIZED, not an exception", () => {
    const hostile = Object.defineProperty({}, "signal_type", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    const out = parseLedgerPayload("SIGNAL_RECEIVED", hostile);
    expect(out.type).toBe("UNRECOGNIZED");
    expect(out.payload).toBe(hostile);
  });
});
