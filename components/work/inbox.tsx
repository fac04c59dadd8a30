"use client";

import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { Check, CircleCheck, CircleX, Hand, HelpCircle, Layers, Pencil, Timer, X } from "lucide-react";
import Link from "next/link";
import { useEffect, useId, useState } from "react";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Badge, Button, Card, cx, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { EditApproveDialog } from "./edit-approve-dialog";
import { ConfidenceBadge, formatValue, orderParams, RiskBadge, reasonLabel, useRegistry } from "./labels";
import type { InboxItem } from "./types";

type Notice = { tone: "ok" | "error"; text: string };
type BatchResult = { id: string; ok: boolean; status?: string; error?: string; title: string };

const OUTCOME: Record<string, string> = {
  SUCCEEDED: "done",
  FAILED: "approved, but the execution failed — see the timeline",
  EXECUTING: "running now",
  APPROVED: "approved",
  REJECTED: "rejected",
  PENDING_APPROVAL: "still waiting (a kill switch may have stopped it)",
};

function outcome(status: string) {
  return OUTCOME[status] ?? humanize(status).toLowerCase();
}

/** "Needs your input" (SPEC §4.2 human path): approve, edit & approve, reject — one at a time or in bulk. */
export function InboxView({ canDecide, initialSort = "newest" }: { canDecide: boolean; initialSort?: "newest" | "suggested" }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const reg = useRegistry();
  const sortId = useId();
  const [sort, setSort] = useState(initialSort);
  const list = useInfiniteQuery(
    trpc.work.inbox.infiniteQueryOptions({ limit: 25, sort }, { getNextPageParam: (p) => p.nextCursor ?? undefined }),
  );
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];
  // A link from Next actions (/inbox?sort=suggested#intent-<id>): the card arrives after the page
  // does, so the browser's own jump to the anchor has already happened — bring it into view once it is here.
  const hasRows = rows.length > 0;
  useEffect(() => {
    if (hasRows && window.location.hash.startsWith("#intent-")) document.getElementById(window.location.hash.slice(1))?.scrollIntoView();
  }, [hasRows]);

  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<InboxItem | null>(null);
  const [rejecting, setRejecting] = useState<InboxItem[] | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [batch, setBatch] = useState<{ kind: "approve" | "reject"; results: BatchResult[] } | null>(null);

  const title = (i: InboxItem) => `${reg.label(i.actionType)} for ${i.account.name}`;
  const refresh = () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: trpc.work.inbox.pathKey() }),
      qc.invalidateQueries({ queryKey: trpc.work.timeline.pathKey() }),
      qc.invalidateQueries({ queryKey: trpc.work.artifacts.pathKey() }),
    ]);

  const approve = useMutation(trpc.work.approve.mutationOptions({ onSettled: refresh }));
  const reject = useMutation(trpc.work.reject.mutationOptions({ onSettled: refresh }));
  const many = useMutation(trpc.work.reviewMany.mutationOptions({ onSettled: refresh }));

  const visibleSelected = rows.filter((r) => selected.has(r.id));
  const allSelected = rows.length > 0 && visibleSelected.length === rows.length;
  const busy = approve.isPending || reject.isPending || many.isPending;

  function toggle(id: string, on: boolean) {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    setSelected(next);
  }

  function approveOne(i: InboxItem) {
    setNotice(null);
    approve.mutate(
      { id: i.id },
      {
        onSuccess: (v) =>
          setNotice({ tone: v.status === "FAILED" ? "error" : "ok", text: `Approved “${title(i)}” — ${outcome(v.status)}.` }),
        onError: (e) => setNotice({ tone: "error", text: `Could not approve “${title(i)}”: ${e.message}` }),
      },
    );
  }

  function runBatch(kind: "approve" | "reject", items: InboxItem[], reason?: string) {
    setNotice(null);
    setBatch(null);
    const titles = new Map(items.map((i) => [i.id, title(i)]));
    const ids = items.map((i) => i.id);
    const input = kind === "approve" ? { kind: "approve" as const, ids, reason } : { kind: "reject" as const, ids, reason: reason ?? "" };
    many.mutate(input, {
      onSuccess: (results) => {
        setBatch({ kind, results: results.map((r) => ({ ...r, title: titles.get(r.id) ?? r.id })) });
        setSelected(new Set());
        setRejecting(null);
      },
      onError: (e) => setNotice({ tone: "error", text: `Batch ${kind} failed: ${e.message}` }),
    });
  }

  const rejectError = rejecting && rejecting.length === 1 ? reject.error?.message : many.error?.message;

  return (
    <div className="space-y-3">
      {!canDecide && (
        <p className="rounded-md bg-slate-100 px-3 py-2 text-slate-700 ring-1 ring-slate-200">
          Read-only: auditors see what waits for a decision but cannot approve or reject.
        </p>
      )}
      <div aria-live="polite" className="space-y-3">
        {notice && (
          <p
            role={notice.tone === "error" ? "alert" : "status"}
            data-testid="inbox-notice"
            className={cx(
              "flex items-start gap-2 rounded-md px-3 py-2 ring-1",
              notice.tone === "ok" ? "bg-emerald-50 text-emerald-900 ring-emerald-200" : "bg-red-50 text-red-900 ring-red-200",
            )}
          >
            {notice.tone === "ok" ? (
              <CircleCheck className="mt-0.5 size-4 shrink-0" aria-hidden />
            ) : (
              <CircleX className="mt-0.5 size-4 shrink-0" aria-hidden />
            )}
            <span className="flex-1">{notice.text}</span>
            <button type="button" onClick={() => setNotice(null)} aria-label="Dismiss message" className="rounded p-0.5 hover:bg-white/60">
              <X className="size-4" aria-hidden />
            </button>
          </p>
        )}
        {batch && <BatchResults kind={batch.kind} results={batch.results} onDismiss={() => setBatch(null)} />}
      </div>

      <div className="flex flex-wrap items-center justify-end gap-2">
        {sort === "suggested" && (
          <p className="mr-auto text-slate-600">
            Ranked as in{" "}
            <Link href="/next" className="text-brand-700 underline">
              Next actions
            </Link>
            : by the active learned weights, or the rules ranking when none are active.
          </p>
        )}
        <label htmlFor={sortId} className="font-medium text-slate-700">
          Order
        </label>
        <select
          id={sortId}
          value={sort}
          onChange={(e) => setSort(e.target.value === "suggested" ? "suggested" : "newest")}
          className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm"
        >
          <option value="newest">Newest first</option>
          <option value="suggested">Suggested order</option>
        </select>
      </div>

      {canDecide && (
        <SimilarGroups
          rows={rows}
          busy={busy}
          label={(i) => `${reg.label(i.actionType)} — ${reasonLabel(i.reason)}`}
          onApprove={(items) => runBatch("approve", items)}
          onReject={(items) => {
            many.reset();
            setRejecting(items);
          }}
        />
      )}

      <Card
        title={
          <span className="flex items-center gap-2">
            Needs your input
            {list.data && (
              <span className="font-normal text-slate-500">
                {rows.length}
                {list.hasNextPage ? "+" : ""}
              </span>
            )}
          </span>
        }
        actions={
          canDecide && rows.length > 0 ? (
            <>
              <label className="flex items-center gap-1.5 text-slate-700">
                <input
                  type="checkbox"
                  checked={allSelected}
                  ref={(el) => {
                    if (el) el.indeterminate = visibleSelected.length > 0 && !allSelected;
                  }}
                  onChange={(e) => setSelected(e.target.checked ? new Set(rows.map((r) => r.id)) : new Set())}
                />
                Select all
              </label>
              <span className="text-xs text-slate-500 tabular-nums" aria-live="polite">
                {visibleSelected.length} selected
              </span>
              <Button
                variant="primary"
                disabled={visibleSelected.length === 0 || busy}
                onClick={() => runBatch("approve", visibleSelected)}
              >
                <Check className="size-4" aria-hidden /> Approve selected
              </Button>
              <Button disabled={visibleSelected.length === 0 || busy} onClick={() => setRejecting(visibleSelected)}>
                <X className="size-4" aria-hidden /> Reject selected…
              </Button>
            </>
          ) : null
        }
      >
        {list.isPending ? (
          <LoadingState label="Loading what needs your input…" />
        ) : list.isError ? (
          <ErrorState message={list.error.message} onRetry={() => list.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState title="Nothing needs your input" hint="When autopilot wants a person to decide, it shows up here." />
        ) : (
          <ul className="divide-y divide-slate-200">
            {rows.map((i) => (
              <li key={i.id}>
                <InboxCard
                  item={i}
                  actionLabel={reg.label(i.actionType)}
                  canDecide={canDecide}
                  selected={selected.has(i.id)}
                  onSelect={(on) => toggle(i.id, on)}
                  busy={busy}
                  approving={approve.isPending && approve.variables?.id === i.id}
                  onApprove={() => approveOne(i)}
                  onEdit={() => {
                    approve.reset();
                    setEditing(i);
                  }}
                  onReject={() => {
                    reject.reset();
                    many.reset();
                    setRejecting([i]);
                  }}
                />
              </li>
            ))}
            {list.hasNextPage && (
              <li className="p-3 text-center">
                <Button onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
                  {list.isFetchingNextPage ? "Loading…" : "Load more"}
                </Button>
              </li>
            )}
          </ul>
        )}
      </Card>

      {editing && (
        <EditApproveDialog
          key={editing.id}
          item={editing}
          actionLabel={reg.label(editing.actionType)}
          pending={approve.isPending}
          error={approve.error?.message ?? null}
          onClose={() => setEditing(null)}
          onConfirm={(editedParameters, reason) => {
            const i = editing;
            approve.mutate(
              { id: i.id, editedParameters, ...(reason ? { reason } : {}) },
              {
                onSuccess: (v) => {
                  setEditing(null);
                  setNotice({
                    tone: v.status === "FAILED" ? "error" : "ok",
                    text: `Edited and approved “${title(i)}” (${Object.keys(editedParameters).join(", ")} changed) — ${outcome(v.status)}.`,
                  });
                },
              },
            );
          }}
        />
      )}

      <ReasonDialog
        open={!!rejecting}
        onClose={() => setRejecting(null)}
        title={rejecting && rejecting.length > 1 ? `Reject ${rejecting.length} actions` : "Reject this action"}
        description={
          rejecting && rejecting.length === 1
            ? `${title(rejecting[0] as InboxItem)}. Autopilot learns from why you said no.`
            : "Each is rejected on its own; the same reason is kept for all of them."
        }
        confirmLabel={rejecting && rejecting.length > 1 ? `Reject ${rejecting.length}` : "Reject"}
        tone="danger"
        placeholder="e.g. customer asked us to pause outreach until Q3"
        pending={reject.isPending || many.isPending}
        error={rejectError ?? null}
        onConfirm={(reason) => {
          if (!rejecting) return;
          if (rejecting.length === 1) {
            const i = rejecting[0] as InboxItem;
            reject.mutate(
              { id: i.id, reason },
              {
                onSuccess: () => {
                  setRejecting(null);
                  setNotice({ tone: "ok", text: `Rejected “${title(i)}”. Reason kept: “${reason}”.` });
                },
              },
            );
          } else runBatch("reject", rejecting, reason);
        }}
      />
    </div>
  );
}

