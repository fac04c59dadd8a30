"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Bot, CircleSlash, FlaskConical, Hand, Plus, Trash2 } from "lucide-react";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useId, useState } from "react";
import { useFieldArray, useForm } from "react-hook-form";
import { z } from "zod";
import { ACTION_TYPE_NAMES } from "@/server/engine/actions";
import { AUTONOMY_MODES } from "@/server/engine/autonomy";
import { inputClass } from "../decisions/fields";
import { useTRPC } from "../trpc";
import { type DataColumn, DataTable, dataColumns } from "../ui/data-table";
import { Dialog, ReasonDialog } from "../ui/dialog";
import { Badge, Button, Card, EmptyState, ErrorState, LoadingState } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { useToast } from "../ui/toast";
import type { RouterOutputs } from "../work/types";

// Recharts is ~115 KB gzip: it loads after the page, only where a chart is drawn.
const DecisionChart = dynamic(() => import("./decision-chart").then((m) => m.DecisionChart), {
  ssr: false,
  loading: () => <LoadingState label="Loading chart…" />,
});

/**
 * Policy what-if and log-only mode (SPEC §4.8): compose configuration changes, replay the stored
 * evaluations of a period through them (nothing is written), or run them in log-only mode beside
 * the active policy and enforce or discard them from their report.
 */

const ChangeForm = z
  .object({
    accountId: z.string(),
    actionType: z.string(),
    mode: z.enum(["", ...AUTONOMY_MODES]),
    allowlist: z.enum(["", "add", "remove"]),
    budget: z.string().regex(/^\d{0,4}$/, "A whole number up to 9999, or blank for no change"),
  })
  .refine((c) => c.mode !== "" || c.allowlist !== "" || c.budget !== "", {
    message: "Choose a mode, an allowlist change or a daily budget",
    path: ["mode"],
  })
  .refine((c) => c.allowlist === "" || c.actionType !== "", { message: "An allowlist change names an action type", path: ["allowlist"] })
  .refine((c) => c.budget === "" || c.actionType === "", {
    message: "The daily budget is per account, not per action type",
    path: ["budget"],
  });

const FormSchema = z.object({ days: z.enum(["1", "7", "30", "92"]), changes: z.array(ChangeForm).min(1).max(50) });
type FormValues = z.infer<typeof FormSchema>;
type ChangeValues = z.infer<typeof ChangeForm>;

const blank: ChangeValues = { accountId: "", actionType: "", mode: "", allowlist: "", budget: "" };

function toBody(c: ChangeValues) {
  return {
    ...(c.accountId ? { account_id: c.accountId } : {}),
    ...(c.actionType ? { action_type: c.actionType } : {}),
    ...(c.mode ? { mode: c.mode } : {}),
    ...(c.allowlist ? { allowlist: c.allowlist === "add" } : {}),
    ...(c.budget !== "" ? { max_autonomous_per_day: Number(c.budget) } : {}),
  };
}

type ChangeBody = ReturnType<typeof toBody>;

function describeChange(c: ChangeBody, accountName: (id: string) => string) {
  const scope = `${c.account_id ? accountName(c.account_id) : "workspace"}${c.action_type ? ` · ${c.action_type}` : ""}`;
  const parts = [
    c.mode ? `mode ${c.mode}` : null,
    c.allowlist === undefined ? null : c.allowlist ? "allowlisted" : "not allowlisted",
    c.max_autonomous_per_day === undefined ? null : `${c.max_autonomous_per_day} autonomous a day`,
  ].filter(Boolean);
  return `${scope}: ${parts.join(", ")}`;
}

const DECISION_VIEW: Record<string, { label: string; tone: "blue" | "amber" | "red"; Icon: typeof Bot }> = {
  AUTO_EXECUTE: { label: "Autopilot", tone: "blue", Icon: Bot },
  REQUIRE_APPROVAL: { label: "Needs approval", tone: "amber", Icon: Hand },
  BLOCK: { label: "Blocked", tone: "red", Icon: CircleSlash },
};

