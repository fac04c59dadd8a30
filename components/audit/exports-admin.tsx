"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { CheckCircle2, Clock, Download, FileDown, Loader2, XCircle } from "lucide-react";
import { type ReactNode, useId, useMemo, useState } from "react";
import { Controller, useForm } from "react-hook-form";
import { z } from "zod";
import { EXPORT_FORMATS, EXPORT_LIMITS, type ExportStatus } from "@/server/engine/auditExport";
import { useTRPC } from "../trpc";
import { AccountSelect, type Picked } from "../ui/account-select";
import { DataTable, dataColumns } from "../ui/data-table";
import { Badge, Button, Card, EmptyState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

/**
 * Audit exports (SPEC §4.6): request a range of the ledger as CSV or JSON lines, watch the job
 * write it (rows done of total), then download the file and check it against its sha256.
 */

const DAY = 86_400_000;
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "Pick a date");
/** Dates are whole UTC days; `to` is inclusive here and sent as the next midnight (exclusive). */
const Form = z
  .object({ from: day, to: day, format: z.enum(EXPORT_FORMATS), account: z.custom<Picked>() })
  .refine((v) => Date.parse(v.to) >= Date.parse(v.from), { path: ["to"], message: "The last day cannot be before the first" })
  .refine((v) => (Date.parse(v.to) + DAY - Date.parse(v.from)) / DAY <= EXPORT_LIMITS.maxRangeDays, {
    path: ["to"],
    message: `One export covers at most ${EXPORT_LIMITS.maxRangeDays} days — split the range`,
  });
type FormValues = z.infer<typeof Form>;

const iso = (d: Date) => d.toISOString().slice(0, 10);

const STATUS: Record<ExportStatus, { tone: Tone; label: string; icon: ReactNode }> = {
  PENDING: { tone: "slate", label: "Queued", icon: <Clock className="size-3.5" aria-hidden /> },
  RUNNING: { tone: "blue", label: "Running", icon: <Loader2 className="size-3.5 animate-spin" aria-hidden /> },
  COMPLETED: { tone: "green", label: "Completed", icon: <CheckCircle2 className="size-3.5" aria-hidden /> },
  FAILED: { tone: "red", label: "Failed", icon: <XCircle className="size-3.5" aria-hidden /> },
};

interface ExportRow {
  id: string;
  status: ExportStatus;
  format: string;
  from: Date | string;
  to: Date | string;
  accountId: string | null;
  rowsDone: number;
  rowsTotal: number | null;
  rowCount: number | null;
  sha256: string | null;
  bytes: number | null;
  error: string | null;
  createdAt: Date | string;
}

function Progress({ e }: { e: ExportRow }) {
  const total = e.rowsTotal ?? 0;
  const pct = total > 0 ? Math.min(100, Math.round((e.rowsDone / total) * 100)) : 0;
  return (
    <div className="w-40">
      <div
        role="progressbar"
        aria-label="Rows written"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={e.rowsDone}
        className="h-2 overflow-hidden rounded-full bg-slate-200"
      >
        <div className="h-full bg-brand-600 transition-[width]" style={{ width: `${pct}%` }} />
      </div>
      <p className="mt-0.5 text-xs text-slate-600 tabular-nums">
        {e.rowsDone.toLocaleString("en")} of {total.toLocaleString("en")} rows
      </p>
    </div>
  );
}

function StatusCell({ e }: { e: ExportRow }) {
  const s = STATUS[e.status];
  return (
    <div className="space-y-1">
      <Badge tone={s.tone}>
        <span className="inline-flex items-center gap-1">
          {s.icon} {s.label}
        </span>
      </Badge>
      {e.status === "RUNNING" && <Progress e={e} />}
      {e.status === "FAILED" && e.error && <p className="max-w-xs text-xs text-red-700">{e.error}</p>}
    </div>
  );
}

