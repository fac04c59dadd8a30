"use client";

import { useQuery } from "@tanstack/react-query";
import { ArrowLeft, Hand } from "lucide-react";
import Link from "next/link";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { Badge, ErrorState, LoadingState } from "../ui/primitives";
import { KnewCard } from "./explanation/knew-card";
import { Mono } from "./explanation/parts";
import { PolicyCard } from "./explanation/policy-card";
import { WhyCard } from "./explanation/why-card";
import { actorKind, useRegistry } from "./labels";
import type { Explanation } from "./types";

/**
 * "Why did autopilot do this?" (SPEC §4.6): why, what it knew, which policy — built only from
 * what was stored at decision time.
 */
export function ExplanationView({
  intentId,
  account,
  canSeeLedger,
}: {
  intentId: string;
  account: { id: string; name: string };
  canSeeLedger: boolean;
}) {
  const trpc = useTRPC();
  const reg = useRegistry();
  const q = useQuery(trpc.work.explanation.queryOptions({ actionIntentId: intentId }));

  if (q.isPending) return <LoadingState label="Loading the explanation…" />;
  if (q.isError) return <ErrorState message={q.error.message} onRetry={() => q.refetch()} />;
  const x: Explanation = q.data;
  const snap = x.whatItKnew.intent;
  const kind = actorKind({
    status: x.status,
    parentId: snap.version > 1 ? "edited" : null,
    execution: x.executionId ? { autoExecuted: x.autoExecuted, approvalSource: x.approvalSource ?? "" } : null,
  });
  const pending = x.status === "PENDING_APPROVAL" || x.status === "PROPOSED";

  return (
    <div className="space-y-4">
      <Link href="/timeline" className="inline-flex items-center gap-1 text-slate-600 hover:text-slate-900">
        <ArrowLeft className="size-4" aria-hidden /> Timeline
      </Link>
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div>
          <h1 className="text-xl font-semibold tracking-tight">
            {reg.label(snap.actionType)} for{" "}
            <Link href={`/accounts/${account.id}`} className="text-brand-700 underline underline-offset-4">
              {account.name}
            </Link>
          </h1>
          <p className="mt-0.5 text-slate-500">
            Why autopilot did what it did — from the records kept at decision time. Intent <Mono>{x.actionIntentId}</Mono>
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-1.5">
          {pending ? (
            <Badge tone="amber">
              <Hand className="size-3.5" aria-hidden /> Waiting for a person
            </Badge>
          ) : (
            <Badge tone={kind.tone}>
              {kind.icon}
              {kind.label}
            </Badge>
          )}
          {!pending && kind.label !== humanize(x.status) && <Badge>Status: {humanize(x.status)}</Badge>}
        </div>
      </div>

      <div className="grid items-start gap-4 lg:grid-cols-2">
        <WhyCard x={x} pending={pending} />
        <KnewCard x={x} />
        <PolicyCard x={x} canSeeLedger={canSeeLedger} />
      </div>
    </div>
  );
}
