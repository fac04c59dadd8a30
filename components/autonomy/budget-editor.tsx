"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Gauge, TriangleAlert } from "lucide-react";
import { useId, useState } from "react";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { BudgetCap } from "@/server/schemas/autonomy";
import { FormActions, inputClass, type Notice, NumberField, SaveNotice } from "../decisions/fields";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Card, cx, ErrorState, LoadingState } from "../ui/primitives";
import { useRegistry } from "../work/labels";
import { errorCode, type RouterOutputs } from "../work/types";
import type { PickedAccount } from "./account-picker";

type Budget = RouterOutputs["autonomy"]["budget"];

/**
 * The form validates with the server's own number rule (BudgetCap), so the message next to a
 * field is the one the API would answer. A blank per-type cap means "only the daily max applies".
 */
const BudgetForm = z.object({
  maxPerDay: BudgetCap,
  decay: z.boolean(),
  caps: z.record(z.string(), BudgetCap.nullable()),
});
type BudgetFormIn = z.input<typeof BudgetForm>;
type BudgetFormOut = z.output<typeof BudgetForm>;

/** Today's autonomous actions against the cap, as blocks (or a bar past 24) plus words. */
export function BudgetMeter({ consumed, cap, dateKey, maxPerDay }: { consumed: number; cap: number; dateKey: string; maxPerDay: number }) {
  const left = Math.max(0, cap - consumed);
  const exhausted = cap === 0 || consumed >= cap;
  const text = cap === 0 ? "No autonomous actions allowed today (cap 0)" : `${consumed} of ${cap} used today · ${left} left`;
  return (
    <div className="space-y-1.5" data-testid="budget-meter">
      {/* biome-ignore lint/a11y/useSemanticElements: a segmented bar (one block per allowed action) cannot be drawn with <meter> */}
      <div
        role="meter"
        aria-label="Autopilot budget used today"
        aria-valuemin={0}
        aria-valuemax={Math.max(cap, 1)}
        aria-valuenow={Math.min(consumed, Math.max(cap, 1))}
        aria-valuetext={text}
        className="flex h-4 w-full max-w-md gap-0.5"
      >
        {cap > 0 && cap <= 24 ? (
          Array.from({ length: cap }, (_, i) => (
            <span
              key={i}
              className={cx(
                "h-full flex-1 rounded-sm",
                i < consumed ? (exhausted ? "bg-amber-500" : "bg-brand-600") : "bg-slate-200 ring-1 ring-slate-300 ring-inset",
              )}
            />
          ))
        ) : (
          <span className="relative h-full flex-1 overflow-hidden rounded-sm bg-slate-200 ring-1 ring-slate-300 ring-inset">
            <span
              className={cx("absolute inset-y-0 left-0", exhausted ? "bg-amber-500" : "bg-brand-600")}
              style={{ width: `${cap > 0 ? Math.min(100, (consumed / cap) * 100) : 0}%` }}
            />
          </span>
        )}
      </div>
      <p className="flex items-center gap-1.5 font-medium text-slate-800">
        {exhausted && <TriangleAlert className="size-4 text-amber-600" aria-hidden />}
        <span className="tabular-nums">{text}</span>
      </p>
      <p className="text-xs text-slate-600">UTC day {dateKey} — the count resets at midnight UTC.</p>
      {cap < maxPerDay && (
        <p className="text-xs text-slate-600">
          Decay: unused for 7 days, so today's cap is {cap} instead of {maxPerDay}.
        </p>
      )}
      {exhausted && (
        <p className="text-xs text-amber-800">
          Further autonomous actions today go to the inbox with reason “Today's autopilot budget is used up”.
        </p>
      )}
    </div>
  );
}

function toForm(b: Budget): BudgetFormIn {
  return { maxPerDay: b.maxAutonomousPerDay, decay: b.decayIfUnused, caps: { ...b.maxPerActionType } };
}

/** The caps that are set (blank ones dropped), as the API takes them. */
function setCaps(caps: BudgetFormOut["caps"]): Record<string, number> {
  return Object.fromEntries(Object.entries(caps).filter((e): e is [string, number] => e[1] !== null));
}

