"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TriangleAlert } from "lucide-react";
import { useId, useState } from "react";
import { FormActions, inputClass, type Notice, NumberField, parseWhole, SaveNotice } from "../decisions/fields";
import { errorInfo } from "../decisions/labels";
import { useSyncedForm } from "../decisions/use-settings";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { Card, cx, ErrorState, LoadingState } from "../ui/primitives";
import type { RouterOutputs } from "../work/types";

type Settings = RouterOutputs["learning"]["settings"]["settings"];

/** Whole-number fields: [form key, label, min, max, hint]. */
const WHOLE = [
  ["shadowWindow", "Shadow window (days)", 1, 365, "Live proposals a candidate is judged on"],
  ["shadowMinSample", "Shadow minimum sample", 1, 1_000_000, "Decided proposals before the gate can pass"],
  ["guardWindow", "Guard window (days)", 1, 365, "How long a promotion is watched"],
  ["responseWindow", "Response window (days)", 1, 365, "Outreach with no reply by then: NO_RESPONSE"],
  ["missingAfter", "Missing outcome after (hours)", 1, 24 * 90, "A decided intent without an outcome is a gap"],
  ["minRows", "Calibration minimum rows", 10, 1_000_000, "Labelled rows needed for a candidate"],
  ["everyDays", "Calibrate every (days)", 0, 365, "0 = only on request"],
] as const;
/** Decimal fields: [form key, label, min, max, hint]. */
const DECIMAL = [
  ["minLift", "Shadow minimum lift", -1, 1, "Top-K agreement above the ACTIVE ranking's"],
  ["tolerance", "Guard tolerance", 0, 1, "Drop below the replaced ranking that rolls back"],
] as const;

type Key = (typeof WHOLE)[number][0] | (typeof DECIMAL)[number][0];
type Form = Record<Key, string>;

const toForm = (v: { settings: Settings }): Form => {
  const s = v.settings;
  return {
    shadowWindow: String(s.shadow.window_days),
    shadowMinSample: String(s.shadow.min_sample),
    minLift: String(s.shadow.min_lift),
    guardWindow: String(s.guard.window_days),
    tolerance: String(s.guard.tolerance),
    responseWindow: String(s.response_window_days),
    missingAfter: String(s.missing_after_hours),
    minRows: String(s.calibration.min_rows),
    everyDays: String(s.calibration.every_days),
  };
};

