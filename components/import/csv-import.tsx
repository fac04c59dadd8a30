"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { parse } from "csv-parse/browser/esm/sync";
import { CheckCircle2, FileUp, Upload, XCircle } from "lucide-react";
import { useEffect, useId, useMemo, useState } from "react";
import {
  type CsvParseFn,
  IMPORT_FORMATS,
  IMPORT_KINDS,
  type ImportKind,
  normalizeHeader,
  prepareFile,
  type RowError,
  UNKNOWN_COLUMN,
  validateRecords,
} from "@/server/engine/importRows";
import { useTRPC } from "../trpc";
import { Badge, Button, Card, cx, EmptyState, ErrorState, LoadingState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";

/**
 * CSV import (SPEC §4.4): pick a kind and a file, see the first rows as the server will read them
 * (same parser options, same line numbers, same row checks — the engine's pure validator runs
 * here too), import, watch rows_done move, then read the row-level errors by line and column.
 */

const browserParse = parse as unknown as CsvParseFn;
const PREVIEW_ROWS = 5;
/** Pieces of the file per tRPC string (server/schemas/imports.ts), and the whole request's cap. */
const PART_CHARS = 100_000;
const MAX_TRPC_BYTES = 1024 * 1024 - 4096;

const KIND_LABEL: Record<ImportKind, string> = { accounts: "Accounts", contacts: "Contacts", opportunities: "Opportunities" };
const STATUS_TONE: Record<string, Tone> = { PENDING: "slate", RUNNING: "blue", COMPLETED: "green", FAILED: "red" };

/** Split without cutting a surrogate pair (the pieces are joined unchanged on the server). */
function splitParts(text: string): string[] {
  const parts: string[] = [];
  let at = 0;
  while (at < text.length) {
    let end = Math.min(at + PART_CHARS, text.length);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
    parts.push(text.slice(at, end));
    at = end;
  }
  return parts.length ? parts : [""];
}

interface Chosen {
  name: string;
  text: string;
}

export function CsvImport() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const ids = { kind: useId(), file: useId(), formatHint: useId() };
  const [kind, setKind] = useState<ImportKind>("accounts");
  const [file, setFile] = useState<Chosen | null>(null);
  const [readError, setReadError] = useState<string | null>(null);
  const [currentId, setCurrentId] = useState<string | null>(null);

  const preview = useMemo(() => (file ? previewOf(kind, file.text) : null), [kind, file]);
  const tooBigForPage = file ? new TextEncoder().encode(JSON.stringify(file.text)).length > MAX_TRPC_BYTES : false;

  const invalidateList = () => qc.invalidateQueries({ queryKey: trpc.imports.list.queryKey() });
  const create = useMutation(
    trpc.imports.create.mutationOptions({
      onSuccess: (res) => {
        setCurrentId(res.importId);
        invalidateList();
      },
    }),
  );
  const current = useQuery({
    ...trpc.imports.get.queryOptions({ id: currentId ?? "" }),
    enabled: !!currentId,
    // Poll while the job works through the file; stop once it is done.
    refetchInterval: (q) => {
      const s = q.state.data?.status;
      return s === "PENDING" || s === "RUNNING" ? 1000 : false;
    },
  });
  const done = current.data?.status === "COMPLETED" || current.data?.status === "FAILED";
  const recent = useQuery({
    ...trpc.imports.list.queryOptions({ limit: 10 }),
    refetchInterval: currentId && !done ? 3000 : false,
  });
  // The list's polling stops with the import's; one last read so it shows the final counts.
  const finishedId = done ? currentId : null;
  useEffect(() => {
    if (finishedId) qc.invalidateQueries({ queryKey: trpc.imports.list.queryKey() });
  }, [finishedId, qc, trpc]);

  async function onFile(f: File | undefined) {
    setReadError(null);
    setCurrentId(null);
    create.reset();
    if (!f) return setFile(null);
    try {
      setFile({ name: f.name, text: await f.text() });
    } catch {
      setFile(null);
      setReadError("The file could not be read.");
    }
  }

  const canImport = !!file && !!preview?.ok && !tooBigForPage && !create.isPending;

  return (
    <div className="space-y-4">
      <Card title="1. Choose a file">
        <div className="grid gap-4 px-4 py-3 md:grid-cols-[minmax(0,1fr)_minmax(0,1.4fr)]">
          <div className="space-y-3">
            <label htmlFor={ids.kind} className="block">
              <span className="mb-1 block font-medium text-slate-700">What the file holds</span>
              <select
                id={ids.kind}
                value={kind}
                onChange={(e) => {
                  setKind(e.target.value as ImportKind);
                  setCurrentId(null);
                  create.reset();
                }}
                className="w-56 rounded-md border border-slate-300 bg-white px-2 py-1.5"
              >
                {IMPORT_KINDS.map((k) => (
                  <option key={k} value={k}>
                    {KIND_LABEL[k]}
                  </option>
                ))}
              </select>
            </label>
            <label htmlFor={ids.file} className="block">
              <span className="mb-1 block font-medium text-slate-700">CSV file</span>
              <input
                id={ids.file}
                type="file"
                accept=".csv,text/csv"
                aria-describedby={ids.formatHint}
                onChange={(e) => onFile(e.target.files?.[0])}
                className="block w-full text-sm text-slate-700 file:mr-3 file:rounded-md file:border file:border-slate-300 file:bg-white file:px-3 file:py-1.5 file:font-medium file:text-slate-800 hover:file:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-600"
              />
            </label>
            <p className="text-slate-500">
              UTF-8, comma-separated, header row first; quoted fields may span lines. Up to 1 MB here — larger files (up to 5 MiB) go
              through <code className="font-mono text-xs">POST /api/v1/accounts/import</code>.
            </p>
            {readError && (
              <p role="alert" className="text-red-700">
                {readError}
              </p>
            )}
          </div>
          <div id={ids.formatHint}>
            <h3 className="mb-1 font-medium text-slate-700">{KIND_LABEL[kind]} columns</h3>
            <table className="w-full text-left text-sm">
              <tbody className="divide-y divide-slate-100">
                {IMPORT_FORMATS[kind].map((c) => (
                  <tr key={c.name}>
                    <td className="py-1 pr-3 font-mono text-xs text-slate-800">{c.name}</td>
                    <td className="py-1 pr-3">
                      {c.required ? <Badge tone="amber">required</Badge> : <span className="text-slate-500">optional</span>}
                    </td>
                    <td className="py-1 text-slate-600">{c.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="mt-1 text-slate-500">
              Header names are case-insensitive. Rows are matched on external_id: importing again updates, never duplicates.
            </p>
          </div>
        </div>
      </Card>

      <Card
        title="2. Preview"
        actions={
          <Button
            variant="primary"
            disabled={!canImport}
            onClick={() => file && create.mutate({ kind, fileName: file.name, parts: splitParts(file.text) })}
          >
            <Upload className="size-4" aria-hidden /> Import {file ? KIND_LABEL[kind].toLowerCase() : ""}
          </Button>
        }
      >
        {!file ? (
          <EmptyState title="No file chosen" hint="Choose a CSV file above to see its first rows before importing." />
        ) : !preview?.ok ? (
          <div role="alert" className="flex items-start gap-2 px-4 py-4 text-red-700">
            <XCircle className="mt-0.5 size-4 shrink-0" aria-hidden />
            <p>
              This file cannot be imported as {KIND_LABEL[kind].toLowerCase()}: line {preview?.error.line}
              {preview?.error.column && !preview.error.message.includes(preview.error.column) ? `, column ${preview.error.column}` : ""} —{" "}
              {preview?.error.message}
            </p>
          </div>
        ) : (
          <PreviewTable preview={preview} fileName={file.name} />
        )}
        {tooBigForPage && (
          <p role="alert" className="border-t border-slate-200 px-4 py-2 text-red-700">
            This file is too large to upload from the page; send it to the REST endpoint instead.
          </p>
        )}
        {create.isError && (
          <p role="alert" className="border-t border-slate-200 px-4 py-2 text-red-700">
            {create.error.message}
          </p>
        )}
      </Card>

      {currentId && (
        <Card title="3. Result">
          {current.isPending ? (
            <LoadingState label="Starting the import…" />
          ) : current.isError ? (
            <ErrorState message={current.error.message} onRetry={() => current.refetch()} />
          ) : (
            <ImportResult view={current.data} />
          )}
        </Card>
      )}

      <Card title="Recent imports">
        {recent.isPending ? (
          <LoadingState />
        ) : recent.isError ? (
          <ErrorState message={recent.error.message} onRetry={() => recent.refetch()} />
        ) : recent.data.length === 0 ? (
          <EmptyState title="No imports yet" hint="Imports you run here or through the REST API are listed with their results." />
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-left">
              <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="px-4 py-2 font-medium">File</th>
                  <th className="px-4 py-2 font-medium">Kind</th>
                  <th className="px-4 py-2 font-medium">Status</th>
                  <th className="px-4 py-2 text-right font-medium">Rows</th>
                  <th className="px-4 py-2 text-right font-medium">Created</th>
                  <th className="px-4 py-2 text-right font-medium">Updated</th>
                  <th className="px-4 py-2 text-right font-medium">Errors</th>
                  <th className="px-4 py-2 font-medium">Started</th>
                  <th className="px-4 py-2" />
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {recent.data.map((i) => (
                  <tr key={i.id} className={cx(i.id === currentId && "bg-brand-50/40")}>
                    <td className="max-w-56 truncate px-4 py-2 font-medium" title={i.fileName ?? undefined}>
                      {i.fileName ?? <span className="text-slate-500">(REST upload)</span>}
                    </td>
                    <td className="px-4 py-2">{KIND_LABEL[i.kind as ImportKind] ?? i.kind}</td>
                    <td className="px-4 py-2">
                      <Badge tone={STATUS_TONE[i.status] ?? "slate"}>{i.status.toLowerCase()}</Badge>
                    </td>
                    <td className="px-4 py-2 text-right tabular-nums">
                      {i.rowsDone} / {i.rowsTotal}
                    </td>
                    <td className="px-4 py-2 text-right tabular-nums">{i.created}</td>
                    <td className="px-4 py-2 text-right tabular-nums">{i.updated}</td>
                    <td className="px-4 py-2 text-right tabular-nums">{i.errorCount}</td>
                    <td className="px-4 py-2">
                      <RelativeTime value={i.createdAt} />
                    </td>
                    <td className="px-4 py-2 text-right">
                      <Button
                        variant="ghost"
                        onClick={() => setCurrentId(i.id)}
                        aria-label={`View result of ${i.fileName ?? "REST upload"}`}
                      >
                        View
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

// ─────────────────────────────── preview ───────────────────────────────

type Preview = ReturnType<typeof previewOf>;

function previewOf(kind: ImportKind, text: string) {
  const file = prepareFile(kind, text, browserParse);
  if (!file.ok) return file;
  const checked = validateRecords(kind, file.header, file.index, file.records).results;
  const errors = checked.flatMap((r) => (r.result.ok ? [] : r.result.errors));
  const mapping = file.header.values.map((raw) => {
    const name = normalizeHeader(raw);
    return { raw, target: file.index[name] !== undefined ? name : null };
  });
  const columns = IMPORT_FORMATS[kind].filter((c) => file.index[c.name] !== undefined).map((c) => c.name);
  const absent = IMPORT_FORMATS[kind].filter((c) => file.index[c.name] === undefined).map((c) => c.name);
  return {
    ok: true as const,
    kind,
    rows: file.records.length,
    mapping,
    columns,
    absent,
    index: file.index,
    first: file.records
      .slice(0, PREVIEW_ROWS)
      .map((r, i) => ({ ...r, errors: checked[i]?.result.ok === false ? checked[i].result.errors : [] })),
    errors,
  };
}

function PreviewTable({ preview, fileName }: { preview: Extract<Preview, { ok: true }>; fileName: string }) {
  return (
    <div className="space-y-3 px-4 py-3">
      <p className="text-slate-700">
        <span className="font-medium">{fileName}</span> · {preview.rows} row{preview.rows === 1 ? "" : "s"}
        {preview.errors.length > 0 ? (
          <>
            {" "}
            ·{" "}
            <span className="text-amber-800">
              {preview.errors.length} problem{preview.errors.length === 1 ? "" : "s"} found before importing
            </span>{" "}
            (those rows will be skipped; owner and account checks run during the import)
          </>
        ) : (
          <> · no problems found before importing (owner and account checks run during the import)</>
        )}
      </p>
      <div>
        <h3 className="mb-1 font-medium text-slate-700">Header mapping</h3>
        <ul className="flex flex-wrap gap-1.5" aria-label="Header mapping">
          {preview.mapping.map((m, i) => (
            <li key={`${m.raw}-${i}`} className="rounded border border-slate-200 px-2 py-0.5 text-xs">
              <span className="font-mono">{m.raw || "(blank)"}</span> →{" "}
              {m.target ? (
                <span className="font-mono text-emerald-800">{m.target}</span>
              ) : (
                <span className="text-slate-600">ignored (unknown column)</span>
              )}
            </li>
          ))}
        </ul>
        {preview.absent.length > 0 && <p className="mt-1 text-slate-500">Not in this file (left unchanged): {preview.absent.join(", ")}</p>}
      </div>
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm">
          <caption className="sr-only">First {PREVIEW_ROWS} rows as they will be imported</caption>
          <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-2 py-1.5 font-medium">Line</th>
              {preview.columns.map((c) => (
                <th key={c} className="px-2 py-1.5 font-mono font-medium normal-case">
                  {c}
                </th>
              ))}
              <th className="px-2 py-1.5 font-medium">Check</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {preview.first.map((r) => (
              <tr key={r.line} className={cx(r.errors.length > 0 && "bg-red-50/60")}>
                <td className="px-2 py-1.5 tabular-nums text-slate-600">{r.line}</td>
                {preview.columns.map((c) => {
                  const v = r.values[preview.index[c] as number] ?? "";
                  return (
                    <td key={c} className="max-w-48 truncate px-2 py-1.5" title={v}>
                      {v}
                    </td>
                  );
                })}
                <td className="px-2 py-1.5">
                  {r.errors.length === 0 ? (
                    <span className="inline-flex items-center gap-1 text-emerald-800">
                      <CheckCircle2 className="size-4" aria-hidden /> ok
                    </span>
                  ) : (
                    <span className="inline-flex items-center gap-1 text-red-700">
                      <XCircle className="size-4 shrink-0" aria-hidden /> {r.errors.map((e) => `${e.column}: ${e.message}`).join("; ")}
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

// ─────────────────────────────── result ───────────────────────────────

interface View {
  id: string;
  kind: string;
  status: string;
  fileName: string | null;
  rowsTotal: number;
  rowsDone: number;
  created: number;
  updated: number;
  errorCount: number;
  errors: RowError[];
}

function ImportResult({ view }: { view: View }) {
  const pct = view.rowsTotal === 0 ? 100 : Math.round((view.rowsDone / view.rowsTotal) * 100);
  const running = view.status === "PENDING" || view.status === "RUNNING";
  const notices = view.errors.filter((e) => e.message === UNKNOWN_COLUMN);
  const rowErrors = view.errors.filter((e) => e.message !== UNKNOWN_COLUMN);
  return (
    <div className="space-y-3 px-4 py-3" data-testid="import-result">
      <div className="flex flex-wrap items-center gap-2">
        <Badge tone={STATUS_TONE[view.status] ?? "slate"}>
          {view.status === "COMPLETED" ? (
            <CheckCircle2 className="size-3.5" aria-hidden />
          ) : view.status === "FAILED" ? (
            <XCircle className="size-3.5" aria-hidden />
          ) : (
            <FileUp className="size-3.5" aria-hidden />
          )}
          {view.status.toLowerCase()}
        </Badge>
        <span className="text-slate-700">
          {view.fileName ?? "REST upload"} · {KIND_LABEL[view.kind as ImportKind] ?? view.kind}
        </span>
      </div>
      <div>
        <div className="mb-1 flex justify-between text-slate-600">
          <span id={`progress-${view.id}`}>
            {running ? (view.status === "PENDING" ? "Queued — waiting for a worker…" : "Importing…") : "Rows processed"}
          </span>
          <span className="tabular-nums">
            {view.rowsDone} / {view.rowsTotal} rows
          </span>
        </div>
        <div
          role="progressbar"
          aria-labelledby={`progress-${view.id}`}
          aria-valuemin={0}
          aria-valuemax={view.rowsTotal}
          aria-valuenow={view.rowsDone}
          aria-valuetext={`${view.rowsDone} of ${view.rowsTotal} rows`}
          className="h-2.5 w-full overflow-hidden rounded-full bg-slate-200"
        >
          <div
            className={cx("h-full rounded-full transition-all", view.status === "FAILED" ? "bg-red-600" : "bg-brand-600")}
            style={{ width: `${pct}%` }}
          />
        </div>
      </div>
      <dl className="grid grid-cols-3 gap-3 sm:max-w-xl">
        {[
          ["Created", view.created],
          ["Updated", view.updated],
          ["Rows with errors", view.errorCount],
        ].map(([label, n]) => (
          <div key={label} className="rounded-md border border-slate-200 px-3 py-2">
            <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
            <dd className="text-lg font-semibold tabular-nums text-slate-900">{n}</dd>
          </div>
        ))}
      </dl>
      {notices.length > 0 && (
        <p className="text-slate-600">Ignored columns (not part of this format): {notices.map((n) => n.column).join(", ")}</p>
      )}
      {rowErrors.length === 0 ? (
        !running && <p className="text-emerald-800">No row errors.</p>
      ) : (
        <div>
          <h3 className="mb-1 font-medium text-slate-700">
            Row errors{view.errorCount > rowErrors.length ? ` (first ${rowErrors.length} of ${view.errorCount})` : ""}
          </h3>
          <table className="w-full text-left text-sm" aria-label="Row errors">
            <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="w-20 px-2 py-1.5 font-medium">Line</th>
                <th className="w-48 px-2 py-1.5 font-medium">Column</th>
                <th className="px-2 py-1.5 font-medium">Problem</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {rowErrors.map((e, i) => (
                <tr key={`${e.line}-${e.column}-${i}`}>
                  <td className="px-2 py-1.5 tabular-nums">{e.line || "—"}</td>
                  <td className="px-2 py-1.5 font-mono text-xs">{e.column || "(row)"}</td>
                  <td className="px-2 py-1.5 text-red-800">{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
