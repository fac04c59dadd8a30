"use client";

import * as RadixTooltip from "@radix-ui/react-tooltip";
import type { ReactElement, ReactNode } from "react";

/**
 * A hint for an icon-only control, on @radix-ui/react-tooltip: shown on hover and on keyboard
 * focus (a `title=` attribute shows on hover only, after a long delay, and never to keyboard
 * users), dismissed with Escape. The child must be a focusable element that forwards its ref; its
 * accessible name stays its own `aria-label` — the tooltip is a visual echo, not the name.
 */
export function Tooltip({
  content,
  children,
  side = "top",
}: {
  content: ReactNode;
  children: ReactElement;
  side?: "top" | "bottom" | "left" | "right";
}) {
  return (
    <RadixTooltip.Provider delayDuration={300}>
      <RadixTooltip.Root>
        <RadixTooltip.Trigger asChild>{children}</RadixTooltip.Trigger>
        <RadixTooltip.Portal>
          <RadixTooltip.Content side={side} sideOffset={4} className="z-[60] rounded bg-slate-900 px-2 py-1 text-xs text-white shadow-md">
            {content}
            <RadixTooltip.Arrow className="fill-slate-900" />
          </RadixTooltip.Content>
        </RadixTooltip.Portal>
      </RadixTooltip.Root>
    </RadixTooltip.Provider>
  );
}
