import { describe, expect, it } from "vitest";
import { sloSeries } from "@/server/engine/sloSeries";

const from = new Date("2026-11-26T00:00:00.000Z");
const at = (minute: number) => new Date(from.getTime() + minute * 60_000);

describe("sloSeries", () => {
  it("cuts the calls into equal buckets: percentiles and error rate per bucket, refusals apart, outside the range ignored", () => {
    const points = sloSeries(
      [
        { at: at(1), outcome: "SUCCESS", durationMs: 100 },
        { at: at(2), outcome: "SUCCESS", durationMs: 300 },
        { at: at(3), outcome: "ERROR", durationMs: 900 },
        { at: at(4), outcome: "FAIL_FAST", durationMs: 0 },
        { at: at(12), outcome: "TIMEOUT", durationMs: 5000 },
        { at: at(14), outcome: "DEFERRED", durationMs: 0 },
        { at: at(-1), outcome: "ERROR", durationMs: 1 },
        { at: at(30), outcome: "ERROR", durationMs: 1 },
      ],
      from,
      10 * 60_000,
      3,
    );
    expect(points).toEqual([
      { t: from.getTime(), calls: 3, p50Ms: 300, p99Ms: 900, errorRate: 1 / 3, refused: 1 },
      { t: at(10).getTime(), calls: 1, p50Ms: 5000, p99Ms: 5000, errorRate: 1, refused: 1 },
      { t: at(20).getTime(), calls: 0, p50Ms: null, p99Ms: null, errorRate: null, refused: 0 },
    ]);
  });

  it("a refused call never counts as latency: a bucket of refusals only has no percentiles", () => {
    const [p] = sloSeries([{ at: at(0), outcome: "FAIL_FAST", durationMs: 0 }], from, 60_000, 1);
    expect(p).toEqual({ t: from.getTime(), calls: 0, p50Ms: null, p99Ms: null, errorRate: null, refused: 1 });
  });
});
