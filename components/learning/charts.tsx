"use client";

import { useId } from "react";
import {
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { fmtInt, type HistoryView, metric, versionName } from "./format";

const AXIS = { tick: { fill: "#475569", fontSize: 12 }, stroke: "#94a3b8" };

export interface ReliabilityBin {
  bin: number;
  count: number;
  mean_predicted: number | null;
  observed: number | null;
}

/**
 * A version's reliability diagram: per bin of predicted probability, the mean predicted vs the
 * share observed positive on the holdout, beside the diagonal a perfectly calibrated model sits
 * on. Counts are in the tooltip and, for every bin, in the caption.
 */
export function ReliabilityChart({ bins, height = 220 }: { bins: ReliabilityBin[]; height?: number }) {
  const titleId = useId();
  const points = bins
    .filter((b) => b.count > 0 && b.mean_predicted !== null && b.observed !== null)
    .map((b) => ({ predicted: b.mean_predicted as number, observed: b.observed as number, count: b.count, bin: b.bin }));
  const total = points.reduce((s, p) => s + p.count, 0);
  const summary = points.map((p) => `${metric(p.predicted)} → ${metric(p.observed)} (${fmtInt.format(p.count)})`).join(", ");
  return (
    <figure className="space-y-1" data-testid="reliability-chart">
      <div role="img" aria-labelledby={titleId} style={{ height }} className="w-full">
        <ResponsiveContainer width="100%" height="100%">
          <ScatterChart margin={{ top: 8, right: 16, bottom: 20, left: 0 }} accessibilityLayer={false}>
            <CartesianGrid stroke="#e2e8f0" />
            <XAxis
              type="number"
              dataKey="predicted"
              domain={[0, 1]}
              ticks={[0, 0.2, 0.4, 0.6, 0.8, 1]}
              name="Mean predicted"
              label={{ value: "mean predicted", position: "insideBottom", offset: -12, fill: "#475569", fontSize: 12 }}
              {...AXIS}
            />
            <YAxis
              type="number"
              dataKey="observed"
              domain={[0, 1]}
              ticks={[0, 0.2, 0.4, 0.6, 0.8, 1]}
              name="Observed"
              width={40}
              {...AXIS}
            />
            <ReferenceLine
              segment={[
                { x: 0, y: 0 },
                { x: 1, y: 1 },
              ]}
              stroke="#94a3b8"
              strokeDasharray="4 4"
              ifOverflow="extendDomain"
            />
            <Tooltip
              cursor={{ strokeDasharray: "3 3" }}
              formatter={(v, name) => [metric(Number(v)), String(name)]}
              labelFormatter={() => ""}
              content={({ active, payload }) => {
                const p = payload?.[0]?.payload as (typeof points)[number] | undefined;
                if (!active || !p) return null;
                return (
                  <div className="rounded-md border border-slate-200 bg-white px-2 py-1 text-xs text-slate-800 shadow-sm">
                    Bin {metric(p.bin)}–{metric(p.bin + 0.1)}: predicted {metric(p.predicted)}, observed {metric(p.observed)} ·{" "}
                    {fmtInt.format(p.count)} rows
                  </div>
                );
              }}
            />
            <Scatter data={points} fill="#2563eb" line={{ stroke: "#2563eb" }} isAnimationActive={false} shape="circle" />
          </ScatterChart>
        </ResponsiveContainer>
      </div>
      <figcaption id={titleId} className="text-xs text-slate-600">
        Reliability on {fmtInt.format(total)} holdout rows (dashed: perfect calibration). Predicted → observed (rows):{" "}
        {summary || "no bins with rows"}
      </figcaption>
    </figure>
  );
}

type Point = HistoryView["items"][number];

const PALETTE = ["#2563eb", "#7c3aed", "#0d9488", "#c2410c", "#be185d", "#4d7c0f"];
const INCUMBENT = "Incumbent ranking";
const REPLACED = "Replaced ranking (guard)";

function seriesName(p: Point) {
  return `${versionName(p)} ${p.kind === "GUARD" ? "guard" : "shadow"}`;
}

/**
 * Shadow metrics over time: each candidate's SHADOW value beside the incumbent's on the same
 * proposals, and after a promotion the GUARD value beside the ranking it replaced. Series differ
 * by dash and marker as well as colour; the caption says the latest number of each in words.
 */
export function ShadowHistoryChart({ history, height = 260 }: { history: HistoryView; height?: number }) {
  const titleId = useId();
  const names: string[] = [];
  const data = history.items.map((p) => {
    const name = seriesName(p);
    if (!names.includes(name)) names.push(name);
    const row: Record<string, number | null> = { t: new Date(p.at).getTime(), [name]: p.value };
    row[p.kind === "GUARD" ? REPLACED : INCUMBENT] = p.baseline_value;
    return row;
  });
  const hasGuard = history.items.some((p) => p.kind === "GUARD");
  const latest = new Map<string, Point>();
  for (const p of history.items) latest.set(seriesName(p), p);
  const lastBaseline = [...history.items].reverse().find((p) => p.kind === "SHADOW")?.baseline_value ?? null;
  const summary = [...latest.entries()]
    .map(
      ([name, p]) =>
        `${name} latest ${metric(p.value)} vs ${p.kind === "GUARD" ? "replaced" : "incumbent"} ${metric(p.baseline_value)} on ${fmtInt.format(p.sample)} proposals (${p.passed ? "passed" : p.kind === "GUARD" ? "regressed" : "not passed"})`,
    )
    .join("; ");
  // Within two days the day alone repeats on every tick: show the UTC time too.
  const times = data.map((d) => d.t as number);
  const short = times.length > 0 && Math.max(...times) - Math.min(...times) < 2 * 86_400_000;
  const fmtDay = (t: number) =>
    new Date(t)
      .toISOString()
      .slice(5, short ? 16 : 10)
      .replace("T", " ");
  return (
    <figure className="space-y-1" data-testid="shadow-history-chart">
      <div role="img" aria-labelledby={titleId} style={{ height }} className="w-full">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ top: 8, right: 16, bottom: 4, left: 0 }} accessibilityLayer={false}>
            <CartesianGrid stroke="#e2e8f0" />
            <XAxis type="number" dataKey="t" domain={["dataMin", "dataMax"]} scale="time" tickFormatter={fmtDay} {...AXIS} />
            <YAxis domain={[0, 1]} ticks={[0, 0.25, 0.5, 0.75, 1]} width={40} {...AXIS} />
            <Tooltip
              labelFormatter={(t) => `${new Date(Number(t)).toISOString().replace("T", " ").slice(0, 16)} UTC`}
              formatter={(v, name) => [metric(v === null ? null : Number(v)), String(name)]}
            />
            <Legend wrapperStyle={{ fontSize: 12, color: "#334155" }} />
            <Line
              dataKey={INCUMBENT}
              stroke="#475569"
              strokeDasharray="6 4"
              dot={{ r: 2 }}
              connectNulls
              isAnimationActive={false}
              legendType="plainline"
            />
            {hasGuard && (
              <Line dataKey={REPLACED} stroke="#b45309" strokeDasharray="2 3" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
            )}
            {names.map((n, i) => (
              <Line
                key={n}
                dataKey={n}
                stroke={PALETTE[i % PALETTE.length]}
                strokeWidth={2}
                strokeDasharray={n.endsWith("guard") ? "8 3" : undefined}
                dot={{ r: 3 }}
                connectNulls
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <figcaption id={titleId} className="text-xs text-slate-600">
        Top-K agreement over the last {history.days} days, {fmtInt.format(history.items.length)} evaluation
        {history.items.length === 1 ? "" : "s"}
        {lastBaseline !== null ? ` (incumbent's latest ${metric(lastBaseline)})` : ""}: {summary}
        {history.truncated ? " · only the oldest evaluations fit; shorten the range" : ""}
      </figcaption>
    </figure>
  );
}
