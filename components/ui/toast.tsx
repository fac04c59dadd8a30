"use client";

import * as RadixToast from "@radix-ui/react-toast";
import { CircleAlert, CircleCheck, X } from "lucide-react";
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";
import { cx } from "./primitives";

/**
 * Transient notices ("Kill switch turned on.") on @radix-ui/react-toast: announced through a live
 * region (polite for success, assertive for errors), paused while hovered or focused, dismissed
 * with Escape or the close button, reachable from the keyboard with F8. One provider in the app
 * shell; components call `useToast()(…)`. Notices that belong to a form (a field's error, a
 * conflict that reloaded the row) stay inline next to it — a toast is for "it happened".
 */

type Tone = "success" | "error";
interface ToastItem {
  id: number;
  title: string;
  description?: string;
  tone: Tone;
}

const ToastContext = createContext<((t: { title: string; description?: string; tone?: Tone }) => void) | null>(null);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<ToastItem[]>([]);
  const push = useCallback((t: { title: string; description?: string; tone?: Tone }) => {
    setItems((prev) => [...prev.slice(-2), { id: Date.now() + Math.random(), tone: "success", ...t }]);
  }, []);
  const remove = (id: number) => setItems((prev) => prev.filter((i) => i.id !== id));

  return (
    <ToastContext.Provider value={push}>
      <RadixToast.Provider swipeDirection="right" duration={6000} label="Notification">
        {children}
        {items.map((t) => (
          <RadixToast.Root
            key={t.id}
            type={t.tone === "error" ? "foreground" : "background"}
            onOpenChange={(open) => {
              if (!open) remove(t.id);
            }}
            data-testid="toast"
            className={cx(
              "flex items-start gap-2 rounded-md px-3 py-2 text-sm shadow-lg ring-1",
              t.tone === "success" ? "bg-white text-slate-900 ring-slate-200" : "bg-red-50 text-red-900 ring-red-200",
            )}
          >
            {t.tone === "success" ? (
              <CircleCheck className="mt-0.5 size-4 shrink-0 text-emerald-700" aria-hidden />
            ) : (
              <CircleAlert className="mt-0.5 size-4 shrink-0 text-red-700" aria-hidden />
            )}
            <div className="min-w-0 flex-1">
              <RadixToast.Title className="font-medium">{t.title}</RadixToast.Title>
              {t.description && <RadixToast.Description className="text-slate-700">{t.description}</RadixToast.Description>}
            </div>
            <RadixToast.Close aria-label="Dismiss notification" className="rounded p-0.5 text-slate-600 hover:bg-slate-100">
              <X className="size-4" aria-hidden />
            </RadixToast.Close>
          </RadixToast.Root>
        ))}
        <RadixToast.Viewport className="fixed right-4 bottom-4 z-[70] flex w-96 max-w-[calc(100vw-2rem)] flex-col gap-2 outline-none" />
      </RadixToast.Provider>
    </ToastContext.Provider>
  );
}

/** Show a toast. Outside the provider (a test rendering one component) it is a no-op by design. */
export function useToast() {
  const push = useContext(ToastContext);
  return useMemo(() => push ?? (() => {}), [push]);
}
