"use client";

import { useInfiniteQuery, useMutation } from "@tanstack/react-query";
import { ChevronDown, ChevronRight, ShieldCheck, ShieldX } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Fragment, useState } from "react";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { describeEntry } from "./describe";

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
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];

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
        {list.isPending ? (
          <LoadingState label="Loading ledger…" />
        ) : list.isError ? (
          <ErrorState message={list.error.message} onRetry={() => list.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState title="No entries match" hint="Change the filters to see more of the ledger." />
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-left">
              <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="w-8 px-2 py-2" />
                  <th className="px-2 py-2 font-medium">#</th>
                  <th className="px-2 py-2 font-medium">When</th>
                  <th className="px-2 py-2 font-medium">Type</th>
                  <th className="px-2 py-2 font-medium">What</th>
                  <th className="px-2 py-2 font-medium">Actor</th>
                  <th className="px-2 py-2 font-medium">Account</th>
                  <th className="px-2 py-2 font-medium">Hash</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {rows.map((e) => (
                  <Fragment key={e.id}>
                    <tr className="hover:bg-slate-50">
                      <td className="px-2 py-1.5">
                        <button
                          type="button"
                          aria-expanded={open === e.id}
                          aria-label={`Show details of entry ${e.seq}`}
                          onClick={() => setOpen(open === e.id ? null : e.id)}
                          className="rounded p-0.5 text-slate-500 hover:bg-slate-200"
                        >
                          {open === e.id ? <ChevronDown className="size-4" /> : <ChevronRight className="size-4" />}
                        </button>
                      </td>
                      <td className="px-2 py-1.5 tabular-nums text-slate-500">{e.seq}</td>
                      <td className="px-2 py-1.5">
                        <RelativeTime value={e.createdAt} />
                      </td>
                      <td className="px-2 py-1.5">
                        <Badge>{e.type}</Badge>
                      </td>
                      <td className="px-2 py-1.5">{describeEntry(e.type, e.payload)}</td>
                      <td className="px-2 py-1.5 text-xs text-slate-600">
                        {humanize(e.actor.type)}
                        {e.actor.id ? ` · ${e.actor.id.slice(0, 12)}` : ""}
                      </td>
                      <td className="px-2 py-1.5 text-xs">
                        {e.accountId ? (
                          <Link href={`/accounts/${e.accountId}`} className="text-brand-700 hover:underline">
                            {e.accountName ?? `${e.accountId.slice(0, 10)}…`}
                          </Link>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td className="px-2 py-1.5 font-mono text-xs text-slate-500">{e.hash.slice(0, 10)}</td>
                    </tr>
                    {open === e.id && (
                      <tr className="bg-slate-50">
                        <td />
                        <td colSpan={7} className="px-2 py-2">
                          <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 text-xs">
                            <dt className="text-slate-500">Correlation</dt>
                            <dd>
                              <button
                                type="button"
                                className="font-mono text-brand-700 hover:underline"
                                onClick={() => setCorrelationId(e.correlationId)}
                              >
                                {e.correlationId}
                              </button>
                            </dd>
                            <dt className="text-slate-500">Previous hash</dt>
                            <dd className="font-mono break-all">{e.prevHash}</dd>
                            <dt className="text-slate-500">Hash</dt>
                            <dd className="font-mono break-all">{e.hash}</dd>
                            <dt className="text-slate-500">Payload</dt>
                            <dd>
                              <pre className="overflow-x-auto rounded bg-white p-2 font-mono ring-1 ring-slate-200">
                                {JSON.stringify(e.payload, null, 2)}
                              </pre>
                            </dd>
                          </dl>
                        </td>
                      </tr>
                    )}
                  </Fragment>
                ))}
              </tbody>
            </table>
            {list.hasNextPage && (
              <div className="border-t border-slate-200 p-3 text-center">
                <Button onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
                  {list.isFetchingNextPage ? "Loading…" : "Load older entries"}
                </Button>
              </div>
            )}
          </div>
        )}
      </Card>
    </div>
  );
}
