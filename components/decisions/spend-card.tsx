"use client";

import { useQuery } from "@tanstack/react-query";
import { Gauge, TriangleAlert } from "lucide-react";
import Link from "next/link";
import { useId, useState } from "react";
import { useTRPC } from "../trpc";
import { Button, Card, cx, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { RunStatusBadge, reasonText, shortId, triggerLabel, VERDICT_LOOK, VerdictBadge } from "./labels";
import type { DecisionRun } from "./types";
import { UpdatedNote } from "./updated-note";

const fmt = new Intl.NumberFormat("en-US");
const REFRESH_MS = 10_000;

/** Use against a daily cap, as a bar plus words; a null cap means "no cap" and draws no bar. */
function SpendMeter({ label, used, cap, unit }: { label: string; used: number; cap: number | null; unit: string }) {
  if (cap === null) {
    return (
      <div className="space-y-1">
        <div className="font-medium text-slate-700">{label}</div>
        <p className="tabular-nums text-slate-800">
          {fmt.format(used)} {unit} today <span className="text-slate-500">· no cap set</span>
        </p>
      </div>
    );
  }
  const exhausted = used >= cap;
  const left = Math.max(0, cap - used);
  const text =
    cap === 0 ? `Cap is 0 — no ${unit} allowed today` : `${fmt.format(used)} of ${fmt.format(cap)} ${unit} · ${fmt.format(left)} left`;
  const pct = cap > 0 ? Math.min(100, (used / cap) * 100) : 100;
  return (
    <div className="space-y-1">
      <div className="font-medium text-slate-700">{label}</div>
      {/* biome-ignore lint/a11y/useSemanticElements: <meter> cannot be styled consistently across browsers; role=meter carries the same semantics */}
      <div
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={Math.max(cap, 1)}
        aria-valuenow={Math.min(used, Math.max(cap, 1))}
        aria-valuetext={text}
        className="relative h-3 w-full max-w-sm overflow-hidden rounded-sm bg-slate-200 ring-1 ring-slate-300 ring-inset"
      >
        <span className={cx("absolute inset-y-0 left-0", exhausted ? "bg-amber-500" : "bg-brand-600")} style={{ width: `${pct}%` }} />
      </div>
      <p className="flex items-center gap-1.5 tabular-nums text-slate-800">
        {exhausted && <TriangleAlert className="size-4 text-amber-600" aria-hidden />}
        {text}
        {exhausted && cap > 0 && <span className="text-amber-800">— further runs skip today</span>}
      </p>
    </div>
  );
}

const BAR_FILL: Record<string, string> = { ALLOW: "#10b981", DEFER: "#f59e0b", SKIP: "#94a3b8" };

/** Horizontal SVG bars, one per verdict, each named and counted in text — colour is never the only cue. */
function VerdictChart({ counts, runs }: { counts: Record<string, number>; runs: number }) {
  const titleId = useId();
  const order = ["ALLOW", "DEFER", "SKIP"];
  const decided = order.reduce((a, k) => a + (counts[k] ?? 0), 0);
  const max = Math.max(1, ...order.map((k) => counts[k] ?? 0));
  const W = 360;
  const LABEL = 58;
  const COUNT = 74;
  const ROW = 28;
  const summary = order.map((k) => `${counts[k] ?? 0} ${VERDICT_LOOK[k]?.label.toLowerCase() ?? k}`).join(", ");
  return (
    <figure className="space-y-1">
      <svg viewBox={`0 0 ${W} ${ROW * order.length}`} className="w-full max-w-sm" role="img" aria-labelledby={titleId}>
        <title id={titleId}>{`Cost-gate verdicts of the last ${runs} runs: ${summary}`}</title>
        {order.map((k, i) => {
          const n = counts[k] ?? 0;
          const w = ((W - LABEL - COUNT) * n) / max;
          const y = i * ROW;
          return (
            <g key={k}>
              <text x={0} y={y + ROW / 2 + 4} className="fill-slate-700 text-[12px] font-medium">
                {VERDICT_LOOK[k]?.label ?? k}
              </text>
              <rect x={LABEL} y={y + 5} width={W - LABEL - COUNT} height={ROW - 10} rx={2} className="fill-slate-100" />
              <rect x={LABEL} y={y + 5} width={Math.max(n > 0 ? 2 : 0, w)} height={ROW - 10} rx={2} fill={BAR_FILL[k]} />
              <text x={W - COUNT + 8} y={y + ROW / 2 + 4} className="fill-slate-800 text-[12px] tabular-nums">
                {n} {decided > 0 ? `(${Math.round((n / decided) * 100)}%)` : ""}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="text-xs text-slate-500">
        {runs === 1 ? "The last run" : `Last ${runs} runs`}
        {runs > decided ? ` · ${runs - decided} not judged yet (queued or running)` : ""}
      </figcaption>
    </figure>
  );
}

function RunsTable({ runs }: { runs: DecisionRun[] }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left">
        <thead className="border-b border-slate-200 bg-slate-50 text-xs whitespace-nowrap uppercase tracking-wide text-slate-500">
          <tr>
            <th className="px-2 py-2 font-medium">When</th>
            <th className="px-2 py-2 font-medium">Trigger</th>
            <th className="px-2 py-2 font-medium">Account</th>
            <th className="px-2 py-2 font-medium">Status</th>
            <th className="px-2 py-2 font-medium">Cost gate</th>
            <th className="px-2 py-2 font-medium">Reason</th>
            <th className="px-2 py-2 text-right font-medium">Proposals</th>
            <th className="px-2 py-2 text-right font-medium">Tokens</th>
            <th className="px-2 py-2 font-medium">Synthesizer</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {runs.map((r) => (
            <tr key={r.id} className="align-top hover:bg-slate-50" data-testid="decision-run">
              <td className="px-2 py-1.5">
                <RelativeTime value={r.createdAt} />
              </td>
              <td className="px-2 py-1.5 whitespace-nowrap">{triggerLabel(r.triggerType)}</td>
              <td className="px-2 py-1.5">
                <Link href={`/accounts/${r.accountId}`} className="font-mono text-xs text-brand-700 hover:underline" title={r.accountId}>
                  {shortId(r.accountId)}
                </Link>
              </td>
              <td className="px-2 py-1.5">
                <RunStatusBadge status={r.status} />
              </td>
              <td className="px-2 py-1.5">
                <VerdictBadge result={r.costGateResult} />
              </td>
              <td className="min-w-60 px-2 py-1.5">
                {r.reason ? (
                  <>
                    <div className="font-medium text-slate-800">{reasonText(r.reason)}</div>
                    {r.explanation && (
                      <div className="line-clamp-2 text-xs text-slate-500" title={r.explanation}>
                        {r.explanation}
                      </div>
                    )}
                    {r.retryAfterSeconds !== null && r.status === "DEFERRED" && (
                      <div className="text-xs text-slate-500">Retried once after {r.retryAfterSeconds} s</div>
                    )}
                  </>
                ) : (
                  <span className="text-slate-500">—</span>
                )}
              </td>
              <td className="px-2 py-1.5 text-right tabular-nums">{r.proposals}</td>
              <td className="px-2 py-1.5 text-right tabular-nums">{r.tokens ? fmt.format(r.tokens) : "—"}</td>
              <td className="px-2 py-1.5 text-slate-600">{r.synthesizer ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const FIRST_ROWS = 10;

/** Today's decision spend (UTC day) against the cost-gate caps, verdicts, and the latest runs. */
export function SpendCard() {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.decisions.spend.queryOptions(), refetchInterval: REFRESH_MS });
  const [all, setAll] = useState(false);

  return (
    <>
      <Card
        title={
          <span className="flex items-center gap-2">
            <Gauge className="size-4 text-slate-500" aria-hidden /> Today's decision spend
          </span>
        }
        actions={q.data && <UpdatedNote at={q.dataUpdatedAt} fetching={q.isFetching} />}
      >
        {q.isPending ? (
          <LoadingState label="Loading today's spend…" />
        ) : q.isError ? (
          <ErrorState message={q.error.message} onRetry={() => q.refetch()} />
        ) : (
          <div className="grid gap-6 px-4 py-3 md:grid-cols-2">
            <div className="space-y-3">
              <SpendMeter label="Decision runs today" used={q.data.runsToday} cap={q.data.maxRunsPerDay} unit="runs" />
              <SpendMeter label="Model tokens today" used={q.data.tokensToday} cap={q.data.maxTokensPerDay} unit="tokens" />
              <p className="text-xs text-slate-500">UTC day {q.data.dayKey} — counts reset at midnight UTC.</p>
            </div>
            <div>
              <h3 className="mb-1 font-medium text-slate-700">Cost-gate verdicts</h3>
              {q.data.runs.length === 0 ? (
                <p className="text-slate-500">No decision runs yet.</p>
              ) : (
                <VerdictChart counts={q.data.recentVerdicts} runs={q.data.runs.length} />
              )}
            </div>
          </div>
        )}
      </Card>

      <Card
        title="Recent decision runs"
        actions={q.data && q.data.runs.length > 0 && <span className="text-xs text-slate-500">Newest first</span>}
      >
        {q.isPending ? (
          <LoadingState label="Loading runs…" />
        ) : q.isError ? (
          <ErrorState message={q.error.message} onRetry={() => q.refetch()} />
        ) : q.data.runs.length === 0 ? (
          <EmptyState title="No decision runs yet" hint="Runs appear here when triggers fire, rituals come due, or you run one below." />
        ) : (
          <>
            <RunsTable runs={all ? q.data.runs : q.data.runs.slice(0, FIRST_ROWS)} />
            {q.data.runs.length > FIRST_ROWS && (
              <div className="border-t border-slate-200 p-2 text-center">
                <Button variant="ghost" onClick={() => setAll(!all)} aria-expanded={all}>
                  {all ? `Show the latest ${FIRST_ROWS}` : `Show all ${q.data.runs.length}`}
                </Button>
              </div>
            )}
          </>
        )}
      </Card>
    </>
  );
}
