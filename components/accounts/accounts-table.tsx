"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import { Search } from "lucide-react";
import Link from "next/link";
import { useMemo, useState } from "react";
import { humanize, LIFECYCLE_TONE, MOMENTUM_ARROW, money, POSTURE_TONE } from "../labels";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns, infiniteListProps } from "../ui/data-table";
import { Badge, Card, EmptyState } from "../ui/primitives";
import type { RouterOutputs } from "../work/types";
import { HeatBadge } from "./heat-badge";

const LIFECYCLES = ["PROSPECT", "SUSPECT", "CUSTOMER"] as const;
const POSTURES = ["OK", "WATCH", "AT_RISK", "EXPAND", "DORMANT"] as const;

type Account = RouterOutputs["accounts"]["list"]["items"][number];

const col = dataColumns<Account>();
// Ranks so lifecycle, posture and heat sort by meaning, not alphabetically.
const LIFECYCLE_RANK: Record<string, number> = { SUSPECT: 0, PROSPECT: 1, CUSTOMER: 2 };
const POSTURE_RANK: Record<string, number> = { DORMANT: 0, AT_RISK: 1, WATCH: 2, OK: 3, EXPAND: 4 };

const columns = col.columns([
  col.accessor("name", {
    header: "Account",
    cell: (c) => (
      <>
        <Link href={`/accounts/${c.row.original.id}`} className="font-medium text-brand-700 hover:underline">
          {c.getValue()}
        </Link>
        <div className="text-xs text-slate-600">{c.row.original.industry ?? "—"}</div>
      </>
    ),
  }),
  col.accessor((a) => a.owner?.name ?? "", {
    id: "owner",
    header: "Owner",
    cell: (c) => c.getValue() || <span className="text-slate-600">Unassigned</span>,
    meta: { className: "text-slate-700" },
  }),
  col.accessor((a) => LIFECYCLE_RANK[a.lifecycle] ?? -1, {
    id: "lifecycle",
    header: "Lifecycle",
    cell: (c) => <Badge tone={LIFECYCLE_TONE[c.row.original.lifecycle]}>{humanize(c.row.original.lifecycle)}</Badge>,
  }),
  col.accessor((a) => POSTURE_RANK[a.posture] ?? -1, {
    id: "posture",
    header: "Posture",
    cell: (c) => <Badge tone={POSTURE_TONE[c.row.original.posture]}>{humanize(c.row.original.posture)}</Badge>,
  }),
  col.accessor("momentum", {
    header: "Momentum",
    cell: (c) => (
      <>
        <span aria-hidden>{MOMENTUM_ARROW[c.getValue()]}</span> {humanize(c.getValue())}
      </>
    ),
    meta: { className: "text-slate-700" },
  }),
  col.accessor((a) => a.heat?.score ?? -1, {
    id: "heat",
    header: "Heat",
    cell: (c) => <HeatBadge heat={c.row.original.heat} />,
  }),
  col.accessor((a) => a.arrCents ?? 0, {
    id: "arr",
    header: "ARR",
    cell: (c) => (c.getValue() ? money(c.getValue()) : "—"),
    meta: { className: "text-right tabular-nums", headerClassName: "text-right" },
  }),
]);

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
  // Memoised: a new array each render would hand the table new data every render.
  const rows = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);

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
      <DataTable
        {...infiniteListProps(query)}
        caption="Accounts"
        columns={columns}
        data={rows}
        getRowId={(a) => a.id}
        loadingLabel="Loading accounts…"
        empty={<EmptyState title="No accounts match" hint="Clear the filters, or wait for your CRM to sync accounts in." />}
      />
    </Card>
  );
}