function InboxCard({
  item: i,
  actionLabel,
  canDecide,
  selected,
  onSelect,
  busy,
  approving,
  onApprove,
  onEdit,
  onReject,
}: {
  item: InboxItem;
  actionLabel: string;
  canDecide: boolean;
  selected: boolean;
  onSelect: (on: boolean) => void;
  busy: boolean;
  approving: boolean;
  onApprove: () => void;
  onEdit: () => void;
  onReject: () => void;
}) {
  const titleId = useId();
  const params = orderParams(i.parameters);
  return (
    <article
      id={`intent-${i.id}`}
      aria-labelledby={titleId}
      data-testid={`inbox-item-${i.id}`}
      className={cx("flex scroll-mt-4 gap-3 px-4 py-3 target:ring-2 target:ring-brand-600 target:ring-inset", selected && "bg-brand-50/60")}
    >
      {canDecide && (
        <input
          type="checkbox"
          className="mt-1 size-4 shrink-0"
          checked={selected}
          onChange={(e) => onSelect(e.target.checked)}
          aria-label={`Select ${actionLabel} for ${i.account.name}`}
        />
      )}
      <div className="min-w-0 flex-1 space-y-2">
        <div className="flex flex-wrap items-center gap-x-2 gap-y-1">
          <h3 id={titleId} className="font-semibold text-slate-900">
            {actionLabel}
          </h3>
          <span className="text-slate-500">for</span>
          <Link href={`/accounts/${i.account.id}`} className="font-medium text-brand-700 hover:underline">
            {i.account.name}
          </Link>
          <RiskBadge risk={i.riskLevel} />
          <ConfidenceBadge value={i.confidence} />
          {i.version > 1 && <Badge tone="violet">v{i.version}</Badge>}
          {i.escalatedAt && (
            <Badge tone="red" title="Waited past the approval time limit and was handed to an admin">
              {i.escalatedToViewer ? "Escalated to you" : "Escalated"}
            </Badge>
          )}
          {i.expiresAt && (
            <span className="flex items-center gap-1 text-xs text-amber-900" data-testid="inbox-expiry">
              <Timer className="size-3.5" aria-hidden /> Expires <RelativeTime value={i.expiresAt} />
            </span>
          )}
          <span className="ml-auto flex items-center gap-2 text-xs text-slate-500">
            <RelativeTime value={i.createdAt} />
            <code className="rounded bg-slate-100 px-1 font-mono text-[11px] text-slate-600" title="Action intent id">
              {i.id}
            </code>
          </span>
        </div>

        <div className="rounded-r-md border-l-4 border-amber-400 bg-amber-50/70 px-3 py-1.5 text-amber-950">
          <p className="flex flex-wrap items-center gap-x-1.5">
            <Hand className="size-4 shrink-0" aria-hidden />
            <span className="font-semibold">Needs your input:</span>
            <span>{reasonLabel(i.reason)}</span>
            {i.reason && <code className="font-mono text-[11px] text-amber-800">{i.reason}</code>}
          </p>
          {i.explanation && <p className="mt-0.5 pl-5.5 text-slate-700">{i.explanation}</p>}
        </div>

        <div className="flex flex-wrap items-center gap-1.5">
          <span className="text-xs font-medium uppercase tracking-wide text-slate-500">Why autopilot proposed it</span>
          {i.why.map((w) => (
            <Badge key={w} title={w}>
              {humanize(w)}
            </Badge>
          ))}
        </div>

        {i.blockingUnknowns.length > 0 && (
          <p className="text-slate-700">
            <span className="font-medium">Open questions:</span> {i.blockingUnknowns.join("; ")}
          </p>
        )}

        {params.length > 0 && (
          <dl className="grid grid-cols-[max-content_minmax(0,1fr)] gap-x-3 gap-y-0.5 rounded-md bg-slate-50 px-3 py-2 text-xs ring-1 ring-slate-200 ring-inset">
            {params.map(([k, v]) => (
              <div key={k} className="contents">
                <dt className="font-mono text-slate-500">{k}</dt>
                <dd className="line-clamp-2 whitespace-pre-wrap break-words text-slate-800">{formatValue(v)}</dd>
              </div>
            ))}
          </dl>
        )}
      </div>

      <div className="flex w-40 shrink-0 flex-col items-stretch gap-1.5">
        {canDecide && (
          <>
            <Button variant="primary" onClick={onApprove} disabled={busy} className="justify-center">
              <Check className="size-4" aria-hidden /> {approving ? "Approving…" : "Approve"}
              <span className="sr-only">
                {" "}
                {actionLabel} for {i.account.name}
              </span>
            </Button>
            <Button onClick={onEdit} disabled={busy} className="justify-center">
              <Pencil className="size-4" aria-hidden /> Edit & approve
              <span className="sr-only">
                {" "}
                {actionLabel} for {i.account.name}
              </span>
            </Button>
            <Button onClick={onReject} disabled={busy} className="justify-center">
              <X className="size-4" aria-hidden /> Reject…
              <span className="sr-only">
                {" "}
                {actionLabel} for {i.account.name}
              </span>
            </Button>
          </>
        )}
        <Link
          href={`/explain/${i.id}`}
          className="inline-flex items-center justify-center gap-1 rounded-md px-2 py-1 text-xs text-brand-700 hover:bg-brand-50 hover:underline"
        >
          <HelpCircle className="size-3.5" aria-hidden /> Why is this here?
        </Link>
      </div>
    </article>
  );
}

