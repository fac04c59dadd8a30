"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TriangleAlert } from "lucide-react";
import { useId, useState } from "react";
import { type FieldErrors, get, type UseFormRegisterReturn, useForm } from "react-hook-form";
import type { z } from "zod";
import { LearningSettingsPatch } from "@/server/schemas/learning";
import { FormCard, inputClass, type Notice, NumberField } from "../decisions/fields";
import { errorInfo } from "../decisions/labels";
import { useTRPC } from "../trpc";
import { ReasonDialog } from "../ui/dialog";
import { cx } from "../ui/primitives";
import type { RouterOutputs } from "../work/types";

type Settings = RouterOutputs["learning"]["settings"]["settings"];
type Form = z.input<typeof LearningSettingsPatch>;
type Patch = z.output<typeof LearningSettingsPatch>;

/** The fields, in order: [path in the server's settings shape, label, hint, kind, min, max]. */
const FIELDS = [
  ["shadow.window_days", "Shadow window (days)", "Live proposals a candidate is judged on", "whole", 1, 365],
  ["shadow.min_sample", "Shadow minimum sample", "Decided proposals before the gate can pass", "whole", 1, 1_000_000],
  ["shadow.min_lift", "Shadow minimum lift", "Top-K agreement above the ACTIVE ranking's", "decimal", -1, 1],
  ["guard.tolerance", "Guard tolerance", "Drop below the replaced ranking that rolls back", "decimal", 0, 1],
  ["guard.window_days", "Guard window (days)", "How long a promotion is watched", "whole", 1, 365],
  ["response_window_days", "Response window (days)", "Outreach with no reply by then: NO_RESPONSE", "whole", 1, 365],
  ["missing_after_hours", "Missing outcome after (hours)", "A decided intent without an outcome is a gap", "whole", 1, 2_160],
  ["calibration.min_rows", "Calibration minimum rows", "Labelled rows needed for a candidate", "whole", 10, 1_000_000],
  ["calibration.every_days", "Calibrate every (days)", "0 = only on request", "whole", 0, 365],
] as const;
type Path = (typeof FIELDS)[number][0];

const toForm = (v: { settings: Settings }): Form => {
  const s = v.settings;
  return {
    shadow: { window_days: s.shadow.window_days, min_sample: s.shadow.min_sample, min_lift: s.shadow.min_lift },
    guard: { window_days: s.guard.window_days, tolerance: s.guard.tolerance },
    response_window_days: s.response_window_days,
    missing_after_hours: s.missing_after_hours,
    calibration: { min_rows: s.calibration.min_rows, every_days: s.calibration.every_days },
  };
};

// A decimal is typed as text (a number input would refuse "-0."); blank or junk is NaN, which the schema refuses.
const decimal = { setValueAs: (v: unknown) => (typeof v === "string" ? (v.trim() === "" ? Number.NaN : Number(v)) : v) } as const;

const fieldError = (errors: FieldErrors<Form>, path: Path): string | undefined =>
  (get(errors, path) as { message?: string } | undefined)?.message;

function DecimalField({
  id,
  label,
  hint,
  error,
  field,
}: {
  id: string;
  label: string;
  hint: string;
  error?: string;
  field: UseFormRegisterReturn;
}) {
  return (
    <div>
      <label htmlFor={id} className="mb-1 block font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        inputMode="decimal"
        {...field}
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
  // The same schema the server parses the patch with: the form cannot hold what the server refuses.
  const form = useForm<Form, unknown, Patch>({
    resolver: zodResolver(LearningSettingsPatch),
    mode: "onChange",
    values: query.data ? toForm(query.data) : undefined,
    resetOptions: { keepDirtyValues: true },
  });
  const { errors, isDirty, isValid } = form.formState;
  const [asking, setAsking] = useState<Patch | null>(null);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const id = useId();

  function confirm(reason: string) {
    if (!asking) return;
    setDialogError(null);
    save.mutate(
      { ...asking, reason },
      {
        onSuccess: (next) => {
          setAsking(null);
          form.reset(toForm(next));
          setNotice({ ok: true, text: "Learning settings saved. The next shadow tick, guard check and calibration use them." });
        },
        onError: (e) => setDialogError(errorInfo(e).message),
      },
    );
  }

  return (
    <>
      <FormCard
        title="Learning settings"
        saveLabel="Save settings"
        canEdit={isAdmin}
        loading={query.isPending || (!query.isError && !query.data)}
        loadingLabel="Loading learning settings…"
        error={query.isError ? { message: query.error.message, onRetry: () => query.refetch() } : null}
        onSubmit={form.handleSubmit((patch) => {
          setDialogError(null);
          setAsking(patch);
        })}
        onDiscard={() => form.reset()}
        dirty={isDirty}
        valid={isValid}
        pending={save.isPending}
        notice={notice}
        noticeTestId="learning-settings-notice"
        className="space-y-3 px-4 py-3"
      >
        <p className="text-slate-600">These steer ranking, its gates and the outcome windows. The policy gate never reads them.</p>
        {query.data?.settings_problem && (
          <p role="alert" className="flex items-center gap-2 rounded-md bg-amber-50 px-3 py-1.5 text-amber-900 ring-1 ring-amber-200">
            <TriangleAlert className="size-4 shrink-0" aria-hidden /> {query.data.settings_problem}
          </p>
        )}
        <fieldset disabled={!isAdmin} className="grid gap-x-4 gap-y-3 sm:grid-cols-3">
          <legend className="sr-only">Learning settings{isAdmin ? "" : " (read-only)"}</legend>
          {FIELDS.map(([path, label, hint, kind, min, max]) =>
            kind === "decimal" ? (
              <DecimalField
                key={path}
                id={`${id}-${path}`}
                label={label}
                hint={hint}
                error={fieldError(errors, path)}
                field={form.register(path, decimal)}
              />
            ) : (
              <NumberField
                key={path}
                id={`${id}-${path}`}
                label={label}
                hint={hint}
                min={min}
                max={max}
                error={fieldError(errors, path)}
                field={form.register(path, { valueAsNumber: true })}
              />
            ),
          )}
        </fieldset>
      </FormCard>
      <ReasonDialog
        open={asking !== null}
        onClose={() => setAsking(null)}
        onConfirm={confirm}
        title="Save learning settings?"
        description="They apply to the next shadow tick, guard check, normalisation and calibration. Ledgered as CONFIG_CHANGED with before and after."
        confirmLabel="Save settings"
        minLength={3}
        pending={save.isPending}
        error={dialogError}
      />
    </>
  );
}
