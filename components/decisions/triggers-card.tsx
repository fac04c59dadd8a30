"use client";

import { useId } from "react";
import type { TriggerType } from "@/server/engine/triggers";
import { TriggerSettingsPatch } from "@/server/schemas/decisions";
import { FormCard, inputClass, NumberField } from "./fields";
import { duration, TRIGGER_LABEL, triggerLabel } from "./labels";
import { useSettingsHalfForm } from "./use-settings";

const WEEK = 7 * 86_400;

/**
 * The server's own schema for this half of the settings, plus the one rule that spans two fields:
 * a max wait below the debounce would make the debounce meaningless.
 */
const TriggersForm = TriggerSettingsPatch.superRefine((v, ctx) => {
  for (const [t, d] of Object.entries(v.debounceSeconds ?? {})) {
    const m = v.maxWaitSeconds?.[t as TriggerType];
    if (d !== undefined && m !== undefined && m < d)
      ctx.addIssue({
        code: "custom",
        path: ["maxWaitSeconds", t],
        message: `At least the debounce (${d} s), or the debounce never applies`,
      });
  }
});

function seconds(n: number | undefined) {
  return n === undefined || !Number.isSafeInteger(n) || n < 0 || n > WEEK ? null : n;
}

function cooldownHint(n: number | undefined) {
  const v = seconds(n);
  return !v ? "Min gap between two runs of one account" : `Min gap between two runs of one account (${duration(v)})`;
}

/** Trigger registry settings (SPEC §4.3): debounce with max wait per type, cooldown, hourly caps. */
export function TriggersCard({ triggerTypes }: { triggerTypes: readonly TriggerType[] }) {
  const id = useId();
  const { form, card } = useSettingsHalfForm("triggers", TriggersForm, {
    loading: "Loading trigger settings…",
    saved: "Trigger settings saved. They apply to the next trigger event.",
  });
  const { errors } = form.formState;
  const v = form.watch();
  const whole = { valueAsNumber: true } as const;

  const hint = (n: number | undefined) => {
    const sec = seconds(n);
    return sec === null ? "" : sec === 0 ? "at once" : `= ${duration(sec)}`;
  };

  return (
    <FormCard title="Triggers" saveLabel="Save triggers" {...card} noticeTestId="triggers-notice">
      <p className="text-slate-600">
        Events of one type for one account are <strong className="font-medium text-slate-800">debounced</strong>: a burst runs once, after
        the debounce has passed quietly — and never later than the <strong className="font-medium text-slate-800">max wait</strong> after
        its first event, so a steady drizzle cannot postpone a run forever.
      </p>
      <table className="w-full text-left">
        <thead className="text-xs uppercase tracking-wide text-slate-600">
          <tr className="border-b border-slate-200">
            <th className="py-1.5 pr-3 font-medium">Trigger</th>
            <th className="py-1.5 pr-3 font-medium">Debounce (s)</th>
            <th className="py-1.5 font-medium">Max wait (s)</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {triggerTypes.map((t) => {
            const dErr = errors.debounceSeconds?.[t]?.message;
            const mErr = errors.maxWaitSeconds?.[t]?.message;
            return (
              <tr key={t} className="align-top">
                <td className="py-1.5 pr-3">
                  <div className="font-medium text-slate-800">{triggerLabel(t)}</div>
                  <div className="text-xs text-slate-600">{TRIGGER_LABEL[t]?.hint}</div>
                </td>
                <td className="py-1.5 pr-3">
                  <input
                    type="number"
                    min={0}
                    max={WEEK}
                    inputMode="numeric"
                    aria-label={`Debounce for ${triggerLabel(t)}, seconds`}
                    aria-invalid={dErr ? true : undefined}
                    aria-describedby={`${id}-d-${t}`}
                    {...form.register(`debounceSeconds.${t}`, {
                      ...whole,
                      // The max wait's rule reads the debounce, so its error is re-checked too.
                      deps: [`maxWaitSeconds.${t}`],
                    })}
                    className={`${inputClass} w-24`}
                  />
                  <div id={`${id}-d-${t}`} className={dErr ? "mt-0.5 text-xs text-red-700" : "mt-0.5 text-xs text-slate-600"}>
                    {dErr ?? hint(v.debounceSeconds?.[t])}
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
                    aria-describedby={`${id}-m-${t}`}
                    {...form.register(`maxWaitSeconds.${t}`, whole)}
                    className={`${inputClass} w-24`}
                  />
                  <div id={`${id}-m-${t}`} className={mErr ? "mt-0.5 text-xs text-red-700" : "mt-0.5 text-xs text-slate-600"}>
                    {mErr ?? hint(v.maxWaitSeconds?.[t])}
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
            field={form.register("cooldownSeconds", whole)}
            min={0}
            max={WEEK}
            hint={cooldownHint(v.cooldownSeconds)}
            error={errors.cooldownSeconds?.message}
          />
          <NumberField
            id={`${id}-acct`}
            label="Per-account hourly cap"
            field={form.register("perAccountHourlyCap", whole)}
            min={0}
            max={1000}
            hint={v.perAccountHourlyCap === 0 ? "0 stops every triggered run" : "Runs per account per hour"}
            error={errors.perAccountHourlyCap?.message}
          />
          <NumberField
            id={`${id}-tenant`}
            label="Per-workspace hourly cap"
            field={form.register("perTenantHourlyCap", whole)}
            min={0}
            max={100_000}
            hint="Runs across all accounts per hour"
            error={errors.perTenantHourlyCap?.message}
          />
        </div>
      </fieldset>
    </FormCard>
  );
}
