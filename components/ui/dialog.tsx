"use client";

import * as RadixDialog from "@radix-ui/react-dialog";
import { X } from "lucide-react";
import { type ReactNode, useEffect, useId, useRef, useState } from "react";
import { Button, cx } from "./primitives";

/**
 * A modal on @radix-ui/react-dialog (maintained, WAI-ARIA dialog pattern): focus is trapped inside
 * and the page behind is inert for assistive tech; Escape and the close button call `onClose`.
 * Focus goes to the control with `autoFocus` (React focuses it as the content mounts, and Radix
 * keeps focus that is already inside), else to the first focusable one, and returns to whatever
 * had focus before it opened. Controlled only: the parent owns `open`, as before.
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
  // Radix returns focus to its own Trigger; these dialogs are opened by the parent's state (a
  // select's change, a row's button), so remember what had focus in the render that opens it —
  // before Radix or an autoFocus field moves focus — and give it back on close.
  const opener = useRef<HTMLElement | null>(null);
  const wasOpen = useRef(false);
  if (open && !wasOpen.current && typeof document !== "undefined")
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  wasOpen.current = open;

  return (
    <RadixDialog.Root
      open={open}
      onOpenChange={(next) => {
        if (!next) onClose();
      }}
    >
      <RadixDialog.Portal>
        <RadixDialog.Overlay className="fixed inset-0 z-40 bg-slate-900/40" />
        <RadixDialog.Content
          // Without a description there is nothing to describe the dialog by; say so to Radix.
          {...(description ? {} : { "aria-describedby": undefined })}
          onCloseAutoFocus={(e) => {
            e.preventDefault();
            const el = opener.current;
            opener.current = null;
            if (el?.isConnected) el.focus();
          }}
          className={cx(
            "fixed top-1/2 left-1/2 z-50 flex max-h-[85vh] w-[calc(100%-2rem)] -translate-x-1/2 -translate-y-1/2 flex-col rounded-lg border border-slate-200 bg-white text-sm text-slate-900 shadow-xl focus:outline-none",
            { sm: "max-w-md", md: "max-w-xl", lg: "max-w-3xl" }[size],
          )}
        >
          <header className="flex items-start justify-between gap-3 border-b border-slate-200 px-5 py-3">
            <div>
              <RadixDialog.Title className="text-base font-semibold">{title}</RadixDialog.Title>
              {description && <RadixDialog.Description className="mt-0.5 text-slate-600">{description}</RadixDialog.Description>}
            </div>
            <RadixDialog.Close aria-label="Close dialog" className="rounded p-1 text-slate-600 hover:bg-slate-100">
              <X className="size-4" aria-hidden />
            </RadixDialog.Close>
          </header>
          <div className="min-h-0 flex-1 overflow-y-auto px-5 py-4">{children}</div>
          {footer && (
            <footer className="flex flex-wrap items-center justify-end gap-2 border-t border-slate-200 bg-slate-50 px-5 py-3">
              {footer}
            </footer>
          )}
        </RadixDialog.Content>
      </RadixDialog.Portal>
    </RadixDialog.Root>
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