/**
 * Similar waiting items (same action type and reason) with one-click batch decisions: each is
 * still decided on its own (reviewMany), so one that was decided elsewhere meanwhile is reported,
 * not retried.
 */
function SimilarGroups({
  rows,
  busy,
  label,
  onApprove,
  onReject,
}: {
  rows: InboxItem[];
  busy: boolean;
  label: (i: InboxItem) => string;
  onApprove: (items: InboxItem[]) => void;
  onReject: (items: InboxItem[]) => void;
}) {
  const groups = new Map<string, InboxItem[]>();
  for (const r of rows) {
    const key = `${r.actionType}\u0000${r.reason ?? ""}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const similar = [...groups.entries()].filter(([, items]) => items.length > 1);
  if (similar.length === 0) return null;
  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <Layers className="size-4" aria-hidden /> Similar items
        </span>
      }
    >
      <ul className="divide-y divide-slate-200" data-testid="inbox-groups">
        {similar.map(([key, items]) => {
          const first = items[0] as InboxItem;
          return (
            <li key={key} className="flex flex-wrap items-center gap-2 px-4 py-2">
              <span className="font-medium">
                {items.length} × {label(first)}
              </span>
              <span className="ml-auto flex gap-2">
                <Button variant="primary" disabled={busy} onClick={() => onApprove(items)}>
                  <Check className="size-4" aria-hidden /> Approve all {items.length}
                  <span className="sr-only"> {label(first)}</span>
                </Button>
                <Button disabled={busy} onClick={() => onReject(items)}>
                  <X className="size-4" aria-hidden /> Reject all {items.length}…<span className="sr-only"> {label(first)}</span>
                </Button>
              </span>
            </li>
          );
        })}
      </ul>
    </Card>
  );
}

function BatchResults({ kind, results, onDismiss }: { kind: "approve" | "reject"; results: BatchResult[]; onDismiss: () => void }) {
  const ok = results.filter((r) => r.ok).length;
  const failed = results.length - ok;
  return (
    <section
      data-testid="batch-results"
      aria-label="Batch results"
      className={cx("rounded-md px-3 py-2 ring-1", failed ? "bg-amber-50 ring-amber-200" : "bg-emerald-50 ring-emerald-200")}
    >
      <div className="flex items-center justify-between gap-2">
        <p className="font-medium">
          {kind === "approve" ? "Approved" : "Rejected"} {ok} of {results.length}
          {failed ? ` — ${failed} could not be ${kind === "approve" ? "approved" : "rejected"}` : ""}
        </p>
        <button type="button" onClick={onDismiss} aria-label="Dismiss batch results" className="rounded p-0.5 hover:bg-white/60">
          <X className="size-4" aria-hidden />
        </button>
      </div>
      <ul className="mt-1 space-y-0.5">
        {results.map((r) => (
          <li key={r.id} className="flex items-start gap-1.5">
            {r.ok ? (
              <CircleCheck className="mt-0.5 size-4 shrink-0 text-emerald-700" aria-hidden />
            ) : (
              <CircleX className="mt-0.5 size-4 shrink-0 text-red-700" aria-hidden />
            )}
            <span>
              <span className="sr-only">{r.ok ? "Done: " : "Failed: "}</span>
              {r.title} — {r.ok ? outcome(r.status ?? "") : r.error}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