/** More room than today: a higher max, decay switched off, or a per-type cap raised or removed. */
function widens(b: Budget, v: BudgetFormOut) {
  const caps = setCaps(v.caps);
  return (
    v.maxPerDay > b.maxAutonomousPerDay ||
    (b.decayIfUnused && !v.decay) ||
    Object.entries(b.maxPerActionType).some(([k, cap]) => caps[k] === undefined || (caps[k] ?? 0) > cap)
  );
}

const whole = { valueAsNumber: true } as const;
// A blank cap is null ("no per-type cap"); anything else must be a number the schema accepts.
const nullableWhole = { setValueAs: (v: unknown) => (v === "" || v === null ? null : Number(v)) } as const;

/** Autonomy budget (SPEC §4.1): max autonomous actions per account per UTC day, per-type caps, decay. */
export function BudgetEditor({ account }: { account: PickedAccount }) {
  const trpc = useTRPC();
  const input = account ? { accountId: account.id } : {};
  const budget = useQuery(trpc.autonomy.budget.queryOptions(input));
  const title = account ? `Budget — ${account.name}` : "Budget — workspace default";
  if (budget.isPending)
    return (
      <Card title={title}>
        <LoadingState label="Loading budget…" />
      </Card>
    );
  if (budget.isError)
    return (
      <Card title={title}>
        <ErrorState message={budget.error.message} onRetry={() => budget.refetch()} />
      </Card>
    );
  // Keyed by scope: switching accounts starts a fresh form instead of carrying edits across.
  return <BudgetCard key={account?.id ?? "workspace"} account={account} title={title} budget={budget.data} refetch={budget.refetch} />;
}

