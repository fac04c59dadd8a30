"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import { HelpCircle } from "lucide-react";
import Link from "next/link";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, cx, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { actorKind, RiskBadge, reasonLabel, useRegistry } from "./labels";
import type { TimelineItem } from "./types";

const RAIL: Record<string, string> = {
  autopilot: "bg-brand-600",
  person: "bg-emerald-600",
  edited: "bg-emerald-600",
  blocked: "bg-red-600",
  rejected: "bg-slate-400",
  failed: "bg-amber-500",
  running: "bg-brand-400",
  superseded: "bg-violet-400",
};

/** "Autopilot did X": every decided action, newest first, labelled by who acted. */
export function TimelineView() {
  const trpc = useTRPC();
  const reg = useRegistry();
  const list = useInfiniteQuery(
    trpc.work.timeline.infiniteQueryOptions({ limit: 25 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <Card
      title="What happened"
      actions={
        <span className="hidden items-center gap-3 text-xs text-slate-500 md:flex" aria-hidden>
          Legend:
          {(["autopilot", "person", "blocked", "rejected", "failed"] as const).map((k) => {
            const sample = LEGEND[k];
            return (
              <span key={k} className="flex items-center gap-1">
                <Badge tone={sample.tone}>
                  {sample.icon}
                  {sample.label}
                </Badge>
              </span>
            );
          })}
        </span>
      }
    >
      {list.isPending ? (
        <LoadingState label="Loading the timeline…" />
      ) : list.isError ? (
        <ErrorState message={list.error.message} onRetry={() => list.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState title="Nothing has happened yet" hint="Actions autopilot takes, and decisions people make, appear here." />
      ) : (
        <>
          <ol className="divide-y divide-slate-100">
            {rows.map((i) => (
              <TimelineRow key={i.id} item={i} actionLabel={reg.label(i.actionType)} />
            ))}
          </ol>
          {list.hasNextPage && (
            <div className="border-t border-slate-200 p-3 text-center">
              <Button onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
                {list.isFetchingNextPage ? "Loading…" : "Load more"}
              </Button>
            </div>
          )}
        </>
      )}
    </Card>
  );
}

const LEGEND = {
  autopilot: actorKind({ status: "SUCCEEDED", parentId: null, execution: { autoExecuted: true, approvalSource: "POLICY" } }),
  person: actorKind({ status: "SUCCEEDED", parentId: null, execution: { autoExecuted: false, approvalSource: "HUMAN" } }),
  blocked: actorKind({ status: "BLOCKED", parentId: null, execution: null }),
  rejected: actorKind({ status: "REJECTED", parentId: null, execution: null }),
  failed: actorKind({ status: "FAILED", parentId: null, execution: null }),
};

function TimelineRow({ item: i, actionLabel }: { item: TimelineItem; actionLabel: string }) {
  const kind = actorKind(i);
  const when = i.execution?.finishedAt ?? i.decidedAt ?? i.createdAt;
  const line =
    i.status === "FAILED" && i.execution?.error
      ? `Failed: ${i.execution.error}`
      : i.status === "REJECTED" && i.review
        ? `Rejected by ${i.review.by}${i.review.reason ? `: “${i.review.reason}”` : ""}`
        : kind.key === "autopilot"
          ? (i.explanation ?? "Within policy, allowlist and budget.")
          : (i.explanation ?? reasonLabel(i.reason));
  return (
    <li data-testid={`timeline-item-${i.id}`} data-kind={kind.key} className="flex gap-3 px-4 py-2.5">
      <span className={cx("mt-1 w-1 shrink-0 self-stretch rounded-full", RAIL[kind.key])} aria-hidden />
      <div className="w-44 shrink-0">
        <Badge tone={kind.tone}>
          {kind.icon}
          {kind.label}
        </Badge>
        {kind.detail && <div className="mt-0.5 text-xs text-slate-500">{kind.detail}</div>}
        {i.review?.decision === "APPROVED" && <div className="text-xs text-slate-500">by {i.review.by}</div>}
      </div>
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-x-2 gap-y-0.5">
          <span className="font-medium text-slate-900">{actionLabel}</span>
          <span className="text-slate-500">·</span>
          <Link href={`/accounts/${i.account.id}`} className="text-brand-700 hover:underline">
            {i.account.name}
          </Link>
          {i.riskLevel !== "LOW" && i.riskLevel !== "MINIMAL" && <RiskBadge risk={i.riskLevel} />}
          {i.version > 1 && <Badge tone="violet">v{i.version}, edited</Badge>}
        </div>
        <p className="truncate text-slate-600" title={line}>
          {line}
        </p>
      </div>
      <div className="flex shrink-0 flex-col items-end gap-0.5 text-xs text-slate-500">
        <RelativeTime value={when} />
        <Link
          href={`/explain/${i.id}`}
          className="inline-flex items-center gap-1 rounded px-1 font-medium text-brand-700 hover:underline"
          aria-label={`Why? Explanation for ${actionLabel} on ${i.account.name}`}
        >
          <HelpCircle className="size-3.5" aria-hidden /> Why?
        </Link>
      </div>
    </li>
  );
}
