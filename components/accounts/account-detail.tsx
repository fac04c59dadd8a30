"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ArrowLeft } from "lucide-react";
import Link from "next/link";
import { AlwaysOnAccountCard } from "../autonomy/always-on-account";
import { HeatHistoryCard } from "../heat/heat-history";
import { humanize, LIFECYCLE_TONE, MOMENTUM_ARROW, money, POSTURE_TONE } from "../labels";
import { describeEntry } from "../ledger/describe";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { ArtifactsCard } from "../work/artifacts";
import { HeatBadge } from "./heat-badge";

export function AccountDetail({ id }: { id: string }) {
  const trpc = useTRPC();
  const account = useQuery(trpc.accounts.get.queryOptions({ id }));
  const activity = useInfiniteQuery(
    trpc.accounts.activity.infiniteQueryOptions({ id, limit: 15 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );

  if (account.isPending) return <LoadingState label="Loading account…" />;
  if (account.isError) return <ErrorState message={account.error.message} onRetry={() => account.refetch()} />;
  const a = account.data;
  const events = activity.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div className="space-y-4">
      <Link href="/accounts" className="inline-flex items-center gap-1 text-slate-600 hover:text-slate-900">
        <ArrowLeft className="size-4" aria-hidden /> Accounts
      </Link>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 className="text-xl font-semibold tracking-tight">{a.name}</h1>
          <p className="text-slate-500">
            {a.domain ?? "no domain"} · {a.industry ?? "no industry"} · owner {a.owner?.name ?? "unassigned"}
          </p>
        </div>
        <div className="flex flex-wrap gap-1.5">
          <Badge tone={LIFECYCLE_TONE[a.lifecycle]}>{humanize(a.lifecycle)}</Badge>
          <Badge tone={POSTURE_TONE[a.posture]}>Posture: {humanize(a.posture)}</Badge>
          <Badge>
            Momentum: <span aria-hidden>{MOMENTUM_ARROW[a.momentum]}</span> {humanize(a.momentum)}
          </Badge>
          <HeatBadge heat={a.heat} />
          {a.arrCents > 0 && <Badge tone="green">ARR {money(a.arrCents)}</Badge>}
        </div>
      </div>

      <HeatHistoryCard accountId={a.id} />

      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Activity" className="lg:col-span-2">
          {activity.isPending ? (
            <LoadingState />
          ) : activity.isError ? (
            <ErrorState message={activity.error.message} onRetry={() => activity.refetch()} />
          ) : events.length === 0 ? (
            <EmptyState title="No activity yet" hint="Signals and autopilot actions for this account appear here." />
          ) : (
            <ol className="divide-y divide-slate-100">
              {events.map((e) => (
                <li key={e.id} className="flex items-start justify-between gap-3 px-4 py-2.5">
                  <div>
                    <div className="font-medium text-slate-800">{describeEntry(e.type, e.payload)}</div>
                    {e.payload.evidence ? (
                      <div className="mt-0.5 font-mono text-xs text-slate-500">{JSON.stringify(e.payload.evidence)}</div>
                    ) : null}
                  </div>
                  <div className="shrink-0 text-right text-xs text-slate-500">
                    <RelativeTime value={e.createdAt} />
                    <div>#{e.seq}</div>
                  </div>
                </li>
              ))}
              {activity.hasNextPage && (
                <li className="p-3 text-center">
                  <Button onClick={() => activity.fetchNextPage()} disabled={activity.isFetchingNextPage}>
                    Load more
                  </Button>
                </li>
              )}
            </ol>
          )}
        </Card>
        <div className="space-y-4">
          <AlwaysOnAccountCard accountId={a.id} ownerName={a.owner?.name ?? null} />
          <ArtifactsCard accountId={a.id} />
          <Card title={`Contacts (${a.contacts.length})`}>
            {a.contacts.length === 0 ? (
              <EmptyState title="No contacts" />
            ) : (
              <ul className="divide-y divide-slate-100">
                {a.contacts.map((c) => (
                  <li key={c.id} className="px-4 py-2">
                    <div className="font-medium">{c.name}</div>
                    <div className="text-xs text-slate-500">
                      {c.title ?? "—"} · {c.email ?? "no email"}
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </Card>
          <Card title={`Opportunities (${a.opportunities.length})`}>
            {a.opportunities.length === 0 ? (
              <EmptyState title="No open opportunities" />
            ) : (
              <ul className="divide-y divide-slate-100">
                {a.opportunities.map((o) => (
                  <li key={o.id} className="flex items-center justify-between gap-2 px-4 py-2">
                    <div>
                      <div className="font-medium">{o.name}</div>
                      <div className="text-xs text-slate-500">{humanize(o.stage)}</div>
                    </div>
                    <span className="tabular-nums">{money(o.amountCents)}</span>
                  </li>
                ))}
              </ul>
            )}
          </Card>
        </div>
      </div>
    </div>
  );
}
