"use client";

import { ArrowLeft, ArrowRight, Check } from "lucide-react";
import { useId, useMemo, useState } from "react";
import { Dialog } from "../ui/dialog";
import { Button, cx } from "../ui/primitives";
import { formatValue, orderParams } from "./labels";
import type { InboxItem } from "./types";

const LONG_KEYS = /body|text|notes?|description|summary|message|content/i;

function toText(v: unknown) {
  return typeof v === "string" ? v : JSON.stringify(v, null, 2);
}

function same(a: unknown, b: unknown) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Edit & approve (SPEC §4.2): every parameter is an input; strings stay strings, anything else is
 * edited as JSON. Only changed keys are sent as `editedParameters`, and the diff is shown for a
 * last look before the approval goes out.
 */
export function EditApproveDialog({
  item,
  actionLabel,
  onClose,
  onConfirm,
  pending,
  error,
}: {
  item: InboxItem;
  actionLabel: string;
  onClose: () => void;
  onConfirm: (editedParameters: Record<string, unknown>, reason: string | undefined) => void;
  pending: boolean;
  error: string | null;
}) {
  const params = item.parameters;
  const keys = orderParams(params).map(([k]) => k);
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(keys.map((k) => [k, toText(params[k])])));
  const [step, setStep] = useState<"edit" | "review">("edit");
  const [reason, setReason] = useState("");
  const baseId = useId();
  const formId = `${baseId}-form`;

  const parsed = useMemo(() => {
    const out: Record<string, { value?: unknown; error?: string }> = {};
    for (const k of keys) {
      const raw = values[k] ?? "";
      if (typeof params[k] === "string") out[k] = { value: raw };
      else {
        try {
          out[k] = { value: JSON.parse(raw) };
        } catch {
          out[k] = { error: "Not valid JSON" };
        }
      }
    }
    return out;
  }, [keys, params, values]);

  const changed = keys.filter((k) => !parsed[k]?.error && !same(parsed[k]?.value, params[k]));
  const invalid = keys.some((k) => parsed[k]?.error);
  const edited = Object.fromEntries(changed.map((k) => [k, parsed[k]?.value]));

  return (
    <Dialog
      open
      onClose={onClose}
      size="lg"
      title={step === "edit" ? `Edit & approve: ${actionLabel}` : "Review your changes"}
      description={
        step === "edit"
          ? `For ${item.account.name}. Change what autopilot proposed; only the fields you change are sent.`
          : `${changed.length} field${changed.length === 1 ? "" : "s"} changed. Approving runs the edited action right away.`
      }
      footer={
        step === "edit" ? (
          <>
            <Button variant="ghost" onClick={onClose}>
              Cancel
            </Button>
            <Button variant="primary" type="submit" form={formId} disabled={changed.length === 0 || invalid}>
              Review changes <ArrowRight className="size-4" aria-hidden />
            </Button>
          </>
        ) : (
          <>
            <Button variant="ghost" onClick={() => setStep("edit")} disabled={pending}>
              <ArrowLeft className="size-4" aria-hidden /> Back to editing
            </Button>
            <Button variant="primary" onClick={() => onConfirm(edited, reason.trim() || undefined)} disabled={pending}>
              <Check className="size-4" aria-hidden /> {pending ? "Approving…" : "Confirm & approve"}
            </Button>
          </>
        )
      }
    >
      {step === "edit" ? (
        <form
          id={formId}
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            if (changed.length > 0 && !invalid) setStep("review");
          }}
        >
          {keys.length === 0 && <p className="text-slate-600">This action has no parameters to edit.</p>}
          {keys.map((k, idx) => {
            const id = `${baseId}-${idx}`;
            const original = params[k];
            const isString = typeof original === "string";
            const long = !isString || LONG_KEYS.test(k) || String(original).length > 60 || String(original).includes("\n");
            const err = parsed[k]?.error;
            const isChanged = changed.includes(k);
            const cls = cx(
              "w-full rounded-md border px-2 py-1.5",
              !isString && "font-mono text-xs",
              err ? "border-red-400" : isChanged ? "border-brand-500" : "border-slate-300",
            );
            return (
              <div key={k}>
                <label htmlFor={id} className="mb-1 flex items-center gap-2 font-medium text-slate-700">
                  <span className="font-mono text-xs">{k}</span>
                  {!isString && <span className="text-xs font-normal text-slate-500">(JSON)</span>}
                  {isChanged && <span className="text-xs font-normal text-brand-700">• changed</span>}
                </label>
                {long ? (
                  <textarea
                    id={id}
                    autoFocus={idx === 0}
                    rows={Math.min(10, Math.max(3, (values[k] ?? "").split("\n").length + 1))}
                    value={values[k] ?? ""}
                    onChange={(e) => setValues({ ...values, [k]: e.target.value })}
                    aria-invalid={!!err}
                    className={cls}
                  />
                ) : (
                  <input
                    id={id}
                    autoFocus={idx === 0}
                    value={values[k] ?? ""}
                    onChange={(e) => setValues({ ...values, [k]: e.target.value })}
                    aria-invalid={!!err}
                    className={cls}
                  />
                )}
                {err && <p className="mt-0.5 text-xs text-red-700">{err}</p>}
              </div>
            );
          })}
        </form>
      ) : (
        <div className="space-y-4">
          <table className="w-full table-fixed text-left" data-testid="edit-diff">
            <caption className="sr-only">Changed parameters</caption>
            <thead className="text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="w-36 py-1 pr-2 font-medium">Field</th>
                <th className="py-1 pr-2 font-medium">Before</th>
                <th className="py-1 font-medium">After</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 align-top">
              {changed.map((k) => (
                <tr key={k}>
                  <td className="py-2 pr-2 font-mono text-xs">{k}</td>
                  <td className="py-2 pr-2">
                    <div className="whitespace-pre-wrap break-words rounded bg-red-50 px-2 py-1 text-red-900 ring-1 ring-red-200">
                      <span className="mr-1 font-mono font-bold" aria-hidden>
                        −
                      </span>
                      <del className="decoration-red-400">{formatValue(params[k])}</del>
                    </div>
                  </td>
                  <td className="py-2">
                    <div className="whitespace-pre-wrap break-words rounded bg-emerald-50 px-2 py-1 text-emerald-900 ring-1 ring-emerald-200">
                      <span className="mr-1 font-mono font-bold" aria-hidden>
                        +
                      </span>
                      <ins className="no-underline">{formatValue(parsed[k]?.value)}</ins>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {keys.length > changed.length && (
            <p className="text-xs text-slate-500">
              Unchanged: {keys.filter((k) => !changed.includes(k)).join(", ")} — sent as autopilot proposed them.
            </p>
          )}
          <div>
            <label htmlFor={`${baseId}-reason`} className="mb-1 block font-medium text-slate-700">
              Note <span className="font-normal text-slate-500">(optional, kept with the approval)</span>
            </label>
            <input
              id={`${baseId}-reason`}
              value={reason}
              maxLength={2000}
              onChange={(e) => setReason(e.target.value)}
              className="w-full rounded-md border border-slate-300 px-2 py-1.5"
              placeholder="e.g. softened the subject line"
            />
          </div>
          {error && (
            <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-red-800 ring-1 ring-red-200">
              {error}
            </p>
          )}
        </div>
      )}
    </Dialog>
  );
}
