"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, CircleX, Hourglass, Loader2, Play } from "lucide-react";
import { useEffect, useState } from "react";
import { errorInfo, shortId } from "../decisions/labels";
import { UpdatedNote } from "../decisions/updated-note";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { type Calibration, finished, fmtInt, PHASE_TEXT } from "./format";

const POLL_MS = 1_500;

const RUN_STATUS: Record<string, { tone: Tone; icon: typeof CircleCheck; text: string }> = {
  QUEUED: { tone: "slate", icon: Hourglass, text: "Queued" },
  RUNNING: { tone: "blue", icon: Loader2, text: "Running" },
  COMPLETED: { tone: "green", icon: CircleCheck, text: "Completed" },
  FAILED: { tone: "red", icon: CircleX, text: "Failed" },
};

function RunStatus({ status }: { status: string }) {
  const s = RUN_STATUS[status] ?? { tone: "slate" as Tone, icon: Hourglass, text: status };
  return (
    <Badge tone={s.tone}>
      <s.icon className="size-3" aria-hidden /> {s.text}
    </Badge>
  );
}

/** One run's progress: the phase in words, a bar, rows read, and the outcome when it ends. */
function RunProgress({ run }: { run: Calibration }) {
  const pct = Math.round(run.progress * 100);
  return (
    <div className="space-y-1.5 rounded-md border border-slate-200 px-3 py-2" data-testid="calibration-progress" aria-live="polite">
      <div className="flex flex-wrap items-center gap-2">
        <RunStatus status={run.status} />
        <span className="font-medium text-slate-800">
          {run.status === "QUEUED"
            ? "Waiting for a worker"
            : run.status === "RUNNING"
              ? (PHASE_TEXT[run.phase ?? ""] ?? "Running")
              : run.status === "COMPLETED"
                ? "Candidate registered"
                : "Calibration failed"}
        </span>
        <span className="ml-auto text-xs tabular-nums text-slate-600">
          {fmtInt.format(run.rowsDone)} / {fmtInt.format(run.rowsTotal)} decided intents read
        </span>
      </div>
      <progress
        className="h-2 w-full overflow-hidden rounded [&::-webkit-progress-bar]:bg-slate-200 [&::-webkit-progress-value]:bg-brand-600"
        value={pct}
        max={100}
        aria-label={`Calibration progress ${pct}%`}
      />
      {run.status === "FAILED" && run.error && (
        <p role="alert" className="rounded-md bg-red-50 px-3 py-1.5 text-red-800 ring-1 ring-red-200">
          {run.error}
        </p>
      )}
      {run.status === "COMPLETED" && (
        <p className="text-slate-700">It is a CANDIDATE now: the shadow job scores it beside the ACTIVE ranking until it is promoted.</p>
      )}
    </div>
  );
}

/** "Calibrate now", the run it started (polled until it ends) and the recent runs. */
export function CalibrateCard({ isAdmin }: { isAdmin: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const list = useQuery({ ...trpc.learning.calibrations.queryOptions({ limit: 10 }), refetchInterval: 15_000 });
  const [watching, setWatching] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // A run already queued or running when the page opens is followed too.
  const open = list.data?.find((r) => !finished(r.status));
  const id = watching ?? open?.id ?? null;
  const run = useQuery({
    ...trpc.learning.calibration.queryOptions({ id: id ?? "" }),
    enabled: id !== null,
    refetchInterval: (q) => (q.state.data && finished(q.state.data.status) ? false : POLL_MS),
  });
  const ended = run.data && finished(run.data.status) ? run.data.status : null;
  // biome-ignore lint/correctness/useExhaustiveDependencies: refresh the lists once, when the followed run ends
  useEffect(() => {
    if (!ended) return;
    qc.invalidateQueries({ queryKey: trpc.learning.calibrations.queryKey() });
    qc.invalidateQueries({ queryKey: trpc.learning.weights.queryKey() });
  }, [ended, id]);
  const start = useMutation(
    trpc.learning.calibrate.mutationOptions({
      onSuccess: (r) => {
        setWatching(r.jobId);
        qc.invalidateQueries({ queryKey: trpc.learning.calibrations.queryKey() });
      },
      onError: (e) => setError(errorInfo(e).message),
    }),
  );
  const busy = start.isPending || (run.data !== undefined && !finished(run.data.status));

  return (
    <Card
      title="Calibration"
      actions={
        <>
          <UpdatedNote at={list.dataUpdatedAt} fetching={list.isFetching} />
          {isAdmin && (
            <Button
              variant="primary"
              disabled={busy}
              onClick={() => {
                setError(null);
                start.mutate({});
              }}
            >
              <Play className="size-4" aria-hidden /> Calibrate now
            </Button>
          )}
        </>
      }
    >
      <div className="space-y-3 px-4 py-3">
        <p className="text-slate-600">
          Fits ranking weights on the labelled outcomes of decided proposals and registers them as a CANDIDATE with their provenance.
          Ranking only: policy never reads them.
        </p>
        {error && (
          <p role="alert" className="rounded-md bg-red-50 px-3 py-1.5 text-red-800 ring-1 ring-red-200" data-testid="calibrate-error">
            {error}
          </p>
        )}
        {id && (run.isPending ? <LoadingState label="Loading the calibration…" /> : run.data ? <RunProgress run={run.data} /> : null)}
      </div>
      {list.isPending ? (
        <LoadingState label="Loading calibrations…" />
      ) : list.isError ? (
        <ErrorState message={list.error.message} onRetry={() => list.refetch()} />
      ) : list.data.length === 0 ? (
        <EmptyState title="No calibrations yet" hint="The calibrate job runs one when enough decisions are labelled, or start one here." />
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" data-testid="calibrations">
            <caption className="sr-only">Recent calibrations</caption>
            <thead className="border-y border-slate-200 bg-slate-50 text-xs text-slate-600">
              <tr>
                {["Requested", "Run", "Status", "Decided intents", "Outcome"].map((h) => (
                  <th key={h} scope="col" className="py-2 pr-3 font-medium first:pl-4">
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {list.data.map((r) => (
                <tr key={r.id}>
                  <td className="py-1.5 pr-3 pl-4">
                    <RelativeTime value={r.createdAt} />
                  </td>
                  <td className="py-1.5 pr-3 text-slate-700" title={r.id}>
                    {shortId(r.id, 10)}
                  </td>
                  <td className="py-1.5 pr-3">
                    <RunStatus status={r.status} />
                  </td>
                  <td className="py-1.5 pr-3 tabular-nums">{fmtInt.format(r.rowsTotal)}</td>
                  <td className="max-w-md py-1.5 pr-3 text-slate-700">
                    {r.status === "FAILED"
                      ? r.error
                      : r.status === "COMPLETED"
                        ? "Candidate registered"
                        : `${Math.round(r.progress * 100)}% · ${PHASE_TEXT[r.phase ?? ""] ?? "waiting"}`}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
