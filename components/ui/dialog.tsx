"use client";

import { X } from "lucide-react";
import { type ReactNode, useEffect, useId, useRef, useState } from "react";
import { Button, cx } from "./primitives";

/**
 * A modal built on the native `<dialog>`: `showModal()` gives the focus trap, inert background and
 * Escape for free. Focus goes to the first `autoFocus` control (or the first focusable one) and
 * returns to whatever opened the dialog when it closes.
 */
export function Dialog({
  open,
  onClose,
  title,
  description,
  children,
  footer,
  size = "md",
}: {
  open: boolean;
  onClose: () => void;
  title: ReactNode;
  description?: ReactNode;
  children?: ReactNode;
  footer?: ReactNode;
  size?: "sm" | "md" | "lg";
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const titleId = useId();
  const descId = useId();

  useEffect(() => {
    const d = ref.current;
    if (!d || !open) return;
    if (!d.open) {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      d.showModal();
    }
    // Runs when `open` turns false and on unmount, so every close path gives focus back.
    return () => {
      if (d.open) d.close();
      const el = opener.current;
      opener.current = null;
      if (el?.isConnected) el.focus();
    };
  }, [open]);

  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      aria-describedby={description ? descId : undefined}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      className={cx(
        "m-auto w-[calc(100%-2rem)] rounded-lg border border-slate-200 bg-white p-0 text-sm text-slate-900 shadow-xl backdrop:bg-slate-900/40",
        { sm: "max-w-md", md: "max-w-xl", lg: "max-w-3xl" }[size],
      )}
    >
      {open && (
        <div className="flex max-h-[85vh] flex-col">
          <header className="flex items-start justify-between gap-3 border-b border-slate-200 px-5 py-3">
            <div>
              <h2 id={titleId} className="text-base font-semibold">
                {title}
              </h2>
              {description && (
                <p id={descId} className="mt-0.5 text-slate-600">
                  {description}
                </p>
              )}
            </div>
            <button type="button" onClick={onClose} aria-label="Close dialog" className="rounded p-1 text-slate-500 hover:bg-slate-100">
              <X className="size-4" aria-hidden />
            </button>
          </header>
          <div className="min-h-0 flex-1 overflow-y-auto px-5 py-4">{children}</div>
          {footer && (
            <footer className="flex flex-wrap items-center justify-end gap-2 border-t border-slate-200 bg-slate-50 px-5 py-3">
              {footer}
            </footer>
          )}
        </div>
      )}
    </dialog>
  );
}

/**
 * Confirm a destructive or autonomy-widening change with a typed reason (STYLE: "confirm with a
 * reason"). `onConfirm` gets the trimmed reason; the dialog stays open until the parent closes it.
 */
export function ReasonDialog({
  open,
  onClose,
  onConfirm,
  title,
  description,
  children,
  confirmLabel,
  tone = "primary",
  minLength = 1,
  pending = false,
  error,
  reasonLabel = "Reason",
  placeholder,
  hint = "Kept in the ledger with your name.",
}: {
  open: boolean;
  onClose: () => void;
  onConfirm: (reason: string) => void;
  title: ReactNode;
  description?: ReactNode;
  children?: ReactNode;
  confirmLabel: string;
  tone?: "primary" | "danger";
  minLength?: number;
  pending?: boolean;
  error?: string | null;
  reasonLabel?: string;
  placeholder?: string;
  hint?: string;
}) {
  const [reason, setReason] = useState("");
  const fieldId = useId();
  const hintId = useId();
  useEffect(() => {
    if (open) setReason("");
  }, [open]);
  const ok = reason.trim().length >= minLength;
  const formId = useId();

  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={title}
      description={description}
      size="sm"
      footer={
        <>
          <Button variant="ghost" onClick={onClose} disabled={pending}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant={tone} disabled={!ok || pending}>
            {pending ? "Working…" : confirmLabel}
          </Button>
        </>
      }
    >
      <form
        id={formId}
        onSubmit={(e) => {
          e.preventDefault();
          if (ok && !pending) onConfirm(reason.trim());
        }}
        className="space-y-3"
      >
        {children}
        <div>
          <label htmlFor={fieldId} className="mb-1 block font-medium text-slate-700">
            {reasonLabel} <span className="font-normal text-slate-500">(required)</span>
          </label>
          <textarea
            id={fieldId}
            autoFocus
            required
            minLength={minLength}
            maxLength={500}
            rows={3}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            aria-describedby={hintId}
            placeholder={placeholder}
            className="w-full rounded-md border border-slate-300 px-2 py-1.5"
          />
          <p id={hintId} className="mt-1 text-xs text-slate-500">
            {minLength > 1 ? `At least ${minLength} characters. ` : ""}
            {hint}
          </p>
        </div>
        {error && (
          <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-red-800 ring-1 ring-red-200">
            {error}
          </p>
        )}
      </form>
    </Dialog>
  );
}
