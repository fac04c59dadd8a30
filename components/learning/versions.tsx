"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Archive, CircleCheck, CircleDashed, CircleX, FlaskConical, Undo2, Upload } from "lucide-react";
import dynamic from "next/dynamic";
import { useMemo, useState } from "react";
import { errorInfo, shortId } from "../decisions/labels";
import { useTRPC } from "../trpc";
import { DataTable, dataColumns } from "../ui/data-table";
import { ReasonDialog } from "../ui/dialog";
import { Badge, Button, Card, cx, EmptyState, LoadingState, type Tone } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { fmtInt, gateReason, metric, type Version, type WeightsView } from "./format";

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const ReliabilityChart = dynamic(() => import("./charts").then((m) => m.ReliabilityChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

const STATUS: Record<Version["status"], { tone: Tone; icon: typeof CircleCheck; text: string }> = {
  ACTIVE: { tone: "green", icon: CircleCheck, text: "Active" },
  CANDIDATE: { tone: "violet", icon: FlaskConical, text: "Candidate" },
  RETIRED: { tone: "slate", icon: Archive, text: "Retired" },
};

export function StatusBadge({ status }: { status: Version["status"] }) {
  const s = STATUS[status];
  return (
    <Badge tone={s.tone}>
      <s.icon className="size-3" aria-hidden /> {s.text}
    </Badge>
  );
}

function GateCell({ v }: { v: Version }) {
  const s = v.shadow;
  if (!s) return <span className="text-slate-600">Not evaluated yet</span>;
  return (
    <div className="space-y-0.5">
      <Badge tone={s.passed ? "green" : "amber"}>
        {s.passed ? <CircleCheck className="size-3" aria-hidden /> : <CircleX className="size-3" aria-hidden />}
        {s.passed ? "Passed" : "Not passed"}
      </Badge>
      <div className="text-xs tabular-nums text-slate-700">
        {metric(s.value)} vs {metric(s.threshold)} · {fmtInt.format(s.sample)}/{fmtInt.format(s.min_sample)} proposals
      </div>
      {!s.passed && <div className="max-w-56 text-xs text-slate-600">{gateReason(s)}</div>}
    </div>
  );
}

const helper = dataColumns<Version>();

type Pending = { kind: "promote"; v: Version } | { kind: "rollback"; v: Version } | null;

/** The registry's versions, newest first, with the shadow gate's latest numbers and the row actions. */
export function VersionsCard({
  weights,
  isAdmin,
  selectedId,
  onSelect,
}: {
  weights: WeightsView;
  isAdmin: boolean;
  selectedId: string | null;
  onSelect: (id: string) => void;
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [pending, setPending] = useState<Pending>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => {
    qc.invalidateQueries({ queryKey: trpc.learning.weights.queryKey() });
    qc.invalidateQueries({ queryKey: trpc.learning.history.queryKey() });
  };
  const promote = useMutation(trpc.learning.promote.mutationOptions({ onSuccess: refresh }));
  const rollback = useMutation(trpc.learning.rollback.mutationOptions({ onSuccess: refresh }));

  const columns = useMemo(
    () =>
      helper.columns([
        helper.accessor("version", {
          header: "Version",
          cell: (c) => {
            const v = c.row.original;
            return (
              <button
                type="button"
                aria-pressed={v.id === selectedId}
                onClick={() => onSelect(v.id)}
                className="rounded font-semibold text-brand-700 underline-offset-2 hover:underline"
              >
                v{v.version}
              </button>
            );
          },
        }),
        helper.accessor("scope", {
          header: "Scope",
          cell: (c) => <span className="text-slate-700">{c.getValue() === "GLOBAL" ? "Global" : "Workspace"}</span>,
        }),
        helper.accessor("status", { header: "Status", cell: (c) => <StatusBadge status={c.getValue()} /> }),
        helper.accessor((v) => new Date(v.created_at).getTime(), {
          id: "created",
          header: "Created",
          cell: (c) => <RelativeTime value={c.row.original.created_at} />,
        }),
        helper.accessor((v) => v.provenance?.rows ?? -1, {
          id: "rows",
          header: "Rows trained",
          cell: (c) => <span className="tabular-nums">{c.getValue() < 0 ? "—" : fmtInt.format(c.getValue())}</span>,
        }),
        helper.accessor((v) => v.provenance?.metrics?.top_k_agreement ?? -1, {
          id: "topk",
          header: "Top-K agreement",
          cell: (c) => {
            const p = c.row.original.provenance;
            const mine = p?.metrics?.top_k_agreement ?? null;
            const theirs = p?.baseline?.metrics?.top_k_agreement ?? null;
            // The holdout may hold no owner-day with mixed outcomes: then neither has a value.
            if (mine === null && theirs === null) return <span className="text-slate-600">—</span>;
            return (
              <span className="tabular-nums">
                {metric(mine)}
                <span className="text-slate-600"> vs {metric(theirs)}</span>
              </span>
            );
          },
        }),
        helper.accessor((v) => v.provenance?.metrics?.log_loss ?? Number.POSITIVE_INFINITY, {
          id: "logloss",
          header: "Log loss",
          cell: (c) => <span className="tabular-nums">{metric(c.row.original.provenance?.metrics?.log_loss)}</span>,
        }),
        helper.accessor((v) => v.provenance?.metrics?.brier ?? Number.POSITIVE_INFINITY, {
          id: "brier",
          header: "Brier",
          cell: (c) => <span className="tabular-nums">{metric(c.row.original.provenance?.metrics?.brier)}</span>,
        }),
        helper.display({ id: "gate", header: "Shadow gate", cell: (c) => <GateCell v={c.row.original} /> }),
        helper.display({
          id: "actions",
          header: () => <span className="sr-only">Actions</span>,
          cell: (c) => {
            const v = c.row.original;
            // GLOBAL versions are moved by an operator, not by a workspace.
            if (!isAdmin || v.scope !== "TENANT") return null;
            if (v.status === "ACTIVE")
              return (
                <Button
                  variant="secondary"
                  onClick={() => {
                    setError(null);
                    setPending({ kind: "rollback", v });
                  }}
                >
                  <Undo2 className="size-4" aria-hidden /> Roll back…
                </Button>
              );
            return (
              <Button
                variant="secondary"
                onClick={() => {
                  setError(null);
                  setPending({ kind: "promote", v });
                }}
              >
                <Upload className="size-4" aria-hidden /> Promote…
              </Button>
            );
          },
        }),
      ]),
    [selectedId, onSelect, isAdmin],
  );

  const confirm = (reason: string) => {
    if (!pending) return;
    setError(null);
    const done = { onSuccess: () => setPending(null), onError: (e: unknown) => setError(errorInfo(e).message) };
    if (pending.kind === "promote") promote.mutate({ id: pending.v.id, reason }, done);
    else rollback.mutate({ reason }, done);
  };

  return (
    <Card title="Weights versions">
      <DataTable
        caption="Ranking weights versions, newest first"
        testId="weights-versions"
        className="text-sm"
        headClassName="border-b border-slate-200 bg-slate-50 text-xs text-slate-600"
        cellClassName="py-2 pr-3 align-top first:pl-4"
        columns={columns}
        data={weights.items}
        getRowId={(v) => v.id}
        empty={
          <EmptyState
            title="No weights versions yet"
            hint="A calibration registers its model here as a CANDIDATE. Until one is promoted, the rules rank."
          />
        }
        rowProps={(v) => ({ className: cx(v.id === selectedId && "bg-brand-50/60"), "data-testid": "weights-row" })}
      />
      <ReasonDialog
        open={pending?.kind === "promote"}
        onClose={() => setPending(null)}
        onConfirm={confirm}
        title={pending ? `Promote v${pending.v.version}?` : "Promote"}
        description="It must pass the shadow gate, computed now against the ranking that is ACTIVE. It ranks the very next request; the guard then watches the live metric and rolls back on a regression. Policy is never affected."
        confirmLabel="Promote"
        minLength={3}
        pending={promote.isPending}
        error={error}
        placeholder="Why this version should rank proposals"
      />
      <ReasonDialog
        open={pending?.kind === "rollback"}
        onClose={() => setPending(null)}
        onConfirm={confirm}
        title={pending ? `Roll back v${pending.v.version}?` : "Roll back"}
        description="The version before it (or the rules ranking) ranks the very next request. This version is RETIRED and stays listed."
        confirmLabel="Roll back"
        tone="danger"
        minLength={3}
        pending={rollback.isPending}
        error={error}
        placeholder="What went wrong with this version"
      />
    </Card>
  );
}

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt className="text-xs font-medium text-slate-600">{label}</dt>
      <dd className="tabular-nums text-slate-900">{children}</dd>
    </div>
  );
}

const day = (iso: string | undefined) => (iso ? iso.slice(0, 10) : "—");

/** Where a version came from: its data, its decisions, how it was fitted and what it was compared with. */
export function ProvenanceCard({ v }: { v: Version | null }) {
  if (!v)
    return (
      <Card title="Provenance">
        <EmptyState title="No version selected" hint="Choose a version in the table to see its provenance and reliability diagram." />
      </Card>
    );
  const p = v.provenance;
  const d = p?.decisions;
  const base = p?.baseline;
  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          Provenance of v{v.version} <StatusBadge status={v.status} />
        </span>
      }
    >
      {!p ? (
        <EmptyState
          title="No provenance recorded"
          hint="This version was registered without calibration provenance (e.g. by an operator)."
        />
      ) : (
        <div className="space-y-4 px-4 py-3" data-testid="provenance">
          <dl className="grid grid-cols-2 gap-x-4 gap-y-2 sm:grid-cols-4">
            <Fact label="Trained range">
              {day(p.trained_from)} → {day(p.trained_to)}
            </Fact>
            <Fact label="Data volume">
              {fmtInt.format(p.rows ?? 0)} rows ({fmtInt.format(p.train_rows ?? 0)} train, {fmtInt.format(p.holdout_rows ?? 0)} holdout)
            </Fact>
            <Fact label="Labels">
              {fmtInt.format(p.positives ?? 0)} positive, {fmtInt.format(p.negatives ?? 0)} negative
            </Fact>
            <Fact label="Features version">{p.features_version ?? v.features_version}</Fact>
            <Fact label="Calibration job">
              <span title={p.job_id}>{p.job_id ? shortId(p.job_id, 10) : "—"}</span>
            </Fact>
            <Fact label="Seed · λ · holdout">
              {p.seed ?? "—"} · {p.lambda ?? "—"} · {p.holdout ?? "—"}
            </Fact>
            <Fact label="Fit">
              {p.iterations ?? "—"} iterations, {p.converged ? "converged" : "not converged"}
            </Fact>
            <Fact label="Baseline compared">
              {base
                ? base.kind === "RULES"
                  ? "Rules ranking"
                  : `v${base.version ?? "?"} (${base.scope === "GLOBAL" ? "global" : "workspace"})`
                : "—"}
            </Fact>
          </dl>
          {d && (
            <div>
              <h3 className="mb-1 text-xs font-medium text-slate-600">Decisions counted</h3>
              <ul className="flex flex-wrap gap-1.5 text-xs" aria-label="Decisions counted">
                {(
                  [
                    ["Approved", d.approved],
                    ["Edited", d.edited],
                    ["Rejected", d.rejected],
                    ["Expired", d.expired],
                    ["Responded", d.responded],
                    ["No response", d.no_response],
                    ["Negative response", d.negative_response],
                  ] as const
                ).map(([label, n]) => (
                  <li key={label} className="rounded border border-slate-200 px-2 py-0.5 text-slate-800">
                    {label} <strong className="tabular-nums">{fmtInt.format(n)}</strong>
                  </li>
                ))}
              </ul>
            </div>
          )}
          <table className="w-full max-w-md text-left text-sm">
            <caption className="mb-1 text-left text-xs font-medium text-slate-600">
              Evaluation on the holdout ({fmtInt.format(p.metrics?.rows ?? 0)} rows)
            </caption>
            <thead className="text-xs text-slate-600">
              <tr>
                <th scope="col" className="py-1 pr-3 font-medium">
                  Metric
                </th>
                <th scope="col" className="py-1 pr-3 font-medium">
                  This version
                </th>
                <th scope="col" className="py-1 pr-3 font-medium">
                  Baseline
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 tabular-nums">
              {(
                [
                  ["Top-K agreement (higher is better)", p.metrics?.top_k_agreement, base?.metrics?.top_k_agreement],
                  ["Log loss (lower is better)", p.metrics?.log_loss, base?.metrics?.log_loss],
                  ["Brier (lower is better)", p.metrics?.brier, base?.metrics?.brier],
                ] as const
              ).map(([label, mine, theirs]) => (
                <tr key={label}>
                  <th scope="row" className="py-1 pr-3 font-normal text-slate-700">
                    {label}
                  </th>
                  <td className="py-1 pr-3">{metric(mine)}</td>
                  <td className="py-1 pr-3">{metric(theirs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {p.reliability && p.reliability.length > 0 ? (
            <ReliabilityChart bins={p.reliability} />
          ) : (
            <p className="flex items-center gap-1.5 text-slate-600">
              <CircleDashed className="size-4" aria-hidden /> No reliability numbers recorded.
            </p>
          )}
        </div>
      )}
    </Card>
  );
}
