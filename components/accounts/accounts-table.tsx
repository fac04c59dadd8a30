"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import { Search } from "lucide-react";
import Link from "next/link";
import { useState } from "react";
import { humanize, LIFECYCLE_TONE, MOMENTUM_ARROW, money, POSTURE_TONE } from "../labels";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { HeatBadge } from "./heat-badge";

const LIFECYCLES = ["PROSPECT", "SUSPECT", "CUSTOMER"] as const;
const POSTURES = ["OK", "WATCH", "AT_RISK", "EXPAND", "DORMANT"] as const;

export function AccountsTable() {
  const trpc = useTRPC();
  const [q, setQ] = useState("");
  const [lifecycle, setLifecycle] = useState<(typeof LIFECYCLES)[number] | "">("");
  const [posture, setPosture] = useState<(typeof POSTURES)[number] | "">("");
  const query = useInfiniteQuery(
    trpc.accounts.list.infiniteQueryOptions(
      { limit: 25, q: q || undefined, lifecycle: lifecycle || undefined, posture: posture || undefined },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
  );
  const rows = query.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          Accounts{" "}
          {query.data && (
            <span className="font-normal text-slate-500">
              {rows.length}
              {query.hasNextPage ? "+" : ""}
            </span>
          )}
        </span>
      }
      actions={
        <>
          <label className="relative">
            <span className="sr-only">Search accounts</span>
            <Search className="absolute top-1/2 left-2 size-4 -translate-y-1/2 text-slate-500" aria-hidden />
            <input
              value={q}
              onChange={(e) => setQ(e.target.value)}
              placeholder="Search by name"
              className="w-48 rounded-md border border-slate-300 py-1 pr-2 pl-7"
            />
          </label>
          <label>
            <span className="sr-only">Lifecycle</span>
            <select
              value={lifecycle}
              onChange={(e) => setLifecycle(e.target.value as typeof lifecycle)}
              className="rounded-md border border-slate-300 px-2 py-1"
            >
              <option value="">All lifecycles</option>
              {LIFECYCLES.map((l) => (
                <option key={l} value={l}>
                  {humanize(l)}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span className="sr-only">Posture</span>
            <select
              value={posture}
              onChange={(e) => setPosture(e.target.value as typeof posture)}
              className="rounded-md border border-slate-300 px-2 py-1"
            >
              <option value="">All postures</option>
              {POSTURES.map((p) => (
                <option key={p} value={p}>
                  {humanize(p)}
                </option>
              ))}
            </select>
          </label>
        </>
      }
    >
      {query.isPending ? (
        <LoadingState label="Loading accounts…" />
      ) : query.isError ? (
        <ErrorState message={query.error.message} onRetry={() => query.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState title="No accounts match" hint="Clear the filters, or wait for your CRM to sync accounts in." />
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left">
            <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-4 py-2 font-medium">Account</th>
                <th className="px-4 py-2 font-medium">Owner</th>
                <th className="px-4 py-2 font-medium">Lifecycle</th>
                <th className="px-4 py-2 font-medium">Posture</th>
                <th className="px-4 py-2 font-medium">Momentum</th>
                <th className="px-4 py-2 font-medium">Heat</th>
                <th className="px-4 py-2 text-right font-medium">ARR</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {rows.map((a) => (
                <tr key={a.id} className="hover:bg-slate-50">
                  <td className="px-4 py-2">
                    <Link href={`/accounts/${a.id}`} className="font-medium text-brand-700 hover:underline">
                      {a.name}
                    </Link>
                    <div className="text-xs text-slate-500">{a.industry ?? "—"}</div>
                  </td>
                  <td className="px-4 py-2 text-slate-700">{a.owner?.name ?? <span className="text-slate-500">Unassigned</span>}</td>
                  <td className="px-4 py-2">
                    <Badge tone={LIFECYCLE_TONE[a.lifecycle]}>{humanize(a.lifecycle)}</Badge>
                  </td>
                  <td className="px-4 py-2">
                    <Badge tone={POSTURE_TONE[a.posture]}>{humanize(a.posture)}</Badge>
                  </td>
                  <td className="px-4 py-2 text-slate-700">
                    <span aria-hidden>{MOMENTUM_ARROW[a.momentum]}</span> {humanize(a.momentum)}
                  </td>
                  <td className="px-4 py-2">
                    <HeatBadge heat={a.heat} />
                  </td>
                  <td className="px-4 py-2 text-right tabular-nums">{a.arrCents ? money(a.arrCents) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {query.hasNextPage && (
            <div className="border-t border-slate-200 p-3 text-center">
              <Button onClick={() => query.fetchNextPage()} disabled={query.isFetchingNextPage}>
                {query.isFetchingNextPage ? "Loading…" : "Load more"}
              </Button>
            </div>
          )}
        </div>
      )}
    </Card>
  );
}
