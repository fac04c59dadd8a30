"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CircleCheck, Gauge, Save, TriangleAlert } from "lucide-react";
import { useEffect, useId, useState } from "react";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Button, Card, cx, ErrorState, LoadingState } from "../ui/primitives";
import { useRegistry } from "../work/labels";
import { errorCode } from "../work/types";
import type { PickedAccount } from "./account-picker";

type Form = { maxPerDay: string; decay: boolean; caps: Record<string, string> };

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
      <p className="text-xs text-slate-500">UTC day {dateKey} — the count resets at midnight UTC.</p>
      {cap < maxPerDay && (
        <p className="text-xs text-slate-500">
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

function toForm(b: { maxAutonomousPerDay: number; decayIfUnused: boolean; maxPerActionType: Record<string, number> }): Form {
  return {
    maxPerDay: String(b.maxAutonomousPerDay),
    decay: b.decayIfUnused,
    caps: Object.fromEntries(Object.entries(b.maxPerActionType).map(([k, v]) => [k, String(v)])),
  };
}

/** Autonomy budget (SPEC §4.1): max autonomous actions per account per UTC day, per-type caps, decay. */
export function BudgetEditor({ account }: { account: PickedAccount }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const reg = useRegistry();
  const input = account ? { accountId: account.id } : {};
  const budget = useQuery(trpc.autonomy.budget.queryOptions(input));
  const [form, setForm] = useState<Form | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirm, setConfirm] = useState(false);
  const save = useMutation(trpc.autonomy.setBudget.mutationOptions());
  const baseId = useId();

  useEffect(() => {
    if (budget.data) setForm(toForm(budget.data));
  }, [budget.data]);

  const autoTypes = reg.types.filter((t) => t.mayAutoExecute);
  const b = budget.data;
  const max = Number(form?.maxPerDay ?? "");
  const capsParsed = Object.fromEntries(
    Object.entries(form?.caps ?? {})
      .filter(([, v]) => v.trim() !== "")
      .map(([k, v]) => [k, Number(v)]),
  );
  const valid =
    form !== null &&
    Number.isInteger(max) &&
    max >= 0 &&
    max <= 1000 &&
    Object.values(capsParsed).every((v) => Number.isInteger(v) && v >= 0 && v <= 1000);
  const dirty = !!b && !!form && JSON.stringify(form) !== JSON.stringify(toForm(b));
  const widening =
    !!b &&
    (max > b.maxAutonomousPerDay ||
      (b.decayIfUnused && form?.decay === false) ||
      Object.entries(b.maxPerActionType).some(([k, v]) => capsParsed[k] === undefined || (capsParsed[k] ?? 0) > v));

  function commit(reason?: string) {
    if (!b || !form) return;
    setNotice(null);
    save.mutate(
      {
        ...input,
        maxPerDay: max,
        perTypeCaps: capsParsed,
        decayIfUnused: form.decay,
        ...(b.configured && b.updatedAt ? { ifMatch: b.updatedAt } : {}),
        ...(reason ? { reason } : {}),
      },
      {
        onSuccess: (v) => {
          setConfirm(false);
          setNotice({ ok: true, text: "Budget saved." });
          qc.setQueryData(trpc.autonomy.budget.queryKey(input), v);
          qc.invalidateQueries({ queryKey: trpc.autonomy.budget.pathKey() });
        },
        onError: (e) => {
          setConfirm(false);
          setNotice({
            ok: false,
            text: errorCode(e) === "CONFLICT" ? "Someone changed this; reloaded. Check the numbers and save again." : e.message,
          });
          qc.invalidateQueries({ queryKey: trpc.autonomy.budget.pathKey() });
        },
      },
    );
  }

  return (
    <Card
      title={account ? `Budget — ${account.name}` : "Budget — workspace default"}
      actions={
        <Button variant="primary" disabled={!dirty || !valid || save.isPending} onClick={() => (widening ? setConfirm(true) : commit())}>
          <Save className="size-4" aria-hidden /> {save.isPending ? "Saving…" : "Save budget"}
        </Button>
      }
    >
      {budget.isPending || !form ? (
        <LoadingState label="Loading budget…" />
      ) : budget.isError ? (
        <ErrorState message={budget.error.message} onRetry={() => budget.refetch()} />
      ) : (
        <div className="grid gap-6 px-4 py-3 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
          <form
            className="space-y-3"
            onSubmit={(e) => {
              e.preventDefault();
              if (dirty && valid) widening ? setConfirm(true) : commit();
            }}
          >
            {b?.problem && (
              <p role="alert" className="rounded-md bg-rose-50 px-3 py-2 text-xs text-rose-800 ring-1 ring-rose-200">
                The stored budget is damaged ({b.problem}). Autopilot asks a person for every action until it is saved again.
              </p>
            )}
            {account && b && !b.configured && (
              <p className="rounded-md bg-slate-50 px-3 py-2 text-xs text-slate-600 ring-1 ring-slate-200">
                This account uses the workspace default. Saving creates an override for {account.name}.
              </p>
            )}
            <div className="flex flex-wrap items-end gap-4">
              <div>
                <label htmlFor={`${baseId}-max`} className="mb-1 block font-medium text-slate-700">
                  Max autonomous actions per day
                </label>
                <input
                  id={`${baseId}-max`}
                  type="number"
                  min={0}
                  max={1000}
                  value={form.maxPerDay}
                  onChange={(e) => setForm({ ...form, maxPerDay: e.target.value })}
                  className="w-28 rounded-md border border-slate-300 px-2 py-1 tabular-nums"
                />
              </div>
              <label className="flex items-center gap-2 pb-1.5">
                <input type="checkbox" checked={form.decay} onChange={(e) => setForm({ ...form, decay: e.target.checked })} />
                <span>
                  Decay when unused <span className="text-xs text-slate-500">(half the cap after 7 idle days)</span>
                </span>
              </label>
            </div>
            <fieldset>
              <legend className="mb-1 font-medium text-slate-700">
                Per-type caps <span className="font-normal text-slate-500">(blank = only the daily max applies)</span>
              </legend>
              <div className="grid grid-cols-[12rem_5rem] items-center gap-x-3 gap-y-1 xl:grid-cols-[12rem_5rem_12rem_5rem]">
                {autoTypes.map((t) => (
                  <label key={t.name} className="contents">
                    <span className="truncate text-slate-700" title={t.name}>
                      {t.label}
                    </span>
                    <input
                      type="number"
                      min={0}
                      max={1000}
                      placeholder="—"
                      value={form.caps[t.name] ?? ""}
                      onChange={(e) => setForm({ ...form, caps: { ...form.caps, [t.name]: e.target.value } })}
                      className="w-20 rounded-md border border-slate-300 px-2 py-0.5 tabular-nums"
                    />
                  </label>
                ))}
              </div>
            </fieldset>
            {!valid && <p className="text-xs text-red-700">Use whole numbers from 0 to 1000.</p>}
          </form>

          <div className="space-y-2">
            <h3 className="flex items-center gap-1.5 font-medium text-slate-700">
              <Gauge className="size-4 text-slate-500" aria-hidden /> Today's use
            </h3>
            {account && b ? (
              <BudgetMeter consumed={b.consumedToday} cap={b.effectiveCapToday} dateKey={b.dateKey} maxPerDay={b.maxAutonomousPerDay} />
            ) : (
              <p className="text-slate-500">Pick an account above to see how much of today's budget autopilot has used there.</p>
            )}
            {b && b.maxAutonomousPerDay === 0 && (
              <p className="text-xs text-slate-500">With a cap of 0, autopilot never acts on its own; every proposal waits for a person.</p>
            )}
          </div>
        </div>
      )}
      <div aria-live="polite">
        {notice && (
          <p
            role={notice.ok ? "status" : "alert"}
            className={cx(
              "mx-4 mb-3 flex items-center gap-2 rounded-md px-3 py-2 ring-1",
              notice.ok ? "bg-emerald-50 text-emerald-900 ring-emerald-200" : "bg-amber-50 text-amber-900 ring-amber-200",
            )}
          >
            {notice.ok ? <CircleCheck className="size-4" aria-hidden /> : <TriangleAlert className="size-4" aria-hidden />}
            {notice.text}
          </p>
        )}
      </div>
      <ReasonDialog
        open={confirm}
        onClose={() => setConfirm(false)}
        title="Give autopilot more room?"
        description={`Daily max ${b?.maxAutonomousPerDay ?? "?"} → ${form?.maxPerDay ?? "?"}${b?.decayIfUnused && !form?.decay ? ", decay off" : ""}.`}
        confirmLabel="Save budget"
        minLength={3}
        pending={save.isPending}
        reasonLabel="Why widen autonomy here?"
        hint="The change and this reason are ledgered with your name, before and after."
        onConfirm={(reason) => commit(reason)}
      />
    </Card>
  );
}
