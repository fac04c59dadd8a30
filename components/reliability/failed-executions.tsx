"use client";

import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { RotateCcw } from "lucide-react";
import { useId, useMemo, useState } from "react";
import type { AppRouter } from "@/server/api/root";
import { type Notice, SaveNotice } from "../decisions/fields";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns, infiniteListProps } from "../ui/data-table";
import { ReasonDialog } from "../ui/dialog";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { connectorLabel } from "./connector-health";

type Out = inferRouterOutputs<AppRouter>;
type Failed = Out["executions"]["failed"]["items"][number];
type SideEffect = Out["executions"]["replayPreview"]["sideEffects"][number];

const col = dataColumns<Failed>();
const BULK_RANGES = [
  { hours: 1, label: "last hour" },
  { hours: 24, label: "last 24 hours" },
  { hours: 24 * 7, label: "last 7 days" },
] as const;

/** What a replay would send again, one line per tool call — the admin reads this before replaying. */
function SideEffects({ items }: { items: SideEffect[] }) {
  if (items.length === 0) return <p className="text-sm text-slate-700">No tool was called before: nothing repeats.</p>;
  return (
    <ul className="space-y-2" data-testid="replay-side-effects">
      {items.map((s) => (
        <li key={`${s.connector}:${s.idempotency_key}`} className="rounded-md border border-slate-200 px-3 py-2 text-sm">
          <div className="flex flex-wrap items-center gap-2">
            <span className="font-medium">{connectorLabel(s.connector)}</span>
            {s.would_repeat ? <Badge tone="amber">would repeat</Badge> : <Badge tone="green">does not repeat</Badge>}
            {s.dedupes && <Badge tone="blue">tool dedupes by key</Badge>}
          </div>
          <div className="mt-1 text-xs text-slate-700">
            Idempotency key <code className="font-mono break-all">{s.idempotency_key}</code>
          </div>
          <p className="mt-1 text-xs text-slate-700">{s.note}</p>
        </li>
      ))}
    </ul>
  );
}

function ReplayDialog({ execution, onClose, onDone }: { execution: Failed | null; onClose: () => void; onDone: (n: Notice) => void }) {
  const trpc = useTRPC();
  const preview = useQuery({
    ...trpc.executions.replayPreview.queryOptions({ executionId: execution?.executionId ?? "" }),
    enabled: execution !== null,
  });
  const replay = useMutation(
    trpc.executions.replay.mutationOptions({
      onSuccess: (r) => {
        onDone({
          ok: true,
          text: `Replay ${r.executionId} of ${r.replayOf}: ${r.status.toLowerCase()}. It runs on the job queue; its result shows in the list.`,
        });
        onClose();
      },
    }),
  );
  return (
    <ReasonDialog
      open={execution !== null}
      onClose={onClose}
      onConfirm={(reason) => execution && replay.mutate({ executionId: execution.executionId, replayReason: reason })}
      title={`Replay ${execution?.actionType ?? ""}?`}
      description="A new execution is queued and runs the same call; the original stays as it is. Tools that dedupe get the original idempotency key."
      confirmLabel="Replay"
      pending={replay.isPending || preview.isPending}
      error={replay.error?.message ?? null}
      reasonLabel="Why replay it"
    >
      {preview.isPending ? (
        <LoadingState label="Working out what would repeat…" />
      ) : preview.isError ? (
        <ErrorState message={preview.error.message} />
      ) : preview.data.refusal ? (
        <p className="text-sm text-red-800">It is still running: only a finished execution can be replayed.</p>
      ) : (
        <SideEffects items={preview.data.sideEffects} />
      )}
    </ReasonDialog>
  );
}

