"use client";

import { Check, Copy } from "lucide-react";
import { useId, useState } from "react";
import { Button } from "./primitives";
import { useToast } from "./toast";
import { Tooltip } from "./tooltip";

/** A credential shown once, right after it was made: read-only, selectable, with a copy button. */
export function SecretBox({ label, what, value, testId }: { label: string; what: string; value: string; testId: string }) {
  const id = useId();
  const toast = useToast();
  const [copied, setCopied] = useState(false);
  return (
    <div className="space-y-1 rounded-md bg-amber-50 px-3 py-2 ring-1 ring-amber-200" data-testid={testId}>
      <label htmlFor={id} className="block font-medium text-amber-900">
        {label}
      </label>
      <div className="flex gap-2">
        <input
          id={id}
          readOnly
          value={value}
          onFocus={(e) => e.currentTarget.select()}
          className="min-w-0 flex-1 rounded-md border border-slate-300 bg-white px-2 py-1.5 font-mono text-xs"
        />
        <Tooltip content={copied ? "Copied" : "Copy to the clipboard"}>
          <Button
            onClick={async () => {
              try {
                await navigator.clipboard.writeText(value);
                setCopied(true);
              } catch {
                // No clipboard permission (an insecure origin, a denied prompt): the field stays selectable.
                toast({ title: "Could not copy: select the text and copy it by hand.", tone: "error" });
              }
            }}
            aria-label={`Copy the ${what}`}
          >
            {copied ? <Check className="size-4" aria-hidden /> : <Copy className="size-4" aria-hidden />}
            {copied ? "Copied" : "Copy"}
          </Button>
        </Tooltip>
      </div>
    </div>
  );
}
