"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Clock, Play, SkipForward, TriangleAlert } from "lucide-react";
import Link from "next/link";
import { useId, useState } from "react";
import type { TriggerType } from "@/server/engine/triggers";
import { useTRPC } from "../trpc";
import { AccountSelect, type Picked } from "../ui/account-select";
import { Badge, Button, Card } from "../ui/primitives";
import { inputClass } from "./fields";
import { errorInfo, reasonText, shortId, triggerLabel } from "./labels";

type Outcome = { account: string; trigger: string; runId: string; result: "QUEUED" | "SKIP"; reason?: string };

/**
 * Ask for one decision run now. It is queued like any triggered run — the cost gate still
 * decides whether it synthesizes — so the answer here is only QUEUED or SKIP (duplicate).
 */
export function RunNowCard({ triggerTypes }: { triggerTypes: readonly TriggerType[] }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [account, setAccount] = useState<Picked>(null);
  const [trigger, setTrigger] = useState<TriggerType>(triggerTypes[0] ?? "SIGNAL_ARRIVED");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const id = useId();
  const run = useMutation(
    trpc.decisions.runNow.mutationOptions({
      onSettled: () =>
        Promise.all([
          qc.invalidateQueries({ queryKey: trpc.decisions.spend.queryKey() }),
          qc.invalidateQueries({ queryKey: trpc.decisions.queueStats.queryKey() }),
          qc.invalidateQueries({ queryKey: trpc.decisions.jobs.pathKey() }),
        ]),
    }),
  );

  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <Play className="size-4 text-slate-500" aria-hidden /> Run a decision now
        </span>
      }
    >
      <form
        className="space-y-3 px-4 py-3"
        onSubmit={(e) => {
          e.preventDefault();
          if (!account) return;
          setOutcome(null);
          const picked = account;
          run.mutate(
            { accountId: picked.id, triggerType: trigger },
            { onSuccess: (res) => setOutcome({ account: picked.name, trigger, runId: res.runId, result: res.result, reason: res.reason }) },
          );
        }}
      >
        <p className="text-slate-600">
          Queues one run for an account as if the trigger had fired. The cost gate still judges it, so it may skip or defer.
        </p>
        <div className="flex flex-wrap items-end gap-2">
          <AccountSelect value={account} onChange={setAccount} label="Account" />
          <div>
            <label htmlFor={`${id}-trigger`} className="mb-1 block text-xs font-medium text-slate-600">
              Trigger type
            </label>
            <select
              id={`${id}-trigger`}
              value={trigger}
              onChange={(e) => setTrigger(e.target.value as TriggerType)}
              className={`${inputClass} w-60`}
            >
              {triggerTypes.map((t) => (
                <option key={t} value={t}>
                  {triggerLabel(t)}
                </option>
              ))}
            </select>
          </div>
          <Button type="submit" variant="primary" disabled={!account || run.isPending}>
            <Play className="size-4" aria-hidden /> {run.isPending ? "Queuing…" : "Run now"}
          </Button>
        </div>
        <div aria-live="polite" data-testid="run-now-result">
          {run.isError && (
            <p role="alert" className="flex items-center gap-2 rounded-md bg-red-50 px-3 py-2 text-red-800 ring-1 ring-red-200">
              <TriangleAlert className="size-4 shrink-0" aria-hidden /> Not queued: {errorInfo(run.error).message}
            </p>
          )}
          {outcome?.result === "QUEUED" && (
            <div className="rounded-md bg-brand-50 px-3 py-2 ring-1 ring-brand-100">
              <p className="flex flex-wrap items-center gap-2">
                <Badge tone="blue">
                  <Clock className="size-3.5" aria-hidden /> QUEUED
                </Badge>
                <span>
                  {triggerLabel(outcome.trigger)} run for {outcome.account} — run{" "}
                  <code className="font-mono text-xs">{shortId(outcome.runId, 10)}</code>
                </span>
              </p>
              <p className="mt-1 text-xs text-slate-600">
                A worker picks it up from the{" "}
                <Link href="/admin/jobs" className="text-brand-700 underline hover:no-underline">
                  job queue
                </Link>
                ; its verdict then shows under recent decision runs.
              </p>
            </div>
          )}
          {outcome?.result === "SKIP" && (
            <p className="flex flex-wrap items-center gap-2 rounded-md bg-slate-50 px-3 py-2 ring-1 ring-slate-200">
              <Badge>
                <SkipForward className="size-3.5" aria-hidden /> SKIP
              </Badge>
              {reasonText(outcome.reason)}
            </p>
          )}
        </div>
      </form>
    </Card>
  );
}
