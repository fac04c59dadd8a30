import { describe, expect, it } from "vitest";
import { describeEntry } from "@/components/ledger/describe";

/** The ledger explorer's sentences for the learning loop's entries (SPEC §4.5), from their typed payloads. */
describe("describeEntry for learning entries", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      "NORMALIZATION_MISSING",
      { action_intent_id: "i", status: "REJECTED", decided_at: "2026-01-01T00:00:00.000Z", after_hours: 48 },
      "Outcome missing: a rejected intent had no outcome 48 h after it was decided",
    ],
    [
      "CALIBRATION_COMPLETED",
      { job_id: "j", ok: true, weights_id: "w", version: 3, scope: "TENANT", rows: 120, positives: 70, negatives: 50 },
      "Calibration registered candidate weights v3 from 120 labelled outcomes (70 worth doing, 50 not)",
    ],
    [
      "CALIBRATION_COMPLETED",
      { job_id: "j", ok: true, weights_id: null, version: null, rows: 4 },
      "Calibration finished without a candidate (4 labelled outcomes)",
    ],
    [
      "CALIBRATION_COMPLETED",
      { job_id: "j", ok: false, rows: 0, error: "no labelled outcomes" },
      "Calibration failed: no labelled outcomes (0 labelled outcomes)",
    ],
    [
      "RANKING_WEIGHTS_PROMOTED",
      { weights_id: "w", version: 3, scope: "TENANT", previous_id: null, reason: "shadow gate passed" },
      "Ranking weights v3 promoted to ACTIVE (tenant): “shadow gate passed”",
    ],
    [
      "RANKING_WEIGHTS_ROLLED_BACK",
      { weights_id: "w", restored_id: "v", scope: "GLOBAL", reason: "top-K fell 0.12", automatic: true },
      "Ranking weights rolled back automatically by the promotion guard (global), the previous version is ACTIVE again: “top-K fell 0.12”",
    ],
    [
      "RANKING_WEIGHTS_ROLLED_BACK",
      { weights_id: "w", restored_id: null, scope: "TENANT", reason: "worse picks", automatic: false },
      "Ranking weights rolled back (tenant), the rules ranking ranks again: “worse picks”",
    ],
  ];
  it.each(cases)("%s", (type, payload, line) => {
    expect(describeEntry(type, payload)).toBe(line);
  });

  it("a payload missing a field degrades to the type's name", () => {
    expect(describeEntry("RANKING_WEIGHTS_PROMOTED", { weights_id: "w" })).toBe("Ranking weights promoted");
  });
});