function DecisionBadge({ decision, reason }: { decision: string; reason: string | null }) {
  const v = DECISION_VIEW[decision] ?? { label: decision, tone: "amber" as const, Icon: Hand };
  return (
    <span className="inline-flex flex-col gap-0.5">
      <Badge tone={v.tone}>
        <v.Icon className="size-3" aria-hidden /> {v.label}
      </Badge>
      {reason && <span className="text-xs text-slate-600">{reason.replaceAll("_", " ").toLowerCase()}</span>}
    </span>
  );
}

type WhatIf = RouterOutputs["policyLab"]["whatIf"];
type ChangedRow = WhatIf["changed"][number];

const col = dataColumns<ChangedRow>();
const changedColumns: DataColumn<ChangedRow>[] = [
  col.accessor("actionIntentId", {
    header: "Intent",
    cell: (c) => (
      <Link className="font-mono text-xs text-brand-700 underline" href={`/explain/${c.getValue()}`}>
        {c.getValue().slice(-8)}
      </Link>
    ),
    meta: { search: true },
  }),
  col.accessor("actionType", { header: "Action type", meta: { search: true } }),
  col.accessor((r) => r.before.decision, {
    id: "before",
    header: "Decided",
    cell: (c) => <DecisionBadge {...c.row.original.before} />,
  }),
  col.accessor((r) => r.after.decision, { id: "after", header: "Would be", cell: (c) => <DecisionBadge {...c.row.original.after} /> }),
  col.accessor((r) => new Date(r.at).getTime(), { id: "at", header: "When", cell: (c) => <RelativeTime value={c.row.original.at} /> }),
];

function ChangeRow({
  index,
  form,
  accounts,
  onRemove,
}: {
  index: number;
  form: ReturnType<typeof useForm<FormValues>>;
  accounts: { id: string; name: string }[];
  onRemove?: () => void;
}) {
  const id = useId();
  const errors = form.formState.errors.changes?.[index];
  const error = errors?.mode?.message ?? errors?.allowlist?.message ?? errors?.budget?.message;
  const field = (name: keyof ChangeValues) => `changes.${index}.${name}` as const;
  return (
    <fieldset className="rounded-md border border-slate-200 p-3" data-testid="what-if-change">
      <legend className="px-1 text-xs font-medium text-slate-700">Change {index + 1}</legend>
      <div className="flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor={`${id}-acc`} className="mb-1 block text-xs font-medium text-slate-700">
            Account
          </label>
          <select id={`${id}-acc`} className={`${inputClass} w-48`} {...form.register(field("accountId"))}>
            <option value="">Whole workspace</option>
            {accounts.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-type`} className="mb-1 block text-xs font-medium text-slate-700">
            Action type
          </label>
          <select id={`${id}-type`} className={`${inputClass} w-56`} {...form.register(field("actionType"))}>
            <option value="">Every type</option>
            {ACTION_TYPE_NAMES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-mode`} className="mb-1 block text-xs font-medium text-slate-700">
            Mode
          </label>
          <select id={`${id}-mode`} className={`${inputClass} w-48`} {...form.register(field("mode"))}>
            <option value="">No change</option>
            {AUTONOMY_MODES.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-allow`} className="mb-1 block text-xs font-medium text-slate-700">
            Allowlist
          </label>
          <select id={`${id}-allow`} className={`${inputClass} w-36`} {...form.register(field("allowlist"))}>
            <option value="">No change</option>
            <option value="add">Add the type</option>
            <option value="remove">Remove the type</option>
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-budget`} className="mb-1 block text-xs font-medium text-slate-700">
            Autonomous a day
          </label>
          <input
            id={`${id}-budget`}
            inputMode="numeric"
            placeholder="no change"
            className={`${inputClass} w-28`}
            {...form.register(field("budget"))}
          />
        </div>
        {onRemove && (
          <Button variant="ghost" onClick={onRemove} aria-label={`Remove change ${index + 1}`}>
            <Trash2 className="size-4" aria-hidden />
          </Button>
        )}
      </div>
      {error && (
        <p role="alert" className="mt-2 text-xs text-red-700">
          {error}
        </p>
      )}
    </fieldset>
  );
}