function parseDecimal(text: string, min: number, max: number): number | null {
  if (!/^\s*-?\d+(\.\d+)?\s*$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

function DecimalField({
  id,
  label,
  value,
  onChange,
  hint,
  error,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  hint: string;
  error?: string;
}) {
  return (
    <div>
      <label htmlFor={id} className="mb-1 block font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        inputMode="decimal"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-${error ? "err" : "hint"}`}
        className={cx(inputClass, "w-28")}
      />
      {error ? (
        <p id={`${id}-err`} className="mt-0.5 text-xs text-red-700">
          {error}
        </p>
      ) : (
        <p id={`${id}-hint`} className="mt-0.5 text-xs text-slate-600">
          {hint}
        </p>
      )}
    </div>
  );
}

/** The learning settings: shadow gate, guard, windows, calibration. Ranking only; saved with a reason. */
export function SettingsCard({ isAdmin }: { isAdmin: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const query = useQuery(trpc.learning.settings.queryOptions());
  const save = useMutation(
    trpc.learning.saveSettings.mutationOptions({
      onSuccess: (next) => {
        qc.setQueryData(trpc.learning.settings.queryKey(), next);
        qc.invalidateQueries({ queryKey: trpc.learning.weights.queryKey() });
        qc.invalidateQueries({ queryKey: trpc.learning.normalization.queryKey() });
      },
    }),
  );
  const { form, setForm, dirty, reset } = useSyncedForm(query.data, toForm);
  const [asking, setAsking] = useState(false);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const id = useId();

  const errors: Partial<Record<Key, string>> = {};
  if (form) {
    for (const [k, , min, max] of WHOLE) if (parseWhole(form[k], min, max) === null) errors[k] = `A whole number from ${min} to ${max}`;
    for (const [k, , min, max] of DECIMAL) if (parseDecimal(form[k], min, max) === null) errors[k] = `A number from ${min} to ${max}`;
  }
  const valid = Object.keys(errors).length === 0;

  function confirm(reason: string) {
    if (!form) return;
    setDialogError(null);
    const n = (k: Key) => Number(form[k]);
    save.mutate(
      {
        shadow: { window_days: n("shadowWindow"), min_sample: n("shadowMinSample"), min_lift: n("minLift") },
        guard: { window_days: n("guardWindow"), tolerance: n("tolerance") },
        response_window_days: n("responseWindow"),
        missing_after_hours: n("missingAfter"),
        calibration: { min_rows: n("minRows"), every_days: n("everyDays") },
        reason,
      },
      {
        onSuccess: () => {
          setAsking(false);
          setNotice({ ok: true, text: "Learning settings saved. The next shadow tick, guard check and calibration use them." });
        },
        onError: (e) => setDialogError(errorInfo(e).message),
      },
    );
  }

  const wholeField = ([k, label, min, max, hint]: (typeof WHOLE)[number]) => (
    <NumberField
      key={k}
      id={`${id}-${k}`}
      label={label}
      value={form?.[k] ?? ""}
      onChange={(v) => form && setForm({ ...form, [k]: v })}
      min={min}
      max={max}
      hint={hint}
      error={errors[k]}
    />
  );

  return (
    <Card
      title="Learning settings"
      actions={
        isAdmin && (
          <FormActions formId={`${id}-form`} label="Save settings" dirty={dirty} valid={valid} pending={save.isPending} onDiscard={reset} />
        )
      }
    >
      {query.isPending || (!query.isError && !form) ? (
        <LoadingState label="Loading learning settings…" />
      ) : query.isError || !form ? (
        <ErrorState message={query.error?.message ?? "Could not load the learning settings"} onRetry={() => query.refetch()} />
      ) : (
        <form
          id={`${id}-form`}
          noValidate
          className="space-y-3 px-4 py-3"
          onSubmit={(e) => {
            e.preventDefault();
            if (dirty && valid) {
              setDialogError(null);
              setAsking(true);
            }
          }}
        >
          <p className="text-slate-600">These steer ranking, its gates and the outcome windows. The policy gate never reads them.</p>
          {query.data?.settings_problem && (
            <p role="alert" className="flex items-center gap-2 rounded-md bg-amber-50 px-3 py-1.5 text-amber-900 ring-1 ring-amber-200">
              <TriangleAlert className="size-4 shrink-0" aria-hidden /> {query.data.settings_problem}
            </p>
          )}
          <fieldset disabled={!isAdmin} className="grid gap-x-4 gap-y-3 sm:grid-cols-3">
            <legend className="sr-only">Learning settings{isAdmin ? "" : " (read-only)"}</legend>
            {WHOLE.slice(0, 2).map(wholeField)}
            {DECIMAL.map(([k, label, , , hint]) => (
              <DecimalField
                key={k}
                id={`${id}-${k}`}
                label={label}
                value={form[k]}
                onChange={(v) => setForm({ ...form, [k]: v })}
                hint={hint}
                error={errors[k]}
              />
            ))}
            {WHOLE.slice(2).map(wholeField)}
          </fieldset>
          <SaveNotice notice={notice} testId="learning-settings-notice" />
        </form>
      )}
      <ReasonDialog
        open={asking}
        onClose={() => setAsking(false)}
        onConfirm={confirm}
        title="Save learning settings?"
        description="They apply to the next shadow tick, guard check, normalisation and calibration. Ledgered as CONFIG_CHANGED with before and after."
        confirmLabel="Save settings"
        minLength={3}
        pending={save.isPending}
        error={dialogError}
      />
    </Card>
  );
}