function BulkReplay({ onDone }: { onDone: (n: Notice) => void }) {
  const trpc = useTRPC();
  const selectId = useId();
  const [hours, setHours] = useState<number>(24);
  const [open, setOpen] = useState(false);
  // Fixed when the dialog opens, so the preview and the replay cover the same range.
  const [range, setRange] = useState<{ from: Date; to: Date } | null>(null);
  const preview = useQuery({
    ...trpc.executions.bulkReplayPreview.queryOptions(range ?? { from: new Date(0), to: new Date(1) }),
    enabled: open && range !== null,
  });
  const run = useMutation(
    trpc.executions.bulkReplay.mutationOptions({
      onSuccess: (r) => {
        const queued = r.items.filter((i) => i.status === "QUEUED").length;
        const refused = r.items.length - queued;
        onDone({
          ok: refused === 0,
          text: `Queued ${queued} ${queued === 1 ? "replay" : "replays"}, ${refused} refused${r.truncated ? ` (only the first ${r.cap}; replay again for the rest)` : ""}. They run on the job queue; their results show in the list.`,
        });
        setOpen(false);
      },
    }),
  );
  const repeats = preview.data?.items.reduce((n, i) => n + i.sideEffects.filter((s) => s.would_repeat).length, 0) ?? 0;
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm">
      <label htmlFor={selectId} className="text-slate-700">
        Failed in the
      </label>
      <select
        id={selectId}
        value={hours}
        onChange={(e) => setHours(Number(e.target.value))}
        className="rounded-md border border-slate-300 px-2 py-1"
      >
        {BULK_RANGES.map((r) => (
          <option key={r.hours} value={r.hours}>
            {r.label}
          </option>
        ))}
      </select>
      <Button
        onClick={() => {
          const to = new Date();
          setRange({ from: new Date(to.getTime() - hours * 3_600_000), to });
          setOpen(true);
        }}
      >
        <RotateCcw className="size-4" aria-hidden />
        Replay all failed
      </Button>
      <ReasonDialog
        open={open}
        onClose={() => setOpen(false)}
        onConfirm={(reason) => range && run.mutate({ ...range, replayReason: reason })}
        title="Replay the failed executions of this range?"
        description="Each intent's latest failed execution is queued to run again as a new execution; the originals stay as they are."
        confirmLabel="Replay all"
        pending={run.isPending || preview.isPending}
        error={run.error?.message ?? null}
        reasonLabel="Why replay them"
      >
        {preview.isPending ? (
          <LoadingState label="Finding the failed executions…" />
        ) : preview.isError ? (
          <ErrorState message={preview.error.message} />
        ) : (
          <p className="text-sm text-slate-700" data-testid="bulk-replay-summary">
            {preview.data.items.length} {preview.data.items.length === 1 ? "execution" : "executions"} would run again
            {preview.data.truncated ? ` (the first ${preview.data.cap}; more failed in the range)` : ""}; {repeats}{" "}
            {repeats === 1 ? "call repeats" : "calls repeat"} a side effect that was already attempted.
          </p>
        )}
      </ReasonDialog>
    </div>
  );
}

/** A replay's execution that the queue has not finished yet. */
const PENDING = new Set(["QUEUED", "EXECUTING"]);

/** Where the row's replay is: waiting for its job, running, or its result. */
function ReplayState({ status }: { status: string }) {
  if (status === "QUEUED") return <Badge tone="blue">replay queued</Badge>;
  if (status === "EXECUTING") return <Badge tone="blue">replay running</Badge>;
  return <Badge tone={status === "SUCCEEDED" ? "green" : "slate"}>replayed: {status.toLowerCase()}</Badge>;
}

/** The tenant's failed executions, newest first, each with a replay that shows its preview first (SPEC §4.7). */
export function FailedExecutions() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [picked, setPicked] = useState<Failed | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const q = useInfiniteQuery({
    ...trpc.executions.failed.infiniteQueryOptions({ limit: 25 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    // A queued or running replay's result comes from the job queue: refetch sooner while one is pending.
    refetchInterval: (query) =>
      query.state.data?.pages.some((p) => p.items.some((e) => e.laterExecution && PENDING.has(e.laterExecution.status))) ? 3_000 : 15_000,
  });
  const rows = useMemo(() => q.data?.pages.flatMap((p) => p.items) ?? [], [q.data]);
  const columns = useMemo(
    () =>
      col.columns([
        col.accessor((e) => new Date(e.finishedAt ?? e.startedAt).getTime(), {
          id: "finishedAt",
          header: "Failed",
          cell: (c) => <RelativeTime value={c.row.original.finishedAt ?? c.row.original.startedAt} />,
        }),
        col.accessor("actionType", { header: "Action", meta: { className: "font-mono text-xs", search: true } }),
        col.accessor((e) => e.accountName ?? e.accountId, { id: "account", header: "Account", meta: { search: true } }),
        col.accessor((e) => (e.connector ? connectorLabel(e.connector) : "—"), { id: "connector", header: "Connector" }),
        col.accessor((e) => e.error ?? "", {
          id: "error",
          header: "Error",
          meta: { className: "max-w-md text-xs break-words text-slate-700", search: true },
        }),
        col.display({
          id: "replay",
          header: "Replay",
          cell: (c) => {
            const e = c.row.original;
            if (e.laterExecution) return <ReplayState status={e.laterExecution.status} />;
            return (
              <Button onClick={() => setPicked(e)}>
                Replay
                <span className="sr-only">
                  {" "}
                  {e.actionType} on {e.accountName ?? e.accountId}
                </span>
              </Button>
            );
          },
        }),
      ]),
    [],
  );
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.executions.failed.pathKey() });
  const done = (n: Notice) => {
    setNotice(n);
    void refresh();
    void qc.invalidateQueries({ queryKey: trpc.reliability.connectors.queryKey() });
  };
  return (
    <Card title="Failed executions" actions={<BulkReplay onDone={done} />}>
      <div className="px-4 pt-3">
        <SaveNotice notice={notice} testId="replay-notice" />
      </div>
      <DataTable
        columns={columns}
        data={rows}
        getRowId={(e) => e.executionId}
        caption="Failed executions, newest first"
        empty={<EmptyState title="No failed executions" hint="Every execution so far succeeded or is still running." />}
        filter={{ label: "Filter", placeholder: "action, account or error" }}
        testId="failed-executions"
        {...infiniteListProps(q)}
      />
      <ReplayDialog execution={picked} onClose={() => setPicked(null)} onDone={done} />
    </Card>
  );
}
