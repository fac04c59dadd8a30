"use client";

import { useQuery } from "@tanstack/react-query";
import { Eye, Gauge, ListOrdered, ShieldCheck } from "lucide-react";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useState } from "react";
import { shortId } from "../decisions/labels";
import { UpdatedNote } from "../decisions/updated-note";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { Badge, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { CalibrateCard } from "./calibrate";
import { fmtInt, type HistoryView, metric, type WeightsView } from "./format";
import { SettingsCard } from "./settings";
import { ProvenanceCard, VersionsCard } from "./versions";

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const ShadowHistoryChart = dynamic(() => import("./charts").then((m) => m.ShadowHistoryChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

const REFRESH_MS = 30_000;
const HISTORY_DAYS = 30;

/** Which ranking serves the feed now, since when, and the guard's watch after a promotion. */
function RankingNowCard({ weights, history }: { weights: WeightsView; history: HistoryView | undefined }) {
  const active = weights.items.find((v) => v.id === weights.active_id) ?? null;
  const guard = weights.guard;
  const lastGuard = guard
    ? [...(history?.items ?? [])].reverse().find((p) => p.kind === "GUARD" && p.version_id === guard.weights_id)
    : undefined;
  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <ListOrdered className="size-4 text-slate-600" aria-hidden /> Ranking now
        </span>
      }
    >
      <div className="space-y-2 px-4 py-3" data-testid="ranking-now">
        {active ? (
          <p className="flex flex-wrap items-center gap-2 text-slate-800">
            <span className="text-lg font-semibold">v{active.version}</span>
            <Badge tone={weights.active_scope === "GLOBAL" ? "violet" : "blue"}>
              {weights.active_scope === "GLOBAL" ? "GLOBAL" : "TENANT"}
            </Badge>
            <span>
              ranks every proposal
              {active.promoted_at && (
                <>
                  {" since "}
                  <RelativeTime value={active.promoted_at} />
                </>
              )}
            </span>
          </p>
        ) : (
          <p className="text-slate-800">
            <span className="text-lg font-semibold">Rules ranking</span> — no learned weights are ACTIVE for this workspace or globally.
          </p>
        )}
        <p className="text-xs text-slate-600">
          Learning changes ranking and displayed confidence only; the policy gate reads each proposal's own confidence.
        </p>
        {guard && (
          <div className="rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-amber-950" data-testid="guard-watch">
            <p className="flex flex-wrap items-center gap-1.5 font-medium">
              <ShieldCheck className="size-4" aria-hidden /> Guard watching the promotion until <RelativeTime value={guard.ends_at} />
            </p>
            <p className="text-sm">
              {lastGuard
                ? `Live top-K agreement ${metric(lastGuard.value)} vs ${metric(lastGuard.baseline_value)} for the ranking it replaced, on ${fmtInt.format(lastGuard.sample)} proposals (floor ${metric(lastGuard.threshold)}).`
                : "No guard evaluation yet: the shadow job compares the two rankings on what is decided from now on."}
            </p>
          </div>
        )}
        {weights.settings_problem && <p className="text-sm text-amber-900">Settings: {weights.settings_problem}</p>}
      </div>
    </Card>
  );
}

function ShadowHistoryCard({ history }: { history: ReturnType<typeof useHistory> }) {
  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <Gauge className="size-4 text-slate-600" aria-hidden /> Shadow metrics over time
        </span>
      }
      actions={<UpdatedNote at={history.dataUpdatedAt} fetching={history.isFetching} />}
    >
      {history.isPending ? (
        <LoadingState label="Loading shadow evaluations…" />
      ) : history.isError ? (
        <ErrorState message={history.error.message} onRetry={() => history.refetch()} />
      ) : history.data.items.length === 0 ? (
        <EmptyState
          title={`No shadow or guard evaluations in the last ${HISTORY_DAYS} days`}
          hint="The shadow job scores every CANDIDATE beside the ACTIVE ranking on live decisions, and watches each promotion."
        />
      ) : (
        <div className="px-4 py-3">
          <ShadowHistoryChart history={history.data} />
        </div>
      )}
    </Card>
  );
}

