"use client";

import { Bar, BarChart, CartesianGrid, Cell, LabelList, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { TIER_COLOR } from "../accounts/heat-badge";

type Tier = "HOT" | "WARM" | "COLD";

/** The tier distribution's bar chart: its own module, so Recharts loads only when a chart is drawn (see heat-dashboard.tsx). */
export function TierChart({ tiers, counts }: { tiers: readonly Tier[]; counts: Record<Tier, number> }) {
  return (
    <ResponsiveContainer width="100%" height="100%">
      <BarChart data={tiers.map((t) => ({ tier: t, accounts: counts[t] }))} margin={{ top: 20, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#e2e8f0" strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="tier" tick={{ fontSize: 12, fill: "#334155" }} />
        <YAxis allowDecimals={false} tick={{ fontSize: 11, fill: "#475569" }} width={36} />
        <Tooltip formatter={(v: unknown) => [String(v), "accounts"]} />
        <Bar dataKey="accounts" radius={[4, 4, 0, 0]} isAnimationActive={false}>
          {tiers.map((t) => (
            <Cell key={t} fill={TIER_COLOR[t]} />
          ))}
          <LabelList dataKey="accounts" position="top" style={{ fontSize: 12, fill: "#0f172a" }} />
        </Bar>
      </BarChart>
    </ResponsiveContainer>
  );
}
