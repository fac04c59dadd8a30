"use client";

import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ChevronDown, ChevronRight, Download, ShieldCheck, ShieldX } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns } from "../ui/data-table";
import { Dialog } from "../ui/dialog";
import { Badge, Button, Card, EmptyState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import type { RouterOutputs } from "../work/types";
import { describeEntry } from "./describe";

type Entry = RouterOutputs["ledger"]["list"]["items"][number];
const col = dataColumns<Entry>();

/** A datetime-local value ("2026-11-20T09:30", local time) as a Date, or undefined when empty/invalid. */
function localDate(v: string): Date | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Entries shown above a broken one when the explorer jumps to it, so its neighbourhood is visible. */
const AROUND = 5;

/** Every entry on one correlation id, oldest first: the story an entry belongs to. */
function StoryDialog({ correlationId, onClose }: { correlationId: string | null; onClose: () => void }) {
  const trpc = useTRPC();
  const story = useQuery({
    ...trpc.ledger.list.queryOptions({ limit: 200, correlationId: correlationId ?? "-" }),
    enabled: correlationId !== null,
  });
  const entries = useMemo(() => [...(story.data?.items ?? [])].reverse(), [story.data]);
  return (
    <Dialog
      open={correlationId !== null}
      onClose={onClose}
      size="lg"
      title="Story"
      description={
        <>
          Every entry on correlation id <code className="font-mono text-xs">{correlationId}</code>, in order.
        </>
      }
    >
      {story.isPending && <p className="text-slate-600">Loading the story…</p>}
      {story.isError && <p className="text-red-700">Could not load the story: {story.error.message}</p>}
      {story.data && (
        <ol className="space-y-2" data-testid="story-entries">
          {entries.map((e) => (
            <li key={e.id} className="flex items-start gap-3 rounded-md border border-slate-200 px-3 py-2">
              <span className="w-12 shrink-0 text-right tabular-nums text-slate-600">#{e.seq}</span>
              <div className="min-w-0 flex-1">
                <div className="flex flex-wrap items-center gap-2">
                  <Badge>{e.type}</Badge>
                  <span className="text-xs text-slate-600">
                    <RelativeTime value={e.createdAt} /> · {humanize(e.actor.type)}
                  </span>
                </div>
                <p className="mt-1">{describeEntry(e.type, e.payload)}</p>
              </div>
            </li>
          ))}
        </ol>
      )}
      {story.data?.nextCursor && <p className="mt-2 text-xs text-slate-600">Showing the first 200 entries of this story.</p>}
    </Dialog>
  );
}

/** Download the newest signed digest as a JSON file to keep outside the database. */
function DownloadDigest() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const download = useMutation({
    mutationFn: () => qc.fetchQuery({ ...trpc.ledger.latestDigest.queryOptions(), staleTime: 0 }),
    onSuccess: (d) => {
      const url = URL.createObjectURL(new Blob([`${JSON.stringify(d, null, 2)}\n`], { type: "application/json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `ledger-digest-${d.tenant.slug}-${d.seq}.json`;
      a.click();
      URL.revokeObjectURL(url);
    },
  });
  return (
    <>
      <Button onClick={() => download.mutate()} disabled={download.isPending}>
        <Download className="size-4" aria-hidden /> {download.isPending ? "Preparing…" : "Download digest"}
      </Button>
      {download.isError && (
        <span role="alert" className="text-xs text-red-700">
          {download.error.message.includes("not found")
            ? "No digest yet: the hourly ledger check publishes the first."
            : download.error.message}
        </span>
      )}
    </>
  );
}

export function LedgerExplorer({ entryTypes }: { entryTypes: readonly string[] }) {
  const trpc = useTRPC();
  // Filters can arrive in the URL (?type=&account=&correlation=), e.g. from an explanation page.
  const params = useSearchParams();
  const [type, setType] = useState(() => {
    const t = params.get("type") ?? "";
    return entryTypes.includes(t) ? t : "";
  });
  const [accountId, setAccountId] = useState(params.get("account") ?? "");
  const [correlationId, setCorrelationId] = useState(params.get("correlation") ?? "");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [maxSeq, setMaxSeq] = useState<number | null>(null);
  const [focusSeq, setFocusSeq] = useState<number | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [story, setStory] = useState<string | null>(null);
  const list = useInfiniteQuery(
    trpc.ledger.list.infiniteQueryOptions(
      {
        limit: 50,
        type: (type || undefined) as never,
        accountId: accountId.trim() || undefined,
        correlationId: correlationId.trim() || undefined,
        from: localDate(from),
        to: localDate(to),
        maxSeq: maxSeq ?? undefined,
      },
      { getNextPageParam: (p) => p.nextCursor ?? undefined },
    ),
  );
  const verify = useMutation(trpc.ledger.verify.mutationOptions());
  // Memoised: a new array each render would hand the table new data every render.
  const rows = useMemo(() => list.data?.pages.flatMap((p) => p.items) ?? [], [list.data]);
  // After a jump to a broken entry: open its details and bring its row into view once it is loaded.
  useEffect(() => {
    if (focusSeq === null) return;
    const hit = rows.find((e) => e.seq === focusSeq);
    if (!hit) return;
    setOpen(hit.id);
    document.getElementById(`ledger-entry-${focusSeq}`)?.scrollIntoView({ block: "center" });
    setFocusSeq(null);
  }, [rows, focusSeq]);
  const showBreak = (seq: number) => {
    setType("");
    setAccountId("");
    setCorrelationId("");
    setFrom("");
    setTo("");
    setMaxSeq(seq + AROUND);
    setFocusSeq(seq);
  };
  const columns = useMemo(
    () =>
      col.columns([
        col.display({
          id: "toggle",
          header: () => <span className="sr-only">Details</span>,
          cell: (c) => {
            const e = c.row.original;
            return (
              <button
                type="button"
                aria-expanded={open === e.id}
                aria-label={`Show details of entry ${e.seq}`}
                onClick={() => setOpen(open === e.id ? null : e.id)}
                className="rounded p-0.5 text-slate-600 hover:bg-slate-200"
              >
                {open === e.id ? <ChevronDown className="size-4" aria-hidden /> : <ChevronRight className="size-4" aria-hidden />}
              </button>
            );
          },
          meta: { className: "w-8", headerClassName: "w-8" },
        }),
        col.accessor("seq", {
          header: "#",
          cell: (c) => <span id={`ledger-entry-${c.getValue()}`}>{c.getValue()}</span>,
          meta: { className: "tabular-nums text-slate-600" },
        }),
        col.accessor((e) => new Date(e.createdAt).getTime(), {
          id: "when",
          header: "When",
          cell: (c) => <RelativeTime value={c.row.original.createdAt} />,
        }),
        col.accessor("type", { header: "Type", cell: (c) => <Badge>{c.getValue()}</Badge> }),
        col.display({
          id: "what",
          header: "What",
          cell: (c) => (
            <button
              type="button"
              className="text-left hover:underline"
              aria-label={`Open the story of entry ${c.row.original.seq}`}
              onClick={() => setStory(c.row.original.correlationId)}
            >
              {describeEntry(c.row.original.type, c.row.original.payload)}
            </button>
          ),
        }),
        col.accessor((e) => `${humanize(e.actor.type)}${e.actor.id ? ` · ${e.actor.id.slice(0, 12)}` : ""}`, {
          id: "actor",
          header: "Actor",
          meta: { className: "text-xs text-slate-600" },
        }),
        col.accessor((e) => e.accountName ?? e.accountId ?? "", {
          id: "account",
          header: "Account",
          cell: (c) => {
            const e = c.row.original;
            return e.accountId ? (
              <Link href={`/accounts/${e.accountId}`} className="text-brand-700 hover:underline">
                {e.accountName ?? `${e.accountId.slice(0, 10)}…`}
              </Link>
            ) : (
              "—"
            );
          },
          meta: { className: "text-xs" },
        }),
        col.display({
          id: "hash",
          header: "Hash",
          cell: (c) => c.row.original.hash.slice(0, 10),
          meta: { className: "font-mono text-xs text-slate-600" },
        }),
      ]),
    [open],
  );

  return (
    <div className="space-y-4">
      <Card
        title="Chain integrity"
        actions={
          <>
            <DownloadDigest />
            <Button variant="primary" onClick={() => verify.mutate()} disabled={verify.isPending}>
              <ShieldCheck className="size-4" aria-hidden /> {verify.isPending ? "Verifying…" : "Verify chain"}
            </Button>
          </>
        }
      >
        <div className="px-4 py-3" aria-live="polite">
          {!verify.data && !verify.isError && (
            <p className="text-slate-600">
              Every entry carries the hash of the one before it. Verifying re-hashes the whole chain from the first entry and names the
              first entry that was edited, deleted or re-ordered. A signed digest of the head, kept outside the database, also catches
              newest entries deleted with the head rewound (<code className="font-mono text-xs">ledger verify --digest</code>).
            </p>
          )}
          {verify.isError && <p className="text-red-700">Verification failed to run: {verify.error.message}</p>}
          {verify.data?.ok === true && (
            <p className="flex items-center gap-2 text-emerald-800" data-testid="verify-result">
              <ShieldCheck className="size-5" aria-hidden /> Intact — {verify.data.entries} entries verified; head{" "}
              <code className="font-mono text-xs">{verify.data.headHash.slice(0, 16)}…</code>
            </p>
          )}
          {verify.data?.ok === false && (
            <p className="flex items-center gap-2 text-red-800" data-testid="verify-result">
              <ShieldX className="size-5" aria-hidden /> Broken at entry #{verify.data.at.seq}: {humanize(verify.data.problem)} —{" "}
              {verify.data.detail}
              <Button onClick={() => verify.data?.ok === false && showBreak(verify.data.at.seq)}>Show entry #{verify.data.at.seq}</Button>
            </p>
          )}
        </div>
      </Card>

      <Card
        title="Entries"
        actions={
          <>
            <label>
              <span className="sr-only">Entry type</span>
              <select value={type} onChange={(e) => setType(e.target.value)} className="rounded-md border border-slate-300 px-2 py-1">
                <option value="">All types</option>
                {entryTypes.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span className="sr-only">Account id</span>
              <input
                value={accountId}
                onChange={(e) => setAccountId(e.target.value)}
                placeholder="Account id"
                className="w-40 rounded-md border border-slate-300 px-2 py-1"
              />
            </label>
            <label>
              <span className="sr-only">Correlation id</span>
              <input
                value={correlationId}
                onChange={(e) => setCorrelationId(e.target.value)}
                placeholder="Correlation id"
                className="w-44 rounded-md border border-slate-300 px-2 py-1"
              />
            </label>
            <label className="flex items-center gap-1 text-xs text-slate-600">
              From
              <input
                type="datetime-local"
                value={from}
                onChange={(e) => setFrom(e.target.value)}
                className="rounded-md border border-slate-300 px-2 py-1 text-sm text-slate-900"
              />
            </label>
            <label className="flex items-center gap-1 text-xs text-slate-600">
              To
              <input
                type="datetime-local"
                value={to}
                onChange={(e) => setTo(e.target.value)}
                className="rounded-md border border-slate-300 px-2 py-1 text-sm text-slate-900"
              />
            </label>
            {maxSeq !== null && (
              <Button onClick={() => setMaxSeq(null)} aria-label={`Clear the jump to entry ${maxSeq - AROUND}`}>
                Around #{maxSeq - AROUND} ×
              </Button>
            )}
          </>
        }
      >
        <DataTable
          caption="Ledger entries, newest first"
          cellClassName="px-2 py-1.5"
          columns={columns}
          data={rows}
          getRowId={(e) => e.id}
          loading={list.isPending}
          loadingLabel="Loading ledger…"
          error={list.isError ? { message: list.error.message, onRetry: () => list.refetch() } : null}
          empty={<EmptyState title="No entries match" hint="Change the filters to see more of the ledger." />}
          paging={{
            hasMore: list.hasNextPage,
            loadingMore: list.isFetchingNextPage,
            onLoadMore: () => list.fetchNextPage(),
            label: "Load older entries",
          }}
          renderDetail={(e) =>
            open === e.id ? (
              <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 pl-8 text-xs">
                <dt className="text-slate-600">Correlation</dt>
                <dd>
                  <button
                    type="button"
                    className="font-mono text-brand-700 hover:underline"
                    onClick={() => setCorrelationId(e.correlationId)}
                  >
                    {e.correlationId}
                  </button>
                </dd>
                <dt className="text-slate-600">Previous hash</dt>
                <dd className="font-mono break-all">{e.prevHash}</dd>
                <dt className="text-slate-600">Hash</dt>
                <dd className="font-mono break-all">{e.hash}</dd>
                <dt className="text-slate-600">Payload</dt>
                <dd>
                  <pre className="overflow-x-auto rounded bg-white p-2 font-mono ring-1 ring-slate-200">
                    {JSON.stringify(e.payload, null, 2)}
                  </pre>
                </dd>
              </dl>
            ) : null
          }
        />
      </Card>
      <StoryDialog correlationId={story} onClose={() => setStory(null)} />
    </div>
  );
}
