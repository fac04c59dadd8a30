"use client";

import * as RadixPopover from "@radix-ui/react-popover";
import { X } from "lucide-react";
import type { ReactElement, ReactNode } from "react";
import { Tooltip } from "./tooltip";

/**
 * A small non-modal panel anchored to a button, on @radix-ui/react-popover: the trigger carries
 * aria-expanded / aria-controls, focus moves into the panel when it opens and back to the trigger
 * when it closes, Escape and a click outside close it. `trigger` must be a button element; an
 * icon-only trigger passes `hint`, shown as a tooltip on hover and focus.
 */
export function Popover({ trigger, title, hint, children }: { trigger: ReactElement; title: string; hint?: string; children: ReactNode }) {
  const button = <RadixPopover.Trigger asChild>{trigger}</RadixPopover.Trigger>;
  return (
    <RadixPopover.Root>
      {hint ? <Tooltip content={hint}>{button}</Tooltip> : button}
      <RadixPopover.Portal>
        <RadixPopover.Content
          aria-label={title}
          side="bottom"
          align="start"
          sideOffset={6}
          collisionPadding={12}
          className="z-50 w-80 rounded-lg border border-slate-200 bg-white p-3 text-sm text-slate-800 shadow-lg focus:outline-none"
        >
          <div className="mb-1 flex items-start justify-between gap-2">
            <h3 className="font-semibold text-slate-900">{title}</h3>
            <RadixPopover.Close aria-label={`Close: ${title}`} className="rounded p-0.5 text-slate-600 hover:bg-slate-100">
              <X className="size-4" aria-hidden />
            </RadixPopover.Close>
          </div>
          {children}
          <RadixPopover.Arrow className="fill-white" />
        </RadixPopover.Content>
      </RadixPopover.Portal>
    </RadixPopover.Root>
  );
}
