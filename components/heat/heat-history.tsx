"use client";

import { useQuery } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { HeatBadge } from "../accounts/heat-badge";
import { useTRPC } from "../trpc";
import { Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const HeatHistoryChart = dynamic(() => import("./heat-history-chart").then((m) => m.HeatHistoryChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

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
            <HeatHistoryChart rollups={q.data.rollups} />
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
