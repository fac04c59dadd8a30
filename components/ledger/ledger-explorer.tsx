"use client";

import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { ChevronDown, ChevronRight, ShieldCheck, ShieldX } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns } from "../ui/data-table";
import { Badge, Button, Card, EmptyState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import type { RouterOutputs } from "../work/types";
import { describeEntry } from "./describe";

type Entry = RouterOutputs["ledger"]["list"]["items"][number];
const col = dataColumns<Entry>();

export function LedgerExplorer({ entryTypes }: { entryTypes: readonly string[] }) {
  const trpc = useTRPC();
  // Filters can arrive in the URL (?type=&account=&correlation=), e.g. from an explanation page.
  const params = useSearchParams();
  const [type, setType] = useState(() => {
    const t = params.get("type") ?? "";
    return entryTypes.includes(t) ? t : "";
  });
  const [accountId, setAccountId] = useState(params.get("account") ?? "");
  const [correlationId, setCorrelationId] = useState(params.get("correlation") ?? "");
  const [open, setOpen] = useState<string | null>(null);
  const list = useInfiniteQuery(
    trpc.ledger.list.infiniteQueryOptions(
      {
        limit: 50,
        type: (type || undefined) as never,
        accountId: accountId.trim() || undefined,
        correlationId: correlationId.trim() || undefined,
      },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  const verify = useMutation(trpc.ledger.verify.mutationOptions());
  // Memoised: a new array each render would hand the table new data every render.
  const rows = useMemo(() => list.data?.pages.flatMap((p) => p.items) ?? [], [list.data]);
  const columns = useMemo(
    () =>
      col.columns([
        col.display({
          id: "toggle",
          header: () => <span className="sr-only">Details</span>,
          cell: (c) => {
            const e = c.row.original;
            return (
              <button
                type="button"
                aria-expanded={open === e.id}
                aria-label={`Show details of entry ${e.seq}`}
                onClick={() => setOpen(open === e.id ? null : e.id)}
                className="rounded p-0.5 text-slate-600 hover:bg-slate-200"
              >
                {open === e.id ? <ChevronDown className="size-4" aria-hidden /> : <ChevronRight className="size-4" aria-hidden />}
              </button>
            );
          },
          meta: { className: "w-8", headerClassName: "w-8" },
        }),
        col.accessor("seq", { header: "#", meta: { className: "tabular-nums text-slate-600" } }),
        col.accessor((e) => new Date(e.createdAt).getTime(), {
          id: "when",
          header: "When",
          cell: (c) => <RelativeTime value={c.row.original.createdAt} />,
        }),
        col.accessor("type", { header: "Type", cell: (c) => <Badge>{c.getValue()}</Badge> }),
        col.display({
          id: "what",
          header: "What",
          cell: (c) => describeEntry(c.row.original.type, c.row.original.payload),
        }),
        col.accessor((e) => `${humanize(e.actor.type)}${e.actor.id ? ` · ${e.actor.id.slice(0, 12)}` : ""}`, {
          id: "actor",
          header: "Actor",
          meta: { className: "text-xs text-slate-600" },
        }),
        col.accessor((e) => e.accountName ?? e.accountId ?? "", {
          id: "account",
          header: "Account",
          cell: (c) => {
            const e = c.row.original;
            return e.accountId ? (
              <Link href={`/accounts/${e.accountId}`} className="text-brand-700 hover:underline">
                {e.accountName ?? `${e.accountId.slice(0, 10)}…`}
              </Link>
            ) : (
              "—"
            );
          },
          meta: { className: "text-xs" },
        }),
        col.display({
          id: "hash",
          header: "Hash",
          cell: (c) => c.row.original.hash.slice(0, 10),
          meta: { className: "font-mono text-xs text-slate-600" },
        }),
      ]),
    [open],
  );

  return (
    <div className="space-y-4">
      <Card
        title="Chain integrity"
        actions={
          <Button variant="primary" onClick={() => verify.mutate()} disabled={verify.isPending}>
            <ShieldCheck className="size-4" aria-hidden /> {verify.isPending ? "Verifying…" : "Verify chain"}
          </Button>
        }
      >
        <div className="px-4 py-3" aria-live="polite">
          {!verify.data && !verify.isError && (
            <p className="text-slate-600">
              Every entry carries the hash of the one before it. Verifying re-hashes the whole chain from the first entry and names the
              first entry that was edited, deleted or re-ordered.
            </p>
          )}
          {verify.isError && <p className="text-red-700">Verification failed to run: {verify.error.message}</p>}
          {verify.data?.ok === true && (
            <p className="flex items-center gap-2 text-emerald-800" data-testid="verify-result">
              <ShieldCheck className="size-5" aria-hidden /> Intact — {verify.data.entries} entries verified; head{" "}
              <code className="font-mono text-xs">{verify.data.headHash.slice(0, 16)}…</code>
            </p>
          )}
          {verify.data?.ok === false && (
            <p className="flex items-center gap-2 text-red-800" data-testid="verify-result">
              <ShieldX className="size-5" aria-hidden /> Broken at entry #{verify.data.at.seq}: {humanize(verify.data.problem)} —{" "}
              {verify.data.detail}
            </p>
          )}
        </div>
      </Card>

      <Card
        title="Entries"
        actions={
          <>
            <label>
              <span className="sr-only">Entry type</span>
              <select value={type} onChange={(e) => setType(e.target.value)} className="rounded-md border border-slate-300 px-2 py-1">
                <option value="">All types</option>
                {entryTypes.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span className="sr-only">Account id</span>
              <input
                value={accountId}
                onChange={(e) => setAccountId(e.target.value)}
                placeholder="Account id"
                className="w-40 rounded-md border border-slate-300 px-2 py-1"
              />
            </label>
            <label>
              <span className="sr-only">Correlation id</span>
              <input
                value={correlationId}
                onChange={(e) => setCorrelationId(e.target.value)}
                placeholder="Correlation id"
                className="w-44 rounded-md border border-slate-300 px-2 py-1"
              />
            </label>
          </>
        }
      >
        <DataTable
          caption="Ledger entries, newest first"
          cellClassName="px-2 py-1.5"
          columns={columns}
          data={rows}
          getRowId={(e) => e.id}
          loading={list.isPending}
          loadingLabel="Loading ledger…"
          error={list.isError ? { message: list.error.message, onRetry: () => list.refetch() } : null}
          empty={<EmptyState title="No entries match" hint="Change the filters to see more of the ledger." />}
          paging={{
            hasMore: list.hasNextPage,
            loadingMore: list.isFetchingNextPage,
            onLoadMore: () => list.fetchNextPage(),
            label: "Load older entries",
          }}
          renderDetail={(e) =>
            open === e.id ? (
              <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 pl-8 text-xs">
                <dt className="text-slate-600">Correlation</dt>
                <dd>
                  <button
                    type="button"
                    className="font-mono text-brand-700 hover:underline"
                    onClick={() => setCorrelationId(e.correlationId)}
                  >
                    {e.correlationId}
                  </button>
                </dd>
                <dt className="text-slate-600">Previous hash</dt>
                <dd className="font-mono break-all">{e.prevHash}</dd>
                <dt className="text-slate-600">Hash</dt>
                <dd className="font-mono break-all">{e.hash}</dd>
                <dt className="text-slate-600">Payload</dt>
                <dd>
                  <pre className="overflow-x-auto rounded bg-white p-2 font-mono ring-1 ring-slate-200">
                    {JSON.stringify(e.payload, null, 2)}
                  </pre>
                </dd>
              </dl>
            ) : null
          }
        />
      </Card>
    </div>
  );
}
