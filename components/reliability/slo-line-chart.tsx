"use client";

import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { connectorLabel } from "./connector-health";

const clock = (t: number) => new Date(t).toISOString().slice(11, 16);

const LABEL_AT = ["insideTopRight", "insideBottomLeft", "insideTopLeft", "insideBottomRight"] as const;

/** A dashed target line: one per distinct target among the charted connectors. */
export interface Target {
  value: number;
  label: string;
  color: string;
}

/** One SLO series' line chart: its own module, so Recharts loads only when a chart is drawn (see slo-charts.tsx). */
export function SloLineChart({
  rows,
  connectors,
  colors,
  unit,
  targets,
}: {
  rows: Record<string, number | null>[];
  connectors: string[];
  colors: Record<string, string>;
  unit: string;
  targets: Target[];
}) {
  return (
    <ResponsiveContainer width="100%" height="100%">
      <LineChart data={rows} margin={{ top: 4, right: 16, bottom: 4, left: 0 }} accessibilityLayer={false}>
        <CartesianGrid stroke="#e2e8f0" />
        <XAxis dataKey="t" tickFormatter={clock} tick={{ fill: "#475569", fontSize: 11 }} stroke="#94a3b8" />
        <YAxis tick={{ fill: "#475569", fontSize: 11 }} stroke="#94a3b8" unit={unit} width={64} />
        <Tooltip labelFormatter={(t) => `${clock(Number(t))} UTC`} />
        <Legend wrapperStyle={{ fontSize: 12 }} formatter={(value) => <span style={{ color: "#334155" }}>{value}</span>} />
        {targets.map((g, i) => (
          <ReferenceLine
            key={g.value}
            y={g.value}
            stroke={g.color}
            strokeDasharray="4 4"
            // A target above every point still shows (the axis grows to it); neighbouring
            // targets' labels take turns at the right and the left so they do not overlap.
            ifOverflow="extendDomain"
            label={{ value: g.label, fill: g.color, fontSize: 11, position: LABEL_AT[i % LABEL_AT.length] }}
          />
        ))}
        {connectors.map((c) => (
          <Line
            key={c}
            type="monotone"
            dataKey={c}
            name={connectorLabel(c)}
            stroke={colors[c] ?? "#334155"}
            // A bucket without calls has no value: a gap, not a line drawn across hours of silence.
            dot={{ r: 2 }}
            connectNulls={false}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </ResponsiveContainer>
  );
}
