import { Ban, Bot, Hand } from "lucide-react";
import type { ReactNode } from "react";
import { humanize } from "../../labels";
import { Badge, type Tone } from "../../ui/primitives";
import { formatValue, orderParams } from "../labels";

const DECISION: Record<string, { label: string; tone: Tone; icon: ReactNode }> = {
  AUTO_EXECUTE: { label: "Auto-execute", tone: "blue", icon: <Bot className="size-3.5" aria-hidden /> },
  REQUIRE_APPROVAL: { label: "Needs a person's approval", tone: "amber", icon: <Hand className="size-3.5" aria-hidden /> },
  BLOCK: { label: "Blocked", tone: "red", icon: <Ban className="size-3.5" aria-hidden /> },
};

export function DecisionBadge({ decision }: { decision: string | null }) {
  if (!decision) return <span className="text-slate-500">not decided yet</span>;
  const d = DECISION[decision];
  return (
    <Badge tone={d?.tone ?? "slate"}>
      {d?.icon}
      {d?.label ?? humanize(decision)}
    </Badge>
  );
}

export function Fields({ children }: { children: ReactNode }) {
  return <dl className="grid grid-cols-[10rem_minmax(0,1fr)] gap-x-4 gap-y-2 px-4 py-3">{children}</dl>;
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt className="text-slate-500">{label}</dt>
      <dd className="min-w-0 text-slate-900">{children}</dd>
    </>
  );
}

export function Mono({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <code title={title} className="rounded bg-slate-100 px-1 font-mono text-xs text-slate-700 [overflow-wrap:anywhere]">
      {children}
    </code>
  );
}

export function SubHeading({ children }: { children: ReactNode }) {
  return <h3 className="border-t border-slate-100 px-4 pt-3 text-xs font-semibold uppercase tracking-wide text-slate-500">{children}</h3>;
}

export function ParamTable({ params }: { params: unknown }) {
  const entries = params && typeof params === "object" ? orderParams(params as Record<string, unknown>) : [];
  if (entries.length === 0) return <span className="text-slate-500">none</span>;
  return (
    <dl className="grid grid-cols-[max-content_minmax(0,1fr)] gap-x-3 gap-y-0.5 rounded-md bg-slate-50 px-3 py-2 text-xs ring-1 ring-slate-200 ring-inset">
      {entries.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="font-mono text-slate-500">{k}</dt>
          <dd className="whitespace-pre-wrap break-words">{formatValue(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Diff({ diff }: { diff: unknown }) {
  const entries = diff && typeof diff === "object" ? Object.entries(diff as Record<string, { before?: unknown; after?: unknown }>) : [];
  if (entries.length === 0) return null;
  return (
    <table className="mt-1 w-full table-fixed text-left text-xs">
      <thead className="text-slate-500">
        <tr>
          <th className="w-28 py-0.5 font-medium">Field</th>
          <th className="py-0.5 font-medium">Before</th>
          <th className="py-0.5 font-medium">After</th>
        </tr>
      </thead>
      <tbody className="align-top">
        {entries.map(([k, d]) => (
          <tr key={k}>
            <td className="py-0.5 pr-2 font-mono">{k}</td>
            <td className="py-0.5 pr-2">
              <del className="block whitespace-pre-wrap break-words rounded bg-red-50 px-1.5 py-0.5 text-red-900 ring-1 ring-red-200">
                − {formatValue(d?.before)}
              </del>
            </td>
            <td className="py-0.5">
              <ins className="block whitespace-pre-wrap break-words rounded bg-emerald-50 px-1.5 py-0.5 text-emerald-900 no-underline ring-1 ring-emerald-200">
                + {formatValue(d?.after)}
              </ins>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
