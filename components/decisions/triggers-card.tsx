"use client";

import { useId, useState } from "react";
import type { TriggerType } from "@/server/engine/triggers";
import { Card, ErrorState, LoadingState } from "../ui/primitives";
import { FormActions, inputClass, type Notice, NumberField, parseWhole, SaveNotice } from "./fields";
import { duration, errorInfo, TRIGGER_LABEL, triggerLabel } from "./labels";
import type { DecisionSettings } from "./types";
import { useDecisionSettings, useSyncedForm } from "./use-settings";

const WEEK = 7 * 86_400;

type Form = {
  debounce: Record<string, string>;
  maxWait: Record<string, string>;
  cooldown: string;
  perAccount: string;
  perTenant: string;
};

function toForm(s: DecisionSettings): Form {
  const t = s.triggers;
  const str = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));
  return {
    debounce: str(t.debounceSeconds),
    maxWait: str(t.maxWaitSeconds),
    cooldown: String(t.cooldownSeconds),
    perAccount: String(t.perAccountHourlyCap),
    perTenant: String(t.perTenantHourlyCap),
  };
}

/** Field errors of the form, keyed like the inputs; empty when it may be saved. */
function validate(form: Form, types: readonly TriggerType[]) {
  const errors: Record<string, string> = {};
  const secs = "Whole seconds, 0 to 604800 (7 days)";
  for (const t of types) {
    const d = parseWhole(form.debounce[t] ?? "", 0, WEEK);
    const m = parseWhole(form.maxWait[t] ?? "", 0, WEEK);
    if (d === null) errors[`debounce.${t}`] = secs;
    if (m === null) errors[`maxWait.${t}`] = secs;
    else if (d !== null && m < d) errors[`maxWait.${t}`] = `At least the debounce (${d} s), or the debounce never applies`;
  }
  if (parseWhole(form.cooldown, 0, WEEK) === null) errors.cooldown = secs;
  if (parseWhole(form.perAccount, 0, 1000) === null) errors.perAccount = "A whole number from 0 to 1000";
  if (parseWhole(form.perTenant, 0, 100_000) === null) errors.perTenant = "A whole number from 0 to 100000";
  return errors;
}

function cooldownHint(text: string) {
  const n = parseWhole(text, 0, WEEK);
  return n === null || n === 0 ? "Min gap between two runs of one account" : `Min gap between two runs of one account (${duration(n)})`;
}

