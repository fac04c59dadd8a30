import { isRealCall, percentile } from "./slo";

/**
 * Latency and error rate over time for the reliability page's charts: the calls the resilience
 * wrapper recorded, cut into equal buckets. Pure; the caller picks the range. Refusals (FAIL_FAST,
 * DEFERRED) never reached the connector, so they count apart and never skew its latency.
 */

export interface SeriesSample {
  at: Date;
  outcome: string;
  durationMs: number;
}

export interface SeriesPoint {
  /** the bucket's start (ms since the epoch, so it charts and serialises as a number) */
  t: number;
  calls: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** 0..1 over the bucket's real calls; null without any */
  errorRate: number | null;
  /** calls the breaker or the concurrency cap turned away in the bucket */
  refused: number;
}

export function sloSeries(samples: readonly SeriesSample[], from: Date, bucketMs: number, buckets: number): SeriesPoint[] {
  const start = from.getTime();
  const cells = Array.from({ length: buckets }, () => ({ durations: [] as number[], errors: 0, refused: 0 }));
  for (const s of samples) {
    const i = Math.floor((s.at.getTime() - start) / bucketMs);
    const cell = cells[i];
    if (!cell) continue; // outside the range
    if (!isRealCall(s.outcome)) cell.refused++;
    else {
      cell.durations.push(s.durationMs);
      if (s.outcome !== "SUCCESS") cell.errors++;
    }
  }
  return cells.map((c, i) => {
    const sorted = c.durations.sort((a, b) => a - b);
    return {
      t: start + i * bucketMs,
      calls: sorted.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      errorRate: sorted.length > 0 ? c.errors / sorted.length : null,
      refused: c.refused,
    };
  });
}
