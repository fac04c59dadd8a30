"use client";

import { useQuery } from "@tanstack/react-query";
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { HEAT_THRESHOLDS } from "@/server/engine/heat";
import { HeatBadge } from "../accounts/heat-badge";
import { useTRPC } from "../trpc";
import { Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

/** The account page's heat over time: daily UTC rollups (the day's highest and last score). */
export function HeatHistoryCard({ accountId, days = 30 }: { accountId: string; days?: number }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.heat.history.queryOptions({ accountId, days }));
  return (
    <Card
      title={`Heat over the last ${days} days`}
      actions={
        q.data ? (
          <span className="flex items-center gap-2 text-xs text-slate-600">
            <HeatBadge heat={q.data.current} />
            <span>
              since <RelativeTime value={q.data.current.since} />
            </span>
          </span>
        ) : null
      }
    >
      {q.isPending ? (
        <LoadingState label="Loading heat…" />
      ) : q.isError ? (
        <ErrorState message={q.error.message} onRetry={() => q.refetch()} />
      ) : q.data.rollups.length === 0 ? (
        <EmptyState title="No heat history yet" hint="Each day the heat job scores this account, its highest and last score appear here." />
      ) : (
        <figure className="px-2 py-3" aria-label={`Daily heat of this account, ${q.data.rollups.length} days with data`}>
          <div className="h-56">
            <ResponsiveContainer width="100%" height="100%">
              <LineChart data={q.data.rollups} margin={{ top: 8, right: 48, bottom: 0, left: 0 }}>
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
          </div>
          <figcaption className="px-2 pt-1 text-xs text-slate-600">
            Dashed lines: the scores at which an account can be promoted (with enough recent signals). Tier per day:{" "}
            {q.data.rollups.map((r) => `${r.day.slice(5)} ${r.tier}`).join(" · ")}
          </figcaption>
        </figure>
      )}
    </Card>
  );
}
