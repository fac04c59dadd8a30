"use client";

import { useQuery } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { useId, useState } from "react";
import { useTRPC } from "../trpc";
import { Card, ErrorState, LoadingState } from "../ui/primitives";
import { connectorLabel } from "./connector-health";
import type { Target } from "./slo-line-chart";

const COLORS: Record<string, string> = { internal: "#1d4ed8", webhook: "#b45309", email: "#047857", crm: "#7c3aed" };
const RANGES = [1, 6, 24, 48] as const;

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const SloLineChart = dynamic(() => import("./slo-line-chart").then((m) => m.SloLineChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

/**
 * Each connector's own SLO target as lines: connectors that share a value share a line ("target"
 * when all do; else named, in the connector's colour when it is alone on it).
 */
function targetLines(targets: { connector: string; value: number }[]): Target[] {
  const byValue = new Map<number, string[]>();
  for (const t of targets) byValue.set(t.value, [...(byValue.get(t.value) ?? []), t.connector]);
  return [...byValue.entries()].map(([value, names]) => ({
    value,
    label: byValue.size === 1 ? "target" : `${names.map(connectorLabel).join(", ")} target`,
    color: names.length === 1 && byValue.size > 1 ? (COLORS[names[0] as string] ?? "#b91c1c") : "#b91c1c",
  }));
}

/** One line per connector over time; the figures are also summed up in the caption (colour is never the only cue). */
function SeriesChart({
  title,
  rows,
  connectors,
  unit,
  targets,
  summary,
  testId,
}: {
  title: string;
  rows: Record<string, number | null>[];
  connectors: string[];
  unit: string;
  targets: Target[];
  summary: string;
  testId: string;
}) {
  const captionId = useId();
  return (
    <figure className="space-y-1" data-testid={testId}>
      <h3 className="text-sm font-medium text-slate-800">{title}</h3>
      <div role="img" aria-labelledby={captionId} className="h-52 w-full">
        <SloLineChart rows={rows} connectors={connectors} colors={COLORS} unit={unit} targets={targets} />
      </div>
      <figcaption id={captionId} className="text-xs text-slate-600">
        {summary}
      </figcaption>
    </figure>
  );
}

/** p99 latency and error rate per connector over the chosen hours, each against its connector's own SLO target. */
export function SloCharts() {
  const trpc = useTRPC();
  const [hours, setHours] = useState<(typeof RANGES)[number]>(6);
  const selectId = useId();
  const q = useQuery({ ...trpc.reliability.series.queryOptions({ hours }), refetchInterval: 30_000 });

  const body = (() => {
    if (q.isPending) return <LoadingState label="Loading latency history…" />;
    if (q.isError || !q.data) return <ErrorState message={q.error?.message ?? "Could not load the history"} onRetry={() => q.refetch()} />;
    const used = q.data.connectors.filter((c) => c.points.some((p) => p.calls > 0 || p.refused > 0));
    if (used.length === 0) return <p className="text-sm text-slate-600">No connector was called in the last {hours} hours.</p>;
    const times = used[0]?.points.map((p) => p.t) ?? [];
    const latency = times.map((t, i) => {
      const row: Record<string, number | null> = { t };
      for (const c of used) row[c.connector] = c.points[i]?.p99Ms ?? null;
      return row;
    });
    const errors = times.map((t, i) => {
      const row: Record<string, number | null> = { t };
      for (const c of used) {
        const rate = c.points[i]?.errorRate;
        row[c.connector] = rate === null || rate === undefined ? null : Math.round(rate * 1000) / 10;
      }
      return row;
    });
    const perConnector = (pick: (c: (typeof used)[number]) => string) =>
      used.map((c) => `${connectorLabel(c.connector)}: ${pick(c)}`).join("; ");
    const worst = (c: (typeof used)[number], key: "p99Ms" | "errorRate") =>
      c.points.reduce<number | null>((m, p) => (p[key] === null ? m : Math.max(m ?? 0, p[key] as number)), null);
    return (
      <div className="grid gap-6 lg:grid-cols-2">
        <SeriesChart
          title="p99 latency (ms)"
          rows={latency}
          connectors={used.map((c) => c.connector)}
          unit=" ms"
          targets={targetLines(used.map((c) => ({ connector: c.connector, value: c.slo.p99Ms })))}
          testId="chart-p99"
          summary={`Highest p99 per ${Math.round(q.data.bucketMs / 60_000)}-minute bucket: ${perConnector((c) => {
            const w = worst(c, "p99Ms");
            return w === null ? "no calls" : `${w} ms`;
          })}. Targets: ${perConnector((c) => `${c.slo.p99Ms} ms`)}.`}
        />
        <SeriesChart
          title="Error rate (%)"
          rows={errors}
          connectors={used.map((c) => c.connector)}
          unit=" %"
          targets={targetLines(used.map((c) => ({ connector: c.connector, value: Math.round(c.slo.errorRate * 1000) / 10 })))}
          testId="chart-errors"
          summary={`Highest error rate per bucket: ${perConnector((c) => {
            const w = worst(c, "errorRate");
            return w === null ? "no calls" : `${Math.round(w * 1000) / 10} %`;
          })}; calls turned away by a breaker or the cap: ${perConnector((c) => String(c.points.reduce((n, p) => n + p.refused, 0)))}. Targets: ${perConnector((c) => `${Math.round(c.slo.errorRate * 1000) / 10} %`)}.`}
        />
      </div>
    );
  })();

  return (
    <Card
      title="Latency and errors over time"
      actions={
        <span className="flex items-center gap-2 text-sm">
          <label htmlFor={selectId} className="text-slate-700">
            Range
          </label>
          <select
            id={selectId}
            value={hours}
            onChange={(e) => setHours(Number(e.target.value) as (typeof RANGES)[number])}
            className="rounded-md border border-slate-300 px-2 py-1"
          >
            {RANGES.map((h) => (
              <option key={h} value={h}>
                last {h} {h === 1 ? "hour" : "hours"}
              </option>
            ))}
          </select>
        </span>
      }
    >
      <div className="px-4 py-3">{body}</div>
    </Card>
  );
}
