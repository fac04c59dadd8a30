"use client";

import { useId } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export interface BudgetDatum {
  account: string;
  used: number;
  cap: number;
}

/**
 * Autonomous budget used that day against each account's daily cap, as paired bars with the
 * figures also written in the caption — colour is never the only cue.
 */
export function DigestBudgetChart({ data: all }: { data: BudgetDatum[] }) {
  const titleId = useId();
  // Only the accounts that used budget get a bar (a seller may own dozens); the rest are counted.
  const data = all.filter((d) => d.used > 0);
  const idle = all.length - data.length;
  if (data.length === 0) {
    return (
      <p className="text-sm text-slate-600" data-testid="digest-budget-chart">
        No autonomous budget was used that day on your {all.length} account{all.length === 1 ? "" : "s"}.
      </p>
    );
  }
  const height = Math.max(120, data.length * 44 + 48);
  const summary = data.map((d) => `${d.account} ${d.used} of ${d.cap}`).join(", ");
  return (
    <figure className="space-y-1" data-testid="digest-budget-chart">
      <div role="img" aria-labelledby={titleId} style={{ height }} className="w-full">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={data} layout="vertical" margin={{ top: 4, right: 24, bottom: 4, left: 8 }} accessibilityLayer={false}>
            <CartesianGrid horizontal={false} stroke="#e2e8f0" />
            <XAxis type="number" allowDecimals={false} tick={{ fill: "#475569", fontSize: 12 }} stroke="#94a3b8" />
            <YAxis type="category" dataKey="account" width={140} tick={{ fill: "#334155", fontSize: 12 }} stroke="#94a3b8" />
            <Tooltip cursor={{ fill: "#f1f5f9" }} />
            <Legend wrapperStyle={{ fontSize: 12 }} formatter={(value) => <span style={{ color: "#334155" }}>{value}</span>} />
            <Bar dataKey="used" name="Used" fill="#2563eb" isAnimationActive={false} maxBarSize={14} radius={[0, 3, 3, 0]} />
            <Bar dataKey="cap" name="Daily cap" fill="#cbd5e1" isAnimationActive={false} maxBarSize={14} radius={[0, 3, 3, 0]} />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption id={titleId} className="text-xs text-slate-600">
        Autonomous actions used that day against the daily cap: {summary}
        {idle > 0 ? `; your other ${idle} account${idle === 1 ? "" : "s"} used none` : ""}
      </figcaption>
    </figure>
  );
}
