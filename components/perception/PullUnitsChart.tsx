"use client";

import { useId } from "react";
import { Bar, BarChart, CartesianGrid, Cell, LabelList, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export interface PullUnitsDatum {
  connector: string;
  /** pull units used today (UTC) */
  units: number;
  /** the connector's daily cap, or null when only the tenant total applies */
  cap: number | null;
}

const fmt = new Intl.NumberFormat("en-US");

/**
 * Today's pull units by connector (SPEC §4.4), as bars with the number written on each — colour is
 * never the only cue: a connector at its cap is also named so in the caption. Plain data props, so
 * the connectors page can show the same chart from its own query.
 */
export function PullUnitsChart({ data, unitsPerDay, height = 180 }: { data: PullUnitsDatum[]; unitsPerDay?: number; height?: number }) {
  const titleId = useId();
  const atCap = data.filter((d) => d.cap !== null && d.units >= d.cap).map((d) => d.connector);
  const summary = data.map((d) => `${d.connector} ${fmt.format(d.units)}${d.cap !== null ? ` of ${fmt.format(d.cap)}` : ""}`).join(", ");
  return (
    <figure className="space-y-1" data-testid="pull-units-chart">
      <div role="img" aria-labelledby={titleId} style={{ height }} className="w-full">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={data} layout="vertical" margin={{ top: 4, right: 48, bottom: 4, left: 8 }} accessibilityLayer={false}>
            <CartesianGrid horizontal={false} stroke="#e2e8f0" />
            <XAxis type="number" allowDecimals={false} tick={{ fill: "#475569", fontSize: 12 }} stroke="#94a3b8" />
            <YAxis type="category" dataKey="connector" width={72} tick={{ fill: "#334155", fontSize: 12 }} stroke="#94a3b8" />
            <Tooltip
              cursor={{ fill: "#f1f5f9" }}
              formatter={(v, _n, item) => {
                const cap = (item?.payload as PullUnitsDatum | undefined)?.cap;
                return [`${fmt.format(Number(v))}${cap != null ? ` of ${fmt.format(cap)}` : ""} units`, "Today"];
              }}
            />
            <Bar dataKey="units" isAnimationActive={false} radius={[0, 3, 3, 0]} maxBarSize={26}>
              {data.map((d) => (
                <Cell key={d.connector} fill={d.cap !== null && d.units >= d.cap ? "#d97706" : "#2563eb"} />
              ))}
              <LabelList dataKey="units" position="right" fill="#1e293b" fontSize={12} />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption id={titleId} className="text-xs text-slate-600">
        Pull units today by connector: {summary || "none"}
        {unitsPerDay !== undefined ? ` · workspace budget ${fmt.format(unitsPerDay)} per day` : ""}
        {atCap.length > 0 ? ` · at cap: ${atCap.join(", ")}` : ""}
      </figcaption>
    </figure>
  );
}