export function WhatIfAdmin() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const accounts = useQuery(trpc.accounts.list.queryOptions({ limit: 100 }));
  const accountList = (accounts.data?.items ?? []).map((a) => ({ id: a.id, name: a.name }));
  const accountName = (id: string) => accountList.find((a) => a.id === id)?.name ?? "an account";
  const form = useForm<FormValues>({
    resolver: zodResolver(FormSchema),
    defaultValues: { days: "30", changes: [{ ...blank, actionType: "CREATE_INTERNAL_TASK", mode: "APPROVAL_REQUIRED" }] },
  });
  const changes = useFieldArray({ control: form.control, name: "changes" });
  const run = useMutation(trpc.policyLab.whatIf.mutationOptions());
  const [naming, setNaming] = useState<ChangeBody[] | null>(null);
  const [name, setName] = useState("");
  const start = useMutation(
    trpc.policyLab.start.mutationOptions({
      onSuccess: (p) => {
        setNaming(null);
        toast({ title: `“${p.name}” runs in log-only mode`, description: "Every evaluation from now on also records its answer." });
        qc.invalidateQueries({ queryKey: trpc.policyLab.proposals.queryKey() });
      },
    }),
  );
  const nameId = useId();

  const submit = form.handleSubmit((v) => {
    const to = new Date();
    const from = new Date(to.getTime() - Number(v.days) * 86_400_000);
    run.mutate({ changes: v.changes.map(toBody), from: from.toISOString(), to: to.toISOString() });
  });
  const logOnly = form.handleSubmit((v) => {
    setName("");
    start.reset();
    setNaming(v.changes.map(toBody));
  });
  const result = run.data;

  return (
    <div className="space-y-4">
      <Card title="Proposed changes">
        <form onSubmit={submit} className="space-y-3 p-4" aria-label="What-if">
          {changes.fields.map((f, i) => (
            <ChangeRow
              key={f.id}
              index={i}
              form={form}
              accounts={accountList}
              onRemove={changes.fields.length > 1 ? () => changes.remove(i) : undefined}
            />
          ))}
          <div className="flex flex-wrap items-end gap-3">
            <Button onClick={() => changes.append({ ...blank })} disabled={changes.fields.length >= 50}>
              <Plus className="size-4" aria-hidden /> Add a change
            </Button>
            <div>
              <label htmlFor={`${nameId}-days`} className="mb-1 block text-xs font-medium text-slate-700">
                Replay the last
              </label>
              <select id={`${nameId}-days`} className={`${inputClass} w-32`} {...form.register("days")}>
                <option value="1">1 day</option>
                <option value="7">7 days</option>
                <option value="30">30 days</option>
                <option value="92">92 days</option>
              </select>
            </div>
            <Button type="submit" variant="primary" disabled={run.isPending}>
              <FlaskConical className="size-4" aria-hidden /> {run.isPending ? "Replaying…" : "Run what-if"}
            </Button>
            <Button onClick={logOnly} disabled={start.isPending}>
              Run in log-only mode
            </Button>
          </div>
          <p className="text-xs text-slate-600">
            What-if replays the stored evaluations through the policy with these changes and writes nothing. Log-only mode runs them beside
            the active policy: decisions stay as they are, and each evaluation records what the proposal would have done.
          </p>
        </form>
      </Card>

      {run.isPending && <LoadingState label="Replaying the stored evaluations…" />}
      {run.error && <ErrorState message={run.error.message} onRetry={() => submit()} />}
      {result && (
        <Card title="What would change" className="space-y-0">
          <div className="space-y-4 p-4" data-testid="what-if-result">
            <p className="text-slate-700" data-testid="what-if-summary">
              {result.evaluated} evaluation{result.evaluated === 1 ? "" : "s"} replayed: <strong>{result.changed.length}</strong> would be
              decided differently, {result.reasonChanged.length} would keep their decision for another reason.
              {result.truncated ? " The lists show the first 1,000 of each; the counts cover every evaluation." : ""}
            </p>
            {result.byActionType.length > 0 ? (
              <ChangedTypesChart byActionType={result.byActionType} />
            ) : (
              <EmptyState title="No evaluations in this period" hint="Intents decided by the gate appear here once there are some." />
            )}
            <DataTable
              caption="Intents whose decision would change"
              columns={changedColumns}
              data={result.changed}
              getRowId={(r) => r.actionIntentId}
              empty={<EmptyState title="No decision would change" hint="The policy decides every replayed intent the same way." />}
              filter={{ label: "Filter changed intents", placeholder: "type or id" }}
              testId="what-if-changed"
            />
          </div>
        </Card>
      )}

      <Proposals accountName={accountName} />

      <Dialog
        open={naming !== null}
        onClose={() => setNaming(null)}
        title="Run in log-only mode"
        description="The active policy keeps deciding; each evaluation also records what these changes would decide."
        size="sm"
        footer={
          <>
            <Button variant="ghost" onClick={() => setNaming(null)}>
              Cancel
            </Button>
            <Button
              variant="primary"
              disabled={name.trim().length === 0 || start.isPending}
              onClick={() => naming && start.mutate({ name: name.trim(), changes: naming })}
            >
              {start.isPending ? "Starting…" : "Start log-only mode"}
            </Button>
          </>
        }
      >
        <label htmlFor={`${nameId}-name`} className="mb-1 block font-medium text-slate-700">
          Name
        </label>
        <input
          id={`${nameId}-name`}
          autoFocus
          maxLength={120}
          value={name}
          onChange={(e) => setName(e.target.value)}
          className={`${inputClass} w-full`}
        />
        <ul className="mt-3 list-disc pl-5 text-xs text-slate-700">
          {(naming ?? []).map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list for this dialog
            <li key={i}>{describeChange(c, accountName)}</li>
          ))}
        </ul>
        {start.error && (
          <p role="alert" className="mt-2 rounded-md bg-red-50 px-3 py-2 text-red-800 ring-1 ring-red-200">
            {start.error.message}
          </p>
        )}
      </Dialog>
    </div>
  );
}

