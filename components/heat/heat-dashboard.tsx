"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useMemo } from "react";
import { HeatBadge } from "../accounts/heat-badge";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns, infiniteListProps } from "../ui/data-table";
import { Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import type { RouterOutputs } from "../work/types";

const TIERS = ["HOT", "WARM", "COLD"] as const;

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const TierChart = dynamic(() => import("./tier-chart").then((m) => m.TierChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});
const RANK: Record<string, number> = { COLD: 0, WARM: 1, HOT: 2 };

type Hot = RouterOutputs["heat"]["hottest"]["items"][number] & { rank: number };
const col = dataColumns<Hot>();
const columns = col.columns([
  col.accessor("rank", { header: "#", meta: { className: "tabular-nums text-slate-600" } }),
  col.accessor("name", {
    header: "Account",
    cell: (c) => (
      <Link href={`/accounts/${c.row.original.accountId}`} className="font-medium text-brand-700 hover:underline">
        {c.getValue()}
      </Link>
    ),
    meta: { search: true },
  }),
  col.accessor((r) => RANK[r.tier] ?? -1, {
    id: "tier",
    header: "Tier",
    cell: (c) => {
      const r = c.row.original;
      return (
        <>
          <HeatBadge heat={r} showScore={false} />
          {r.pendingTier && (
            <span className="ml-1.5 text-xs text-slate-600" title="Where the score points while hysteresis holds the current tier">
              {(RANK[r.pendingTier] ?? 0) > (RANK[r.tier] ?? 0) ? `${r.pendingTier} held back` : `cooling to ${r.pendingTier}`}
            </span>
          )}
        </>
      );
    },
  }),
  col.accessor("score", {
    header: "Score",
    cell: (c) => c.getValue().toFixed(3),
    meta: { className: "text-right tabular-nums", headerClassName: "text-right" },
  }),
  col.accessor((r) => new Date(r.since).getTime(), {
    id: "since",
    header: "In this tier since",
    cell: (c) => <RelativeTime value={c.row.original.since} />,
    meta: { className: "text-slate-700" },
  }),
]);

/** The Heat page: how accounts spread over the tiers, what each tier means, and the hottest accounts. */
export function HeatDashboard() {
  const trpc = useTRPC();
  const dist = useQuery({ ...trpc.heat.distribution.queryOptions(), refetchInterval: 60_000 });
  const hottest = useInfiniteQuery(
    trpc.heat.hottest.infiniteQueryOptions({ limit: 20 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  // The rank is the server's order, kept on the row so it survives a re-sort.
  const rows = useMemo(() => hottest.data?.pages.flatMap((p) => p.items).map((r, i) => ({ ...r, rank: i + 1 })) ?? [], [hottest.data]);

  return (
    <div className="space-y-4">
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Tier distribution" className="lg:col-span-2">
          {dist.isPending ? (
            <LoadingState label="Loading distribution…" />
          ) : dist.isError ? (
            <ErrorState message={dist.error.message} onRetry={() => dist.refetch()} />
          ) : TIERS.every((t) => dist.data.tiers[t] === 0) ? (
            <EmptyState title="No accounts yet" hint="Accounts appear here once they are created, synced or imported." />
          ) : (
            <figure className="px-2 py-3" aria-label={`Accounts per tier: ${TIERS.map((t) => `${t} ${dist.data.tiers[t]}`).join(", ")}`}>
              <div className="h-72">
                <TierChart tiers={TIERS} counts={dist.data.tiers} />
              </div>
              <figcaption className="sr-only">{TIERS.map((t) => `${t}: ${dist.data.tiers[t]} accounts`).join("; ")}</figcaption>
            </figure>
          )}
        </Card>
        <Card title="What the tiers mean">
          {dist.data ? (
            <div className="px-4 py-3 text-sm">
              <dl className="space-y-2">
                {TIERS.map((t) => (
                  <div key={t}>
                    <dt>
                      <HeatBadge heat={{ tier: t, score: 0, since: new Date(0) }} showScore={false} />
                    </dt>
                    <dd className="mt-0.5 text-slate-600">{dist.data.explanation[t]}</dd>
                  </div>
                ))}
              </dl>
              <p className="mt-2 border-t border-slate-100 pt-2 text-slate-600">{dist.data.explanation.score}</p>
            </div>
          ) : dist.isError ? (
            <ErrorState message={dist.error.message} />
          ) : (
            <LoadingState />
          )}
        </Card>
      </div>

      <Card title="Hottest accounts">
        <DataTable
          {...infiniteListProps(hottest)}
          caption="Hottest accounts, hottest first"
          className="text-sm"
          columns={columns}
          data={rows}
          getRowId={(r) => r.accountId}
          loadingLabel="Loading accounts…"
          empty={<EmptyState title="No accounts yet" hint="Accounts you can see appear here, hottest first." />}
          filter={{ label: "Filter accounts", placeholder: "Account name" }}
        />
      </Card>
    </div>
  );
}
