"use client";

import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ChevronDown, ChevronRight, Hourglass, Layers } from "lucide-react";
import { useId, useMemo, useState } from "react";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns, infiniteListProps } from "../ui/data-table";
import { Badge, Button, Card, cx, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { inputClass } from "./fields";
import { duration, durationShort, JOB_STATUS, JobStatusBadge } from "./labels";
import type { JobItem, QueueStats } from "./types";
import { UpdatedNote } from "./updated-note";

const REFRESH_MS = 5_000;
type Status = "QUEUED" | "LEASED" | "DONE" | "FAILED";

function Summary({ stats, statuses }: { stats: QueueStats; statuses: readonly Status[] }) {
  const kinds = Object.entries(stats.byKind).sort(([a], [b]) => a.localeCompare(b));
  const age = stats.oldestDueAgeSeconds;
  return (
    <div className="space-y-3 px-4 py-3">
      <ul className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-6" aria-label="Jobs by status">
        {statuses.map((s) => {
          const look = JOB_STATUS[s];
          return (
            <li key={s} className="rounded-md border border-slate-200 px-3 py-2" data-testid={`queue-count-${s}`}>
              <div className="flex items-center gap-1.5 text-xs font-medium text-slate-600">
                {look?.icon} {look?.label ?? s}
              </div>
              <div
                className={cx(
                  "text-xl font-semibold tabular-nums",
                  s === "FAILED" && stats.byStatus[s] > 0 ? "text-red-700" : "text-slate-900",
                )}
              >
                {stats.byStatus[s]}
              </div>
            </li>
          );
        })}
        <li className="rounded-md border border-slate-200 px-3 py-2">
          <div className="flex items-center gap-1.5 text-xs font-medium text-slate-600">
            <Layers className="size-3.5" aria-hidden /> Total
          </div>
          <div className="text-xl font-semibold tabular-nums text-slate-900">{stats.total}</div>
        </li>
        <li className={cx("rounded-md border px-3 py-2", age !== null && age > 300 ? "border-amber-300 bg-amber-50" : "border-slate-200")}>
          <div className="flex items-center gap-1.5 text-xs font-medium text-slate-600">
            <Hourglass className="size-3.5" aria-hidden /> Oldest due job
          </div>
          <div
            className="text-xl font-semibold whitespace-nowrap tabular-nums text-slate-900"
            data-testid="oldest-due"
            title={age === null ? "No job is due" : `Has waited ${duration(age)} past its run time`}
          >
            {age === null ? "none" : durationShort(age)}
          </div>
        </li>
      </ul>
      {age !== null && age > 300 && (
        <p className="text-xs text-amber-800">
          A due job has waited more than 5 minutes — is a worker running? <code className="font-mono">npm start</code> runs one unless{" "}
          <code className="font-mono">SCHEDULER=off</code>.
        </p>
      )}
      {kinds.length > 0 && (
        <table className="w-full max-w-2xl text-left">
          <caption className="mb-1 text-left font-medium text-slate-700">By kind</caption>
          <thead className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="py-1 pr-3 font-medium">Kind</th>
              {statuses.map((s) => (
                <th key={s} className="py-1 pr-3 text-right font-medium">
                  {JOB_STATUS[s]?.label ?? s}
                </th>
              ))}
              <th className="py-1 text-right font-medium">Total</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {kinds.map(([kind, counts]) => (
              <tr key={kind}>
                <td className="py-1 pr-3 font-mono text-xs">{kind}</td>
                {statuses.map((s) => (
                  <td key={s} className={cx("py-1 pr-3 text-right tabular-nums", counts[s] === 0 && "text-slate-500")}>
                    {counts[s]}
                  </td>
                ))}
                <td className="py-1 text-right font-medium tabular-nums">{statuses.reduce((a, s) => a + counts[s], 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Lease({ job, now }: { job: JobItem; now: number }) {
  if (!job.leaseOwner) return <span className="text-slate-500">—</span>;
  const expired = job.status === "LEASED" && job.leaseUntil !== null && new Date(job.leaseUntil).getTime() < now;
  return (
    <div className="text-xs">
      <div
        className={cx("max-w-40 truncate font-mono", job.status === "LEASED" ? "text-slate-800" : "text-slate-500")}
        title={job.status === "LEASED" ? `Held by ${job.leaseOwner}` : `Last held by ${job.leaseOwner}`}
      >
        {job.leaseOwner}
      </div>
      {job.leaseUntil && (
        <div className="text-slate-500">
          {job.status === "LEASED" ? "until " : "held until "}
          <RelativeTime value={job.leaseUntil} />
          {expired && (
            <span className="ml-1">
              <Badge tone="amber">expired</Badge>
            </span>
          )}
        </div>
      )}
    </div>
  );
}

function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="text-slate-500">—</span>;
  return (
    <pre className="max-h-48 overflow-auto rounded bg-white p-2 font-mono ring-1 ring-slate-200">{JSON.stringify(value, null, 2)}</pre>
  );
}

function JobDetail({ job }: { job: JobItem }) {
  return (
    <dl id={detailId(job)} className="grid grid-cols-[8rem_minmax(0,1fr)] gap-x-3 gap-y-1 pl-8 text-xs">
      <dt className="text-slate-600">Job id</dt>
      <dd className="font-mono">{job.id}</dd>
      <dt className="text-slate-600">Dedupe key</dt>
      <dd className="font-mono break-all">{job.dedupeKey ?? "—"}</dd>
      <dt className="text-slate-600">Last error</dt>
      <dd>
        {job.lastError ? (
          <pre className="rounded bg-white p-2 font-mono whitespace-pre-wrap break-words text-red-800 ring-1 ring-red-200">
            {job.lastError}
          </pre>
        ) : (
          "—"
        )}
      </dd>
      <dt className="text-slate-600">Payload</dt>
      <dd>
        <Json value={job.payload} />
      </dd>
      <dt className="text-slate-600">Result</dt>
      <dd>
        <Json value={job.result} />
      </dd>
      <dt className="text-slate-600">Last change</dt>
      <dd>
        <RelativeTime value={job.updatedAt} />
      </dd>
    </dl>
  );
}

const detailId = (job: JobItem) => `job-detail-${job.id}`;
const col = dataColumns<JobItem>();
const time = (v: Date | string | null) => (v ? new Date(v).getTime() : 0);

function jobColumns(open: string | null, toggle: (id: string) => void) {
  return col.columns([
    col.display({
      id: "toggle",
      header: () => <span className="sr-only">Details</span>,
      cell: (c) => {
        const job = c.row.original;
        const isOpen = open === job.id;
        return (
          <button
            type="button"
            aria-expanded={isOpen}
            aria-controls={isOpen ? detailId(job) : undefined}
            aria-label={`${isOpen ? "Hide" : "Show"} details of job ${job.id}`}
            onClick={() => toggle(job.id)}
            className="rounded p-0.5 text-slate-600 hover:bg-slate-200"
          >
            {isOpen ? <ChevronDown className="size-4" aria-hidden /> : <ChevronRight className="size-4" aria-hidden />}
          </button>
        );
      },
      meta: { className: "w-8", headerClassName: "w-8" },
    }),
    col.accessor("kind", { header: "Kind", meta: { className: "font-mono text-xs font-medium text-slate-800" } }),
    col.accessor("status", { header: "Status", cell: (c) => <JobStatusBadge status={c.getValue()} /> }),
    col.accessor("attempts", {
      header: "Attempts",
      cell: (c) => {
        const job = c.row.original;
        return (
          <span className={cx("tabular-nums", job.attempts >= job.maxAttempts && "text-red-700")} title="attempts / max attempts">
            {job.attempts}/{job.maxAttempts}
          </span>
        );
      },
    }),
    col.accessor((j) => time(j.runAt), { id: "runAt", header: "Run at", cell: (c) => <RelativeTime value={c.row.original.runAt} /> }),
    col.display({ id: "lease", header: "Lease", cell: (c) => <Lease job={c.row.original} now={Date.now()} /> }),
    col.display({
      id: "lastError",
      header: "Last error",
      cell: (c) => {
        const job = c.row.original;
        return job.lastError ? (
          <button
            type="button"
            onClick={() => toggle(job.id)}
            className="block max-w-full truncate text-left text-xs text-red-800 hover:underline"
            title={job.lastError}
          >
            {job.lastError}
          </button>
        ) : (
          <span className="text-slate-600">—</span>
        );
      },
      meta: { className: "max-w-64" },
    }),
    col.accessor((j) => time(j.createdAt), {
      id: "created",
      header: "Created",
      cell: (c) => <RelativeTime value={c.row.original.createdAt} />,
    }),
    col.accessor((j) => time(j.finishedAt), {
      id: "finished",
      header: "Finished",
      cell: (c) =>
        c.row.original.finishedAt ? <RelativeTime value={c.row.original.finishedAt} /> : <span className="text-slate-600">—</span>,
    }),
  ]);
}

/** The durable job queue (SPEC §4.3, §4.7): counts, the oldest due job, and every job newest first. */
export function JobQueue({ statuses }: { statuses: readonly Status[] }) {
  const trpc = useTRPC();
  const [status, setStatus] = useState<Status | "">("");
  const [kind, setKind] = useState("");
  const [auto, setAuto] = useState(true);
  const [open, setOpen] = useState<string | null>(null);
  const id = useId();
  const interval = auto ? REFRESH_MS : false;
  const stats = useQuery({ ...trpc.decisions.queueStats.queryOptions(), refetchInterval: interval });
  const jobs = useInfiniteQuery({
    ...trpc.decisions.jobs.infiniteQueryOptions(
      { limit: 25, status: status || undefined, kind: kind || undefined },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
    refetchInterval: interval,
  });
  // Memoised: a new array each render would hand the table new data every render.
  const rows = useMemo(() => jobs.data?.pages.flatMap((p) => p.items) ?? [], [jobs.data]);
  const kinds = Object.keys(stats.data?.byKind ?? {}).sort();
  const filtered = status !== "" || kind !== "";
  const columns = useMemo(() => jobColumns(open, (jobId) => setOpen((o) => (o === jobId ? null : jobId))), [open]);

  return (
    <div className="space-y-4">
      <Card
        title="Queue"
        actions={
          <>
            {stats.data && (
              <UpdatedNote
                at={Math.max(stats.dataUpdatedAt, jobs.dataUpdatedAt)}
                fetching={stats.isFetching || jobs.isFetching}
                paused={!auto}
              />
            )}
            <label className="ml-2 inline-flex items-center gap-1.5 text-xs text-slate-700">
              <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} />
              Auto-refresh every 5 s
            </label>
          </>
        }
      >
        {stats.isPending ? (
          <LoadingState label="Loading queue counts…" />
        ) : stats.isError ? (
          <ErrorState message={stats.error.message} onRetry={() => stats.refetch()} />
        ) : (
          <Summary stats={stats.data} statuses={statuses} />
        )}
      </Card>

      <Card
        title="Jobs"
        actions={
          <>
            <label htmlFor={`${id}-status`} className="text-xs font-medium text-slate-600">
              Status
            </label>
            <select id={`${id}-status`} value={status} onChange={(e) => setStatus(e.target.value as Status | "")} className={inputClass}>
              <option value="">All statuses</option>
              {statuses.map((s) => (
                <option key={s} value={s}>
                  {JOB_STATUS[s]?.label ?? s}
                </option>
              ))}
            </select>
            <label htmlFor={`${id}-kind`} className="ml-1 text-xs font-medium text-slate-600">
              Kind
            </label>
            <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(e.target.value)} className={inputClass}>
              <option value="">All kinds</option>
              {kind && !kinds.includes(kind) && <option value={kind}>{kind}</option>}
              {kinds.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
            {filtered && (
              <Button
                variant="ghost"
                onClick={() => {
                  setStatus("");
                  setKind("");
                }}
              >
                Clear
              </Button>
            )}
          </>
        }
      >
        <DataTable
          {...infiniteListProps(jobs)}
          caption="Jobs, newest first"
          cellClassName="px-2 py-1.5"
          columns={columns}
          data={rows}
          getRowId={(j) => j.id}
          loadingLabel="Loading jobs…"
          empty={
            filtered ? (
              <EmptyState title="No jobs match these filters" hint="Clear the filters to see every job." />
            ) : (
              <EmptyState title="No jobs yet — decision runs appear here when triggers fire" />
            )
          }
          rowProps={(j) => ({ className: cx("align-top", open === j.id && "bg-slate-50"), "data-testid": "job-row" })}
          renderDetail={(j) => (open === j.id ? <JobDetail job={j} /> : null)}
          footerNote={`Showing ${rows.length} job${rows.length === 1 ? "" : "s"}${jobs.hasNextPage ? "" : " — end of list"}`}
        />
      </Card>
    </div>
  );
}