/** Decided intents still without an outcome past the window: the normalize job's gap. */
function NormalizationCard() {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.learning.normalization.queryOptions(), refetchInterval: REFRESH_MS });
  return (
    <Card title="Normalisation gap" actions={<UpdatedNote at={q.dataUpdatedAt} fetching={q.isFetching} />}>
      {q.isPending ? (
        <LoadingState label="Loading the normalisation gap…" />
      ) : q.isError ? (
        <ErrorState message={q.error.message} onRetry={() => q.refetch()} />
      ) : (
        <div className="space-y-2 py-3" data-testid="normalization-gap">
          <p className="px-4 text-slate-800">
            <strong className="text-lg tabular-nums">{fmtInt.format(q.data.gap)}</strong> decided intent{q.data.gap === 1 ? "" : "s"} with
            no outcome after {q.data.after_hours} h
            {q.data.oldest_decided_at && (
              <>
                {" "}
                · oldest decided <RelativeTime value={q.data.oldest_decided_at} />
              </>
            )}
          </p>
          {q.data.items.length === 0 ? (
            <EmptyState title="Nothing flagged" hint="Every decided intent has its outcome, or is still inside the window." />
          ) : (
            <ul className="divide-y divide-slate-100 border-t border-slate-200" aria-label="Flagged intents">
              {q.data.items.map((i) => (
                <li key={i.action_intent_id} className="flex flex-wrap items-center gap-2 px-4 py-1.5">
                  <Link
                    href={`/explain/${i.action_intent_id}`}
                    className="font-medium text-brand-700 hover:underline"
                    title={i.action_intent_id}
                  >
                    Intent {shortId(i.action_intent_id)}
                  </Link>
                  <Badge>{humanize(i.status)}</Badge>
                  <Link href={`/accounts/${i.account_id}`} className="text-brand-700 hover:underline">
                    Account
                  </Link>
                  <span className="ml-auto text-xs text-slate-600">
                    flagged <RelativeTime value={i.flagged_at} />
                  </span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </Card>
  );
}

function useHistory() {
  const trpc = useTRPC();
  return useQuery({ ...trpc.learning.history.queryOptions({ days: HISTORY_DAYS }), refetchInterval: REFRESH_MS });
}

/** The learning admin page (issue 9 item 8). Auditors see every number and no action. */
export function LearningAdmin({ isAdmin }: { isAdmin: boolean }) {
  const trpc = useTRPC();
  const weights = useQuery({ ...trpc.learning.weights.queryOptions(), refetchInterval: REFRESH_MS });
  const history = useHistory();
  const [picked, setPicked] = useState<string | null>(null);
  const items = weights.data?.items ?? [];
  // Until someone picks one: the ACTIVE version, else the newest.
  const selected = items.find((v) => v.id === picked) ?? items.find((v) => v.id === weights.data?.active_id) ?? items[0] ?? null;

  return (
    <div className="space-y-4">
      {!isAdmin && (
        <p className="flex items-center gap-2 rounded-md bg-slate-100 px-3 py-2 text-slate-700">
          <Eye className="size-4" aria-hidden /> Read-only: auditors see every number; only admins calibrate, promote, roll back or change
          settings.
        </p>
      )}
      {weights.isPending ? (
        <Card title="Ranking now">
          <LoadingState label="Loading the weights registry…" />
        </Card>
      ) : weights.isError ? (
        <Card title="Ranking now">
          <ErrorState message={weights.error.message} onRetry={() => weights.refetch()} />
        </Card>
      ) : (
        <>
          <div className="grid items-start gap-4 xl:grid-cols-2">
            <RankingNowCard weights={weights.data} history={history.data} />
            <CalibrateCard isAdmin={isAdmin} />
          </div>
          <VersionsCard weights={weights.data} isAdmin={isAdmin} selectedId={selected?.id ?? null} onSelect={setPicked} />
          <div className="grid items-start gap-4 xl:grid-cols-2">
            <ProvenanceCard v={selected} />
            <ShadowHistoryCard history={history} />
          </div>
        </>
      )}
      <div className="grid items-start gap-4 xl:grid-cols-2">
        <NormalizationCard />
        <SettingsCard isAdmin={isAdmin} />
      </div>
    </div>
  );
}