/** Trigger registry settings (SPEC §4.3): debounce with max wait per type, cooldown, hourly caps. */
export function TriggersCard({ triggerTypes }: { triggerTypes: readonly TriggerType[] }) {
  const { query, save } = useDecisionSettings();
  const { form, setForm, dirty, reset } = useSyncedForm(query.data, toForm);
  const [notice, setNotice] = useState<Notice>(null);
  const id = useId();

  const errors = form ? validate(form, triggerTypes) : {};
  const valid = Object.keys(errors).length === 0;
  const per = (k: "debounce" | "maxWait") =>
    Object.fromEntries(triggerTypes.map((t) => [t, Number(form?.[k][t] ?? 0)])) as Record<TriggerType, number>;

  function submit() {
    if (!form || !valid || !dirty) return;
    setNotice(null);
    save.mutate(
      {
        triggers: {
          debounceSeconds: per("debounce"),
          maxWaitSeconds: per("maxWait"),
          cooldownSeconds: Number(form.cooldown),
          perAccountHourlyCap: Number(form.perAccount),
          perTenantHourlyCap: Number(form.perTenant),
        },
      },
      {
        onSuccess: () => setNotice({ ok: true, text: "Trigger settings saved. They apply to the next trigger event." }),
        onError: (e) => setNotice({ ok: false, text: `Not saved: ${errorInfo(e).message}` }),
      },
    );
  }

  const hint = (v: string | undefined) => {
    const n = parseWhole(v ?? "", 0, WEEK);
    return n === null ? "" : n === 0 ? "at once" : `= ${duration(n)}`;
  };

  return (
    <Card
      title="Triggers"
      actions={
        <FormActions formId={`${id}-form`} label="Save triggers" dirty={dirty} valid={valid} pending={save.isPending} onDiscard={reset} />
      }
    >
      {query.isPending ? (
        <LoadingState label="Loading trigger settings…" />
      ) : query.isError ? (
        <ErrorState message={query.error.message} onRetry={() => query.refetch()} />
      ) : !form ? (
        <LoadingState label="Loading trigger settings…" />
      ) : (
        <form
          id={`${id}-form`}
          noValidate
          className="space-y-4 px-4 py-3"
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <p className="text-slate-600">
            Events of one type for one account are <strong className="font-medium text-slate-800">debounced</strong>: a burst runs once,
            after the debounce has passed quietly — and never later than the{" "}
            <strong className="font-medium text-slate-800">max wait</strong> after its first event, so a steady drizzle cannot postpone a
            run forever.
          </p>
          <table className="w-full text-left">
            <thead className="text-xs uppercase tracking-wide text-slate-500">
              <tr className="border-b border-slate-200">
                <th className="py-1.5 pr-3 font-medium">Trigger</th>
                <th className="py-1.5 pr-3 font-medium">Debounce (s)</th>
                <th className="py-1.5 font-medium">Max wait (s)</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {triggerTypes.map((t) => {
                const dErr = errors[`debounce.${t}`];
                const mErr = errors[`maxWait.${t}`];
                return (
                  <tr key={t} className="align-top">
                    <td className="py-1.5 pr-3">
                      <div className="font-medium text-slate-800">{triggerLabel(t)}</div>
                      <div className="text-xs text-slate-500">{TRIGGER_LABEL[t]?.hint}</div>
                    </td>
                    <td className="py-1.5 pr-3">
                      <input
                        type="number"
                        min={0}
                        max={WEEK}
                        inputMode="numeric"
                        aria-label={`Debounce for ${triggerLabel(t)}, seconds`}
                        aria-invalid={dErr ? true : undefined}
                        aria-describedby={dErr ? `${id}-d-${t}` : undefined}
                        value={form.debounce[t] ?? ""}
                        onChange={(e) => setForm({ ...form, debounce: { ...form.debounce, [t]: e.target.value } })}
                        className={`${inputClass} w-24`}
                      />
                      <div id={`${id}-d-${t}`} className={dErr ? "mt-0.5 text-xs text-red-700" : "mt-0.5 text-xs text-slate-500"}>
                        {dErr ?? hint(form.debounce[t])}
                      </div>
                    </td>
                    <td className="py-1.5">
                      <input
                        type="number"
                        min={0}
                        max={WEEK}
                        inputMode="numeric"
                        aria-label={`Max wait for ${triggerLabel(t)}, seconds`}
                        aria-invalid={mErr ? true : undefined}
                        aria-describedby={mErr ? `${id}-m-${t}` : undefined}
                        value={form.maxWait[t] ?? ""}
                        onChange={(e) => setForm({ ...form, maxWait: { ...form.maxWait, [t]: e.target.value } })}
                        className={`${inputClass} w-24`}
                      />
                      <div id={`${id}-m-${t}`} className={mErr ? "mt-0.5 text-xs text-red-700" : "mt-0.5 text-xs text-slate-500"}>
                        {mErr ?? hint(form.maxWait[t])}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <fieldset className="border-t border-slate-200 pt-3">
            <legend className="sr-only">Limits across all trigger types</legend>
            <div className="grid gap-x-4 gap-y-3 sm:grid-cols-3">
              <NumberField
                id={`${id}-cooldown`}
                label="Cooldown per account (s)"
                value={form.cooldown}
                onChange={(v) => setForm({ ...form, cooldown: v })}
                min={0}
                max={WEEK}
                hint={cooldownHint(form.cooldown)}
                error={errors.cooldown}
              />
              <NumberField
                id={`${id}-acct`}
                label="Per-account hourly cap"
                value={form.perAccount}
                onChange={(v) => setForm({ ...form, perAccount: v })}
                min={0}
                max={1000}
                hint={form.perAccount.trim() === "0" ? "0 stops every triggered run" : "Runs per account per hour"}
                error={errors.perAccount}
              />
              <NumberField
                id={`${id}-tenant`}
                label="Per-workspace hourly cap"
                value={form.perTenant}
                onChange={(v) => setForm({ ...form, perTenant: v })}
                min={0}
                max={100_000}
                hint="Runs across all accounts per hour"
                error={errors.perTenant}
              />
            </div>
          </fieldset>
          <SaveNotice notice={notice} testId="triggers-notice" />
        </form>
      )}
    </Card>
  );
}