/** The chart shows the action types something changes for; the others are only counted, so it stays readable. */
function ChangedTypesChart({ byActionType }: { byActionType: WhatIf["byActionType"] }) {
  const moved = byActionType.filter((t) => t.changed > 0 || t.reasonChanged > 0);
  const still = byActionType.length - moved.length;
  return (
    <div className="space-y-1">
      {moved.length > 0 && <DecisionChart data={moved} />}
      <p className="text-xs text-slate-600">
        {moved.length === 0 ? "No action type changes." : ""}
        {still > 0 ? ` ${still} other action type${still === 1 ? "" : "s"} would be decided exactly as recorded.` : ""}
      </p>
    </div>
  );
}

type Proposal = RouterOutputs["policyLab"]["proposals"]["items"][number];

function Proposals({ accountName }: { accountName: (id: string) => string }) {
  const trpc = useTRPC();
  const list = useQuery({ ...trpc.policyLab.proposals.queryOptions(), refetchInterval: 15_000 });
  const items = list.data?.items ?? [];
  return (
    <Card title="Log-only proposals">
      <div className="space-y-3 p-4" data-testid="proposals">
        {list.isPending && <LoadingState label="Loading proposals…" />}
        {list.error && <ErrorState message={list.error.message} onRetry={() => list.refetch()} />}
        {list.data && items.length === 0 && (
          <EmptyState title="No proposals yet" hint="“Run in log-only mode” starts one beside the active policy." />
        )}
        {items.map((p) => (
          <ProposalCard key={p.id} proposal={p} accountName={accountName} />
        ))}
      </div>
    </Card>
  );
}

