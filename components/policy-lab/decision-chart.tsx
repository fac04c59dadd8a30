"use client";

import { useId } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export interface TypeDecisions {
  actionType: string;
  decisions: { decision: string; before: number; after: number }[];
}

const DECISIONS = [
  { key: "AUTO_EXECUTE", label: "autopilot", before: "#93c5fd", after: "#1d4ed8" },
  { key: "REQUIRE_APPROVAL", label: "needs approval", before: "#fcd34d", after: "#b45309" },
  { key: "BLOCK", label: "blocked", before: "#fca5a5", after: "#b91c1c" },
] as const;

/**
 * Per action type, the decisions as recorded (left stack) and as they would be with the proposed
 * changes (right stack). The figures are also written in the caption: colour is never the only cue.
 */
export function DecisionChart({ data }: { data: TypeDecisions[] }) {
  const titleId = useId();
  const rows = data.map((t) => {
    const row: Record<string, string | number> = { actionType: t.actionType };
    for (const d of DECISIONS) {
      const found = t.decisions.find((x) => x.decision === d.key);
      row[`before_${d.key}`] = found?.before ?? 0;
      row[`after_${d.key}`] = found?.after ?? 0;
    }
    return row;
  });
  const summary = data
    .map((t) => {
      const part = (k: "before" | "after") =>
        DECISIONS.map((d) => `${t.decisions.find((x) => x.decision === d.key)?.[k] ?? 0} ${d.label}`).join(", ");
      return `${t.actionType}: before ${part("before")}; after ${part("after")}`;
    })
    .join(". ");
  const height = Math.max(160, data.length * 56 + 60);
  return (
    <figure className="space-y-1" data-testid="what-if-chart">
      <div role="img" aria-labelledby={titleId} style={{ height }} className="w-full">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={rows} layout="vertical" margin={{ top: 4, right: 24, bottom: 4, left: 8 }} accessibilityLayer={false}>
            <CartesianGrid horizontal={false} stroke="#e2e8f0" />
            <XAxis type="number" allowDecimals={false} tick={{ fill: "#475569", fontSize: 12 }} stroke="#94a3b8" />
            <YAxis type="category" dataKey="actionType" width={190} tick={{ fill: "#334155", fontSize: 11 }} stroke="#94a3b8" />
            <Tooltip cursor={{ fill: "#f1f5f9" }} />
            <Legend wrapperStyle={{ fontSize: 12 }} formatter={(value) => <span style={{ color: "#334155" }}>{value}</span>} />
            {DECISIONS.map((d) => (
              <Bar
                key={`b${d.key}`}
                dataKey={`before_${d.key}`}
                name={`Before: ${d.label}`}
                stackId="before"
                fill={d.before}
                isAnimationActive={false}
                maxBarSize={14}
              />
            ))}
            {DECISIONS.map((d) => (
              <Bar
                key={`a${d.key}`}
                dataKey={`after_${d.key}`}
                name={`After: ${d.label}`}
                stackId="after"
                fill={d.after}
                isAnimationActive={false}
                maxBarSize={14}
              />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption id={titleId} className="text-xs text-slate-600">
        Decisions by action type, as recorded and with the proposed changes. {summary}
      </figcaption>
    </figure>
  );
}
