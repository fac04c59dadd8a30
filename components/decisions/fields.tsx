"use client";

import { CircleCheck, RotateCcw, Save, TriangleAlert } from "lucide-react";
import { type FormEventHandler, type ReactNode, useEffect, useId, useRef, useState } from "react";
import type { UseFormRegisterReturn } from "react-hook-form";
import { Button, Card, cx, ErrorState, LoadingState } from "../ui/primitives";

/** A whole number typed as text; null when it is not one or falls outside [min, max]. */
export function parseWhole(text: string, min: number, max: number): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

export const inputClass =
  "rounded-md border border-slate-300 px-2 py-1 tabular-nums aria-[invalid=true]:border-red-500 aria-[invalid=true]:ring-1 aria-[invalid=true]:ring-red-300";

/**
 * A labelled whole-number input with its hint and its error under it. Controlled by value/onChange,
 * or registered with react-hook-form through `field`.
 */
export function NumberField({
  id,
  label,
  value,
  onChange,
  field,
  min,
  max,
  hint,
  error,
  placeholder,
  width = "w-28",
}: {
  id: string;
  label: string;
  value?: string;
  onChange?: (v: string) => void;
  field?: UseFormRegisterReturn;
  min: number;
  max: number;
  hint?: string;
  error?: string | null;
  placeholder?: string;
  width?: string;
}) {
  // The hint gives way to the error, so only the one that is shown describes the input.
  const describedBy = error ? `${id}-err` : hint ? `${id}-hint` : undefined;
  return (
    <div>
      <label htmlFor={id} className="mb-1 block font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        min={min}
        max={max}
        step={1}
        {...(field ?? { value, onChange: (e: React.ChangeEvent<HTMLInputElement>) => onChange?.(e.target.value) })}
        placeholder={placeholder}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        className={cx(inputClass, width)}
      />
      {hint && !error && (
        <p id={`${id}-hint`} className="mt-0.5 text-xs text-slate-600">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-err`} className="mt-0.5 text-xs text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}

export type Notice = { ok: boolean; text: string } | null;

/** The outcome of a save, announced politely; success fades after a while, failures stay. */
export function SaveNotice({ notice, testId }: { notice: Notice; testId?: string }) {
  const [shown, setShown] = useState(notice);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    setShown(notice);
    if (timer.current) clearTimeout(timer.current);
    if (notice?.ok) timer.current = setTimeout(() => setShown(null), 8_000);
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
  }, [notice]);
  return (
    <div aria-live="polite" data-testid={testId}>
      {shown && (
        <p
          role={shown.ok ? "status" : "alert"}
          className={cx(
            "flex items-center gap-2 rounded-md px-3 py-1.5 ring-1",
            shown.ok ? "bg-emerald-50 text-emerald-900 ring-emerald-200" : "bg-red-50 text-red-800 ring-red-200",
          )}
        >
          {shown.ok ? <CircleCheck className="size-4 shrink-0" aria-hidden /> : <TriangleAlert className="size-4 shrink-0" aria-hidden />}
          {shown.text}
        </p>
      )}
    </div>
  );
}

/** A settings card's Discard / Save pair, submitting the card's form by id. */
export function FormActions({
  formId,
  label,
  dirty,
  valid,
  pending,
  onDiscard,
}: {
  formId: string;
  label: string;
  dirty: boolean;
  valid: boolean;
  pending: boolean;
  onDiscard: () => void;
}) {
  return (
    <>
      {dirty && (
        <Button variant="ghost" onClick={onDiscard} disabled={pending}>
          <RotateCcw className="size-4" aria-hidden /> Discard
        </Button>
      )}
      <Button variant="primary" type="submit" form={formId} disabled={!dirty || !valid || pending}>
        <Save className="size-4" aria-hidden /> {pending ? "Saving…" : label}
      </Button>
    </>
  );
}

/**
 * The settings cards' one shell: a Card whose header holds Discard/Save for the form in its body,
 * the query's loading and error states, and the save's outcome under the fields.
 */
export function FormCard({
  title,
  saveLabel,
  loading,
  loadingLabel,
  error,
  onSubmit,
  onDiscard,
  dirty,
  valid,
  pending,
  canEdit = true,
  notice,
  noticeTestId,
  className = "space-y-4 px-4 py-3",
  children,
}: {
  title: string;
  saveLabel: string;
  loading: boolean;
  loadingLabel: string;
  error: { message: string; onRetry: () => void } | null;
  onSubmit: FormEventHandler<HTMLFormElement>;
  onDiscard: () => void;
  dirty: boolean;
  valid: boolean;
  pending: boolean;
  /** Read-only viewers get the fields without the actions. */
  canEdit?: boolean;
  notice: Notice;
  noticeTestId: string;
  className?: string;
  children: ReactNode;
}) {
  const formId = `${useId()}-form`;
  return (
    <Card
      title={title}
      actions={
        canEdit && <FormActions formId={formId} label={saveLabel} dirty={dirty} valid={valid} pending={pending} onDiscard={onDiscard} />
      }
    >
      {loading ? (
        <LoadingState label={loadingLabel} />
      ) : error ? (
        <ErrorState message={error.message} onRetry={error.onRetry} />
      ) : (
        <form id={formId} noValidate className={className} onSubmit={onSubmit}>
          {children}
          <SaveNotice notice={notice} testId={noticeTestId} />
        </form>
      )}
    </Card>
  );
}