const bytesLabel = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.max(1, Math.round(n / 1024))} KiB`);
const dayLabel = (v: Date | string) => new Date(v).toISOString().slice(0, 10);
/** The form's inclusive last day: `to` is exclusive midnight. */
const lastDay = (v: Date | string) => dayLabel(new Date(new Date(v).getTime() - 1));

const col = dataColumns<ExportRow>();
const columns = col.columns([
  col.accessor((e) => new Date(e.createdAt).getTime(), {
    id: "createdAt",
    header: "Requested",
    cell: (c) => <RelativeTime value={c.row.original.createdAt} />,
  }),
  col.display({
    id: "range",
    header: "Range (UTC)",
    cell: (c) => (
      <span className="whitespace-nowrap tabular-nums">
        {dayLabel(c.row.original.from)} → {lastDay(c.row.original.to)}
        {c.row.original.accountId && <span className="block font-mono text-xs text-slate-600">account {c.row.original.accountId}</span>}
      </span>
    ),
  }),
  col.accessor("format", { header: "Format", cell: (c) => <span className="font-mono text-xs uppercase">{c.getValue()}</span> }),
  col.accessor("status", { header: "Status", cell: (c) => <StatusCell e={c.row.original} /> }),
  col.accessor((e) => e.rowCount ?? -1, {
    id: "rows",
    header: "Rows",
    meta: { className: "text-right tabular-nums", headerClassName: "text-right" },
    cell: (c) => (c.row.original.rowCount === null ? "—" : c.row.original.rowCount.toLocaleString("en")),
  }),
  col.display({
    id: "sha256",
    header: "SHA-256",
    cell: (c) =>
      c.row.original.sha256 ? (
        <code className="block max-w-[11rem] truncate font-mono text-xs text-slate-700" title={c.row.original.sha256}>
          {c.row.original.sha256}
        </code>
      ) : (
        "—"
      ),
  }),
  col.display({
    id: "download",
    header: () => <span className="sr-only">Download</span>,
    cell: (c) => {
      const e = c.row.original;
      if (e.status !== "COMPLETED") return null;
      return (
        <a
          href={`/admin/exports/${e.id}/download`}
          className="inline-flex items-center gap-1 rounded-md px-2 py-1 font-medium text-brand-700 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-600"
          data-testid="export-download"
        >
          <Download className="size-4" aria-hidden /> Download
          <span className="text-xs font-normal text-slate-600">{e.bytes !== null ? bytesLabel(e.bytes) : ""}</span>
        </a>
      );
    },
  }),
]);

export function ExportsAdmin() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const id = useId();
  const [notice, setNotice] = useState<string | null>(null);
  const today = new Date();
  const form = useForm<FormValues>({
    resolver: zodResolver(Form),
    defaultValues: { from: iso(new Date(today.getTime() - 30 * DAY)), to: iso(today), format: "csv", account: null },
  });
  const list = useInfiniteQuery({
    ...trpc.auditExports.list.infiniteQueryOptions({ limit: 20 }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
    // Poll while any export is still being written, so the progress bar moves.
    refetchInterval: (q) =>
      q.state.data?.pages.some((p) => p.items.some((e) => e.status === "PENDING" || e.status === "RUNNING")) ? 1500 : false,
  });
  const rows = useMemo(() => list.data?.pages.flatMap((p) => p.items) ?? [], [list.data]);
  const request = useMutation(
    trpc.auditExports.request.mutationOptions({
      onSuccess: async () => {
        setNotice("Export requested — it appears below and is written in the background.");
        await qc.invalidateQueries({ queryKey: trpc.auditExports.list.pathKey() });
      },
    }),
  );
  const err = form.formState.errors;

  return (
    <div className="space-y-4">
      <Card title="Request an export">
        <form
          className="space-y-4 p-4"
          onSubmit={form.handleSubmit((v) => {
            setNotice(null);
            request.mutate({
              from: `${v.from}T00:00:00.000Z`,
              to: new Date(Date.parse(`${v.to}T00:00:00.000Z`) + DAY).toISOString(),
              format: v.format,
              accountId: v.account?.id,
            });
          })}
        >
          <div className="flex flex-wrap items-start gap-4">
            <div>
              <label htmlFor={`${id}-from`} className="mb-1 block font-medium text-slate-700">
                First day (UTC)
              </label>
              <input id={`${id}-from`} type="date" className="rounded-md border border-slate-300 px-2 py-1" {...form.register("from")} />
            </div>
            <div>
              <label htmlFor={`${id}-to`} className="mb-1 block font-medium text-slate-700">
                Last day (UTC, included)
              </label>
              <input
                id={`${id}-to`}
                type="date"
                className="rounded-md border border-slate-300 px-2 py-1 aria-[invalid=true]:border-red-500"
                aria-invalid={!!err.to}
                aria-describedby={err.to ? `${id}-to-error` : `${id}-to-hint`}
                {...form.register("to")}
              />
              {err.to ? (
                <p id={`${id}-to-error`} className="mt-1 max-w-xs text-xs text-red-700">
                  {err.to.message}
                </p>
              ) : (
                <p id={`${id}-to-hint`} className="mt-1 text-xs text-slate-600">
                  At most {EXPORT_LIMITS.maxRangeDays} days per export
                </p>
              )}
            </div>
            <fieldset>
              <legend className="mb-1 font-medium text-slate-700">Format</legend>
              <label className="flex items-center gap-2">
                <input type="radio" value="csv" {...form.register("format")} /> CSV (column schema v1)
              </label>
              <label className="flex items-center gap-2">
                <input type="radio" value="jsonl" {...form.register("format")} /> JSON lines
              </label>
            </fieldset>
            <Controller
              control={form.control}
              name="account"
              render={({ field }) => (
                <AccountSelect value={field.value} onChange={field.onChange} label="Account" placeholder="All accounts" />
              )}
            />
          </div>
          <div className="flex flex-wrap items-center gap-3">
            <Button type="submit" variant="primary" disabled={request.isPending}>
              <FileDown className="size-4" aria-hidden /> {request.isPending ? "Requesting…" : "Request export"}
            </Button>
            <p className="text-xs text-slate-600">
              {EXPORT_LIMITS.perWindow} exports per hour per workspace. Each request is recorded in the ledger.
            </p>
          </div>
          <div aria-live="polite">
            {notice && (
              <p role="status" className="text-emerald-800">
                {notice}
              </p>
            )}
            {request.isError && (
              <p role="alert" className="text-red-700">
                {request.error.message}
              </p>
            )}
          </div>
        </form>
      </Card>
      <Card title="Exports">
        <DataTable
          caption="Audit exports, newest first"
          columns={columns}
          data={rows}
          getRowId={(e) => e.id}
          loading={list.isPending}
          loadingLabel="Loading exports…"
          error={list.isError ? { message: list.error.message, onRetry: () => void list.refetch() } : null}
          empty={<EmptyState title="No exports yet" hint="Request one above; finished files can be downloaded here." />}
          rowProps={(e) => ({ "data-testid": `export-row-${e.status}` })}
          paging={{ hasMore: !!list.hasNextPage, loadingMore: list.isFetchingNextPage, onLoadMore: () => void list.fetchNextPage() }}
          testId="exports-table"
        />
      </Card>
    </div>
  );
}
