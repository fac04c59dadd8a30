"use client";

import { useQuery } from "@tanstack/react-query";
import { Bot, CalendarClock, FileText, Flag, ListTodo, Mail, Newspaper, StickyNote } from "lucide-react";
import type { ReactNode } from "react";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { Badge, Card, EmptyState, ErrorState, LoadingState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

const KIND: Record<string, { label: string; icon: ReactNode; tone: Tone }> = {
  NOTE: { label: "Note", icon: <StickyNote className="size-3.5" aria-hidden />, tone: "slate" },
  TASK: { label: "Task", icon: <ListTodo className="size-3.5" aria-hidden />, tone: "blue" },
  FLAG: { label: "Flag", icon: <Flag className="size-3.5" aria-hidden />, tone: "amber" },
  MEETING_BRIEF: { label: "Meeting brief", icon: <CalendarClock className="size-3.5" aria-hidden />, tone: "violet" },
  EMAIL_DRAFT: { label: "Email draft", icon: <Mail className="size-3.5" aria-hidden />, tone: "green" },
  RESEARCH: { label: "Research", icon: <Newspaper className="size-3.5" aria-hidden />, tone: "slate" },
};

/** What the internal connector produced for this account: notes, tasks, flags, briefs, drafts. */
export function ArtifactsCard({ accountId }: { accountId: string }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.work.artifacts.queryOptions({ accountId }));
  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <Bot className="size-4 text-slate-500" aria-hidden /> Autopilot artifacts
          {q.data && q.data.length > 0 && <span className="font-normal text-slate-500">{q.data.length}</span>}
        </span>
      }
    >
      {q.isPending ? (
        <LoadingState label="Loading artifacts…" />
      ) : q.isError ? (
        <ErrorState message={q.error.message} onRetry={() => q.refetch()} />
      ) : q.data.length === 0 ? (
        <EmptyState
          title="No artifacts yet"
          hint="Notes, tasks, flags, meeting briefs and email drafts autopilot creates for this account appear here."
        />
      ) : (
        <ul className="divide-y divide-slate-100" data-testid="artifacts">
          {q.data.map((a) => {
            const k = KIND[a.kind] ?? {
              label: humanize(a.kind),
              icon: <FileText className="size-3.5" aria-hidden />,
              tone: "slate" as Tone,
            };
            return (
              <li key={a.id} className="px-4 py-2.5">
                <div className="flex items-start justify-between gap-2">
                  <div className="flex min-w-0 items-center gap-2">
                    <Badge tone={k.tone}>
                      {k.icon}
                      {k.label}
                    </Badge>
                    <span className="truncate font-medium text-slate-900" title={a.title}>
                      {a.title}
                    </span>
                  </div>
                  <span className="shrink-0 text-xs text-slate-500">
                    <RelativeTime value={a.createdAt} />
                  </span>
                </div>
                {a.body && a.body.length <= 160 && <p className="mt-1 whitespace-pre-wrap text-slate-600">{a.body}</p>}
                {a.body.length > 160 && (
                  <details className="group mt-1">
                    <summary className="cursor-pointer list-none rounded text-slate-600">
                      <span className="line-clamp-2 whitespace-pre-wrap group-open:hidden">{a.body}</span>
                      <span className="text-xs font-medium text-brand-700">
                        <span className="group-open:hidden">Show all</span>
                        <span className="hidden group-open:inline">Show less</span>
                      </span>
                    </summary>
                    <p className="mt-1 whitespace-pre-wrap text-slate-700">{a.body}</p>
                  </details>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}