function BudgetCard({
  account,
  title,
  budget: b,
  refetch,
}: {
  account: PickedAccount;
  title: string;
  budget: Budget;
  refetch: () => Promise<{ data?: Budget }>;
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const reg = useRegistry();
  const id = useId();
  const formId = `${id}-form`;
  const input = account ? { accountId: account.id } : {};
  const [notice, setNotice] = useState<Notice>(null);
  const [confirm, setConfirm] = useState<BudgetFormOut | null>(null);
  const save = useMutation(trpc.autonomy.setBudget.mutationOptions());
  const form = useForm<BudgetFormIn, unknown, BudgetFormOut>({
    resolver: zodResolver(BudgetForm),
    mode: "onChange",
    // Follows fresh server data (another tab saved, a refetch) but never clobbers unsaved edits.
    values: toForm(b),
    resetOptions: { keepDirtyValues: true },
  });
  const { errors, isDirty, isValid } = form.formState;
  const autoTypes = reg.types.filter((t) => t.mayAutoExecute);

  function commit(v: BudgetFormOut, reason?: string) {
    setNotice(null);
    save.mutate(
      {
        ...input,
        maxPerDay: v.maxPerDay,
        perTypeCaps: setCaps(v.caps),
        decayIfUnused: v.decay,
        ...(b.configured && b.updatedAt ? { ifMatch: b.updatedAt } : {}),
        ...(reason ? { reason } : {}),
      },
      {
        onSuccess: (next) => {
          setConfirm(null);
          setNotice({ ok: true, text: "Budget saved." });
          form.reset(toForm(next));
          qc.setQueryData(trpc.autonomy.budget.queryKey(input), next);
          qc.invalidateQueries({ queryKey: trpc.autonomy.budget.pathKey() });
        },
        onError: async (e) => {
          setConfirm(null);
          if (errorCode(e) !== "CONFLICT") return setNotice({ ok: false, text: `Not saved: ${e.message}` });
          setNotice({ ok: false, text: "Someone changed this; reloaded. Check the numbers and save again." });
          // Unlike a background refetch, a conflict replaces the edits: they were made against old numbers.
          const fresh = await refetch();
          if (fresh.data) form.reset(toForm(fresh.data));
        },
      },
    );
  }

  const onSubmit = form.handleSubmit((v) => (widens(b, v) ? setConfirm(v) : commit(v)));
  const draftMax = form.watch("maxPerDay");
  const draftDecay = form.watch("decay");

  return (
    <Card
      title={title}
      actions={
        <FormActions
          formId={formId}
          label="Save budget"
          dirty={isDirty}
          valid={isValid}
          pending={save.isPending}
          onDiscard={() => form.reset(toForm(b))}
        />
      }
    >
      <div className="grid gap-6 px-4 py-3 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <form id={formId} noValidate className="space-y-3" onSubmit={onSubmit}>
          {b.problem && (
            <p role="alert" className="rounded-md bg-rose-50 px-3 py-2 text-xs text-rose-800 ring-1 ring-rose-200">
              The stored budget is damaged ({b.problem}). Autopilot asks a person for every action until it is saved again.
            </p>
          )}
          {account && !b.configured && (
            <p className="rounded-md bg-slate-50 px-3 py-2 text-xs text-slate-600 ring-1 ring-slate-200">
              This account uses the workspace default. Saving creates an override for {account.name}.
            </p>
          )}
          <div className="flex flex-wrap items-start gap-4">
            <NumberField
              id={`${id}-max`}
              label="Max autonomous actions per day"
              field={form.register("maxPerDay", whole)}
              min={0}
              max={1000}
              hint="Per account, per UTC day"
              error={errors.maxPerDay?.message}
            />
            <label className="flex items-center gap-2 pt-7">
              <input type="checkbox" {...form.register("decay")} />
              <span>
                Decay when unused <span className="text-xs text-slate-600">(half the cap after 7 idle days)</span>
              </span>
            </label>
          </div>
          <fieldset>
            <legend className="mb-1 font-medium text-slate-700">
              Per-type caps <span className="font-normal text-slate-600">(blank = only the daily max applies)</span>
            </legend>
            <div className="grid grid-cols-[12rem_5rem] items-center gap-x-3 gap-y-1 xl:grid-cols-[12rem_5rem_12rem_5rem]">
              {autoTypes.map((t) => {
                const error = errors.caps?.[t.name]?.message;
                return (
                  <label key={t.name} className="contents">
                    <span className="truncate text-slate-700" title={t.name}>
                      {t.label}
                    </span>
                    <input
                      type="number"
                      min={0}
                      max={1000}
                      placeholder="—"
                      {...form.register(`caps.${t.name}`, nullableWhole)}
                      aria-invalid={error ? true : undefined}
                      title={error}
                      className={cx(inputClass, "w-20 py-0.5")}
                    />
                  </label>
                );
              })}
            </div>
            {errors.caps && (
              <p role="alert" className="mt-1 text-xs text-red-700">
                Per-type caps: {Object.values(errors.caps).find((e) => e?.message)?.message ?? "use whole numbers from 0 to 1000"}
              </p>
            )}
          </fieldset>
          <SaveNotice notice={notice} testId="budget-notice" />
        </form>

        <div className="space-y-2">
          <h3 className="flex items-center gap-1.5 font-medium text-slate-700">
            <Gauge className="size-4 text-slate-600" aria-hidden /> Today's use
          </h3>
          {account ? (
            <BudgetMeter consumed={b.consumedToday} cap={b.effectiveCapToday} dateKey={b.dateKey} maxPerDay={b.maxAutonomousPerDay} />
          ) : (
            <p className="text-slate-600">Pick an account above to see how much of today's budget autopilot has used there.</p>
          )}
          {b.maxAutonomousPerDay === 0 && (
            <p className="text-xs text-slate-600">With a cap of 0, autopilot never acts on its own; every proposal waits for a person.</p>
          )}
        </div>
      </div>
      <ReasonDialog
        open={confirm !== null}
        onClose={() => setConfirm(null)}
        title="Give autopilot more room?"
        description={`Daily max ${b.maxAutonomousPerDay} → ${Number.isFinite(draftMax) ? draftMax : "?"}${b.decayIfUnused && !draftDecay ? ", decay off" : ""}.`}
        confirmLabel="Save budget"
        minLength={3}
        pending={save.isPending}
        reasonLabel="Why widen autonomy here?"
        hint="The change and this reason are ledgered with your name, before and after."
        onConfirm={(reason) => confirm && commit(confirm, reason)}
      />
    </Card>
  );
}
