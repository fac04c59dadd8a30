"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ArrowRight, Brain, ListOrdered } from "lucide-react";
import Link from "next/link";
import { useId, useState } from "react";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { pct, useRegistry } from "../work/labels";
import type { RouterOutputs } from "../work/types";

type Feed = RouterOutputs["nextActions"]["feed"];
type Item = Feed["items"][number];

/** "What should I do next" (SPEC §4.5): open proposals, best first, and which weights ranked them. */
export function NextActionsView({ isAdmin }: { isAdmin: boolean }) {
  const trpc = useTRPC();
  const reg = useRegistry();
  const ownerFieldId = useId();
  const [ownerId, setOwnerId] = useState("");
  // Only admins choose an owner; a seller's feed is always their own accounts.
  const members = useQuery({ ...trpc.me.members.queryOptions(), enabled: isAdmin });
  const owners = (members.data ?? []).filter((m) => m.role !== "AUDITOR");
  const feed = useInfiniteQuery(
    trpc.nextActions.feed.infiniteQueryOptions(
      { limit: 25, ...(ownerId ? { ownerId } : {}) },
      { getNextPageParam: (p) => p.next_cursor ?? undefined },
    ),
  );
  const first = feed.data?.pages[0];
  const rows = feed.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-3">
        {first && <RankedBy feed={first} />}
        {isAdmin && (
          <span className="ml-auto flex items-center gap-2">
            <label htmlFor={ownerFieldId} className="font-medium text-slate-700">
              Owner
            </label>
            <select
              id={ownerFieldId}
              value={ownerId}
              onChange={(e) => setOwnerId(e.target.value)}
              className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm"
            >
              <option value="">Everyone</option>
              {owners.map((m) => (
                <option key={m.userId} value={m.userId}>
                  {m.name} ({humanize(m.role).toLowerCase()})
                </option>
              ))}
            </select>
          </span>
        )}
      </div>

      <Card
        title={
          <span className="flex items-center gap-2">
            <ListOrdered className="size-4 text-slate-600" aria-hidden /> Best first
            {feed.data && (
              <span className="font-normal text-slate-500">
                {rows.length}
                {feed.hasNextPage ? "+" : ""}
              </span>
            )}
          </span>
        }
      >
        {feed.isPending ? (
          <LoadingState label="Ranking open proposals…" />
        ) : feed.isError ? (
          <ErrorState message={feed.error.message} onRetry={() => feed.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState
            title="Nothing to do next"
            hint={
              ownerId
                ? "No open proposals on this owner's accounts."
                : "When autopilot proposes something that needs a person, it is ranked here."
            }
          />
        ) : (
          <>
            <div className="overflow-x-auto">
              <table className="w-full text-left text-sm">
                <caption className="sr-only">Open proposals ranked best first</caption>
                <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-600">
                  <tr>
                    <th scope="col" className="px-3 py-2 font-medium">
                      #
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Account
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Action
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Why
                    </th>
                    <th scope="col" className="px-3 py-2 text-right font-medium">
                      Rank score
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Display confidence
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      Ranked by
                    </th>
                    {isAdmin && (
                      <th scope="col" className="px-3 py-2 font-medium">
                        Owner
                      </th>
                    )}
                    <th scope="col" className="px-3 py-2 font-medium">
                      Proposed
                    </th>
                    <th scope="col" className="px-3 py-2 font-medium">
                      <span className="sr-only">Decide</span>
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {rows.map((r, i) => (
                    <Row key={r.action_intent_id} item={r} position={i + 1} actionLabel={reg.label(r.action_type)} isAdmin={isAdmin} />
                  ))}
                </tbody>
              </table>
            </div>
            {feed.hasNextPage && (
              <div className="border-t border-slate-200 p-3 text-center">
                <Button onClick={() => feed.fetchNextPage()} disabled={feed.isFetchingNextPage}>
                  {feed.isFetchingNextPage ? "Loading…" : "Load more"}
                </Button>
              </div>
            )}
          </>
        )}
      </Card>
    </div>
  );
}

function RankedBy({ feed }: { feed: Feed }) {
  return (
    <p data-testid="ranked-by" className="flex flex-wrap items-center gap-2 text-slate-700">
      <Brain className="size-4 text-slate-600" aria-hidden />
      {feed.ranked_by ? (
        <>
          <span>
            Ranked by weights <span className="font-semibold">v{feed.ranked_by.version}</span>
          </span>
          <Badge tone="violet">{feed.ranked_by.scope === "GLOBAL" ? "global weights" : "this tenant's weights"}</Badge>
        </>
      ) : (
        <span>Rules ranking (no learned weights active)</span>
      )}
      {feed.capped && <span className="text-slate-600">— only the 5,000 newest open proposals are ranked</span>}
    </p>
  );
}

function Row({ item: r, position, actionLabel, isAdmin }: { item: Item; position: number; actionLabel: string; isAdmin: boolean }) {
  const reasons = r.why.map(humanize);
  return (
    <tr data-testid={`next-action-${r.action_intent_id}`} className="hover:bg-slate-50">
      <td className="px-3 py-2 tabular-nums text-slate-600">{position}</td>
      <td className="px-3 py-2">
        <Link href={`/accounts/${r.account_id}`} className="font-medium text-brand-700 hover:underline">
          {r.account_name}
        </Link>
      </td>
      <td className="px-3 py-2 font-medium text-slate-900">{actionLabel}</td>
      <td className="max-w-64 px-3 py-2 text-slate-700">
        <span className="line-clamp-2" title={reasons.join("; ")}>
          {reasons.length ? reasons.slice(0, 2).join("; ") + (reasons.length > 2 ? ` +${reasons.length - 2}` : "") : "—"}
        </span>
      </td>
      <td className="px-3 py-2 text-right tabular-nums">{r.rank_score.toFixed(3)}</td>
      <td className="px-3 py-2">
        <span className="flex items-center gap-2" title={`The proposal's own confidence: ${pct(r.confidence)}`}>
          <span className="w-10 text-right tabular-nums">{pct(r.display_confidence)}</span>
          <span aria-hidden className="h-1.5 w-16 overflow-hidden rounded-full bg-slate-200">
            <span className="block h-full rounded-full bg-brand-600" style={{ width: `${Math.round(r.display_confidence * 100)}%` }} />
          </span>
        </span>
      </td>
      <td className="px-3 py-2 text-slate-700">{r.weights_version !== null ? `Weights v${r.weights_version}` : "Rules"}</td>
      {isAdmin && <td className="px-3 py-2 text-slate-700">{r.owner_name ?? "Unassigned"}</td>}
      <td className="px-3 py-2 text-slate-700">
        <RelativeTime value={r.created_at} />
      </td>
      <td className="px-3 py-2">
        <Link
          href={`/inbox?sort=suggested#intent-${r.action_intent_id}`}
          className="inline-flex items-center gap-1 whitespace-nowrap rounded-md px-2 py-1 font-medium text-brand-700 hover:bg-brand-50 hover:underline"
        >
          Decide in inbox <ArrowRight className="size-3.5" aria-hidden />
        </Link>
      </td>
    </tr>
  );
}
