"use client";

import { useQuery } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useId, useState } from "react";
import { humanCode as human, readableWhy, localTime as time, localWhen as when } from "@/server/engine/digest";
import { useTRPC } from "../trpc";
import { Badge, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import type { RouterOutputs } from "../work/types";
import { DigestSettingsCard } from "./digest-settings";

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const DigestBudgetChart = dynamic(() => import("./budget-chart").then((m) => m.DigestBudgetChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

type Digest = RouterOutputs["digest"]["get"];

function More({ shown, total }: { shown: number; total: number }) {
  if (shown >= total) return null;
  return (
    <p className="px-4 py-2 text-sm text-slate-600">
      Showing {shown} of {total}.
    </p>
  );
}

function Counts({ d }: { d: Digest }) {
  const tiles: [string, number][] = [
    ["Autonomous acts", d.counts.autonomous],
    ["Waiting for you", d.counts.waiting],
    ["Blocked", d.counts.blocked],
    ["Held for a person", d.counts.held],
    ["Budget units used", d.counts.budget_used],
  ];
  return (
    <dl className="grid grid-cols-2 gap-3 sm:grid-cols-5" data-testid="digest-counts">
      {tiles.map(([label, n]) => (
        <div key={label} className="rounded-lg border border-slate-200 bg-white px-3 py-2 shadow-xs">
          <dt className="text-xs font-medium text-slate-600">{label}</dt>
          <dd className="text-2xl font-semibold tabular-nums text-slate-900">{n}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The viewer's digest of one local day (default: the last complete day in their digest zone). */
export function DigestView({ initialDate }: { initialDate?: string }) {
  const trpc = useTRPC();
  const [date, setDate] = useState<string | undefined>(initialDate);
  const q = useQuery(trpc.digest.get.queryOptions({ date }));
  const dateId = useId();
  const d = q.data;

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-end gap-3">
        <div className="flex flex-col gap-1">
          <label htmlFor={dateId} className="text-sm font-medium text-slate-700">
            Day
          </label>
          <input
            id={dateId}
            type="date"
            className="rounded-md border border-slate-300 px-2 py-1"
            value={date ?? d?.date ?? ""}
            onChange={(e) => setDate(e.target.value || undefined)}
          />
        </div>
        {d && (
          <p className="pb-1 text-sm text-slate-600">
            {d.date} in {d.timezone}, the whole local day ({when(d.window.start, "UTC")} – {when(d.window.end, "UTC")} UTC). What waits is
            as of now.
          </p>
        )}
      </div>

      {q.isLoading && <LoadingState label="Loading the digest…" />}
      {q.error && <ErrorState message={q.error.message} onRetry={() => q.refetch()} />}
      {d && (
        <>
          <Counts d={d} />
          <div className="grid gap-4 lg:grid-cols-2">
            <Card title={`What autopilot did on its own (${d.counts.autonomous})`}>
              {d.autonomous.length === 0 ? (
                <EmptyState title="Nothing ran on its own that day" />
              ) : (
                <ul className="divide-y divide-slate-100">
                  {d.autonomous.map((a) => (
                    <li key={a.execution_id} className="px-4 py-2">
                      <p className="text-sm text-slate-900">
                        <span className="tabular-nums text-slate-600">{time(a.at, d.timezone)}</span> · {human(a.action_type)} on{" "}
                        <Link className="text-brand-700 underline" href={`/accounts/${a.account_id}`}>
                          {a.account_name}
                        </Link>
                      </p>
                      <p className="text-sm text-slate-600">
                        Why: {readableWhy(a.why)} ·{" "}
                        <Link className="text-brand-700 underline" href={`/explain/${a.execution_id}`}>
                          explain
                        </Link>
                      </p>
                    </li>
                  ))}
                </ul>
              )}
              <More shown={d.autonomous.length} total={d.counts.autonomous} />
            </Card>

            <Card
              title={`Waiting for your input (${d.counts.waiting})`}
              actions={
                <Link className="text-sm font-medium text-brand-700 underline" href="/inbox">
                  Open the inbox
                </Link>
              }
            >
              {d.waiting.length === 0 ? (
                <EmptyState title="Nothing is waiting for you" />
              ) : (
                <ul className="divide-y divide-slate-100">
                  {d.waiting.map((w) => (
                    <li key={w.intent_id} className="px-4 py-2">
                      <p className="text-sm text-slate-900">
                        {human(w.action_type)} on {w.account_name}{" "}
                        {w.expires_at && <Badge tone="amber">expires {when(w.expires_at, d.timezone)}</Badge>}
                      </p>
                      <p className="text-sm text-slate-600">Why: {readableWhy(w.why)}</p>
                    </li>
                  ))}
                </ul>
              )}
              <More shown={d.waiting.length} total={d.counts.waiting} />
            </Card>

            <Card title={`Blocked (${d.counts.blocked})`}>
              {d.blocked.length === 0 ? (
                <EmptyState title="Nothing was blocked" />
              ) : (
                <ul className="divide-y divide-slate-100">
                  {d.blocked.map((b, i) => (
                    <li key={`${b.intent_id}-${i}`} className="px-4 py-2">
                      <p className="text-sm text-slate-900">
                        <span className="tabular-nums text-slate-600">{time(b.at, d.timezone)}</span> · {human(b.action_type)} on{" "}
                        {b.account_name} <Badge tone="red">{human(b.reason)}</Badge>
                      </p>
                      <p className="text-sm text-slate-600">{b.why}</p>
                    </li>
                  ))}
                </ul>
              )}
              <More shown={d.blocked.length} total={d.counts.blocked} />
              {d.held.length > 0 && (
                <div className="border-t border-slate-200">
                  <h3 className="px-4 pt-2 text-sm font-semibold text-slate-800">Held back for a person ({d.counts.held})</h3>
                  <ul className="divide-y divide-slate-100">
                    {d.held.map((h, i) => (
                      <li key={`${h.intent_id}-${i}`} className="px-4 py-2 text-sm text-slate-900">
                        {human(h.action_type)} on {h.account_name} <Badge tone="amber">{human(h.reason)}</Badge>
                      </li>
                    ))}
                  </ul>
                  <More shown={d.held.length} total={d.counts.held} />
                </div>
              )}
            </Card>

            <Card title="Budget use">
              <div className="px-4 py-3">
                {d.budget.length === 0 ? (
                  <EmptyState title="You own no accounts" />
                ) : (
                  <DigestBudgetChart data={d.budget.map((b) => ({ account: b.account_name, used: b.used, cap: b.cap }))} />
                )}
              </div>
            </Card>
          </div>
        </>
      )}
      <DigestSettingsCard />
    </div>
  );
}