function ProposalCard({ proposal, accountName }: { proposal: Proposal; accountName: (id: string) => string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const active = proposal.status === "LOG_ONLY";
  const report = useQuery({
    ...trpc.policyLab.report.queryOptions({ id: proposal.id, limit: 20 }),
    refetchInterval: active ? 15_000 : false,
  });
  const [ending, setEnding] = useState<"enforce" | "discard" | null>(null);
  const done = (what: string) => {
    setEnding(null);
    toast({ title: `“${proposal.name}” ${what}` });
    qc.invalidateQueries({ queryKey: trpc.policyLab.proposals.queryKey() });
    qc.invalidateQueries({ queryKey: trpc.policyLab.report.queryKey() });
  };
  const enforce = useMutation(trpc.policyLab.enforce.mutationOptions({ onSuccess: () => done("enforced: the changes are live") }));
  const discard = useMutation(trpc.policyLab.discard.mutationOptions({ onSuccess: () => done("discarded") }));
  const r = report.data;
  return (
    <article className="rounded-md border border-slate-200 p-3" data-testid="proposal" aria-label={proposal.name}>
      <header className="flex flex-wrap items-center justify-between gap-2">
        <div className="flex items-center gap-2">
          <h3 className="font-medium text-slate-900">{proposal.name}</h3>
          <Badge tone={active ? "violet" : proposal.status === "ENFORCED" ? "green" : "slate"}>
            {proposal.status.replace("_", "-").toLowerCase()}
          </Badge>
          <span className="text-xs text-slate-600">
            started <RelativeTime value={proposal.createdAt} />
          </span>
        </div>
        {active && (
          <div className="flex gap-2">
            <Button variant="primary" onClick={() => setEnding("enforce")}>
              Enforce
            </Button>
            <Button onClick={() => setEnding("discard")}>Discard</Button>
          </div>
        )}
      </header>
      <ul className="mt-1 list-disc pl-5 text-xs text-slate-700">
        {proposal.changes.map((c, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the stored change list never reorders
          <li key={i}>{describeChange(c, accountName)}</li>
        ))}
      </ul>
      {report.isPending && <LoadingState label="Loading report…" />}
      {report.error && <ErrorState message={report.error.message} onRetry={() => report.refetch()} />}
      {r && (
        <div className="mt-2 space-y-2">
          <p className="text-sm text-slate-700" data-testid="proposal-summary">
            {r.evaluations} evaluation{r.evaluations === 1 ? "" : "s"} logged, {r.changed} would be decided differently
            {r.reasonChanged ? `, ${r.reasonChanged} for another reason` : ""}.
          </p>
          {r.byActionType.length > 0 && (
            <table className="w-full text-left text-xs">
              <caption className="sr-only">Log-only counts by action type</caption>
              <thead className="text-slate-600">
                <tr>
                  <th className="py-1 pr-2 font-medium">Action type</th>
                  <th className="py-1 pr-2 font-medium">Evaluations</th>
                  <th className="py-1 pr-2 font-medium">Changed</th>
                  <th className="py-1 font-medium">Before → after</th>
                </tr>
              </thead>
              <tbody>
                {r.byActionType.map((t) => (
                  <tr key={t.actionType} className="border-t border-slate-100">
                    <td className="py-1 pr-2">{t.actionType}</td>
                    <td className="py-1 pr-2">{t.evaluations}</td>
                    <td className="py-1 pr-2">{t.changed}</td>
                    <td className="py-1">{t.transitions.map((x) => `${x.before} → ${x.after} (${x.count})`).join("; ") || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {r.items.length > 0 && (
            <ul className="space-y-1 text-xs">
              {r.items.map((i) => (
                <li key={i.actionIntentId} className="flex flex-wrap items-center gap-2">
                  <Link className="font-mono text-brand-700 underline" href={`/explain/${i.actionIntentId}`}>
                    {i.actionIntentId.slice(-8)}
                  </Link>
                  <span>{i.actionType}</span>
                  <DecisionBadge {...i.before} /> → <DecisionBadge {...i.after} />
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ReasonDialog
        open={ending === "enforce"}
        onClose={() => setEnding(null)}
        onConfirm={(reason) => enforce.mutate({ id: proposal.id, reason })}
        title={`Enforce “${proposal.name}”`}
        description="Its changes are written to the autonomy settings and apply to the very next evaluation."
        confirmLabel="Enforce"
        minLength={3}
        pending={enforce.isPending}
        error={enforce.error?.message}
      />
      <ReasonDialog
        open={ending === "discard"}
        onClose={() => setEnding(null)}
        onConfirm={(reason) => discard.mutate({ id: proposal.id, reason })}
        title={`Discard “${proposal.name}”`}
        description="Log-only recording stops; the autonomy settings stay as they are."
        confirmLabel="Discard"
        tone="danger"
        minLength={3}
        pending={discard.isPending}
        error={discard.error?.message}
      />
    </article>
  );
}
