"use client";

import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { HEAT_THRESHOLDS } from "@/server/engine/heat";

/** The heat history's line chart: its own module, so Recharts loads only when a chart is drawn (see heat-history.tsx). */
export function HeatHistoryChart({ rollups }: { rollups: { day: string; maxScore: number; lastScore: number }[] }) {
  return (
    <ResponsiveContainer width="100%" height="100%">
      <LineChart data={rollups} margin={{ top: 8, right: 48, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#e2e8f0" strokeDasharray="3 3" />
        <XAxis dataKey="day" tick={{ fontSize: 11, fill: "#475569" }} tickFormatter={(d: string) => d.slice(5)} />
        <YAxis domain={[0, 1]} tick={{ fontSize: 11, fill: "#475569" }} width={36} />
        <Tooltip
          formatter={(v: unknown, name: unknown) => [Number(v).toFixed(3), String(name)]}
          labelFormatter={(d: unknown) => `${String(d)} (UTC)`}
        />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <ReferenceLine
          y={HEAT_THRESHOLDS.HOT.enter}
          stroke="#dc2626"
          strokeDasharray="4 4"
          label={{ value: "HOT", fontSize: 10, fill: "#b91c1c", position: "right" }}
        />
        <ReferenceLine
          y={HEAT_THRESHOLDS.WARM.enter}
          stroke="#d97706"
          strokeDasharray="4 4"
          label={{ value: "WARM", fontSize: 10, fill: "#92400e", position: "right" }}
        />
        <Line
          type="monotone"
          dataKey="maxScore"
          name="Day's highest"
          stroke="#dc2626"
          strokeWidth={2}
          dot={{ r: 3 }}
          isAnimationActive={false}
        />
        <Line
          type="monotone"
          dataKey="lastScore"
          name="Day's last"
          stroke="#2752d9"
          strokeWidth={2}
          dot={{ r: 3 }}
          isAnimationActive={false}
        />
      </LineChart>
    </ResponsiveContainer>
  );
}
