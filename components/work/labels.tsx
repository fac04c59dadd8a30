"use client";

import { useQuery } from "@tanstack/react-query";
import { Ban, Bot, CircleX, Loader, PencilLine, TriangleAlert, UserCheck } from "lucide-react";
import type { ReactNode } from "react";
import { humanize } from "../labels";
import { useTRPC } from "../trpc";
import { Badge, type Tone } from "../ui/primitives";

/** Reason codes (SPEC §4.1, closed enum) in words a seller reads at a glance. */
const REASON_LABEL: Record<string, string> = {
  UNKNOWN_ACTION_TYPE: "Unknown action type",
  KILL_SWITCH_ACTIVE: "Kill switch on",
  ACTION_TYPE_NOT_ALLOWLISTED: "Not on the autopilot allowlist",
  ACTION_TYPE_DISABLED: "Action type disabled",
  MODE_PROPOSE_ONLY: "Propose-only mode",
  MODE_APPROVAL_REQUIRED: "Approval required by mode",
  EXTERNAL_CONTACT: "Contacts the customer",
  RISK_LEVEL_HIGH: "High risk",
  RISK_LEVEL_MEDIUM: "Medium risk",
  BLOCKING_UNKNOWNS: "Open questions",
  CONFIDENCE_BELOW_THRESHOLD: "Confidence below threshold",
  TENANT_POLICY: "Workspace policy",
  BUDGET_EXHAUSTED: "Today's autopilot budget is used up",
  GATE_ERROR: "Could not be evaluated — left for a person",
  POLICY_SATISFIED: "Policy satisfied",
  NOT_OPTED_IN: "Always-on autonomy not switched on",
};

export function reasonLabel(code: string | null | undefined) {
  if (!code) return "—";
  return REASON_LABEL[code] ?? humanize(code);
}

export const MODE_LABEL: Record<string, string> = {
  PROPOSE_ONLY: "Propose only",
  APPROVAL_REQUIRED: "Approval required",
  AUTO_EXECUTE: "Auto-execute",
  DISABLED: "Disabled",
};

export const MODE_SOURCE_LABEL: Record<string, string> = {
  ACCOUNT_TYPE: "account override for this type",
  TENANT_TYPE: "workspace setting for this type",
  ACCOUNT_DEFAULT: "account default",
  TENANT_DEFAULT: "workspace default",
  GLOBAL_DEFAULT: "global default",
};

const RISK_TONE: Record<string, Tone> = { MINIMAL: "slate", LOW: "green", MEDIUM: "amber", HIGH: "red" };

export function RiskBadge({ risk }: { risk: string }) {
  return <Badge tone={RISK_TONE[risk] ?? "slate"}>{humanize(risk)} risk</Badge>;
}

export function pct(x: number) {
  return `${Math.round(x * 100)}%`;
}

export function ConfidenceBadge({ value }: { value: number }) {
  return (
    <Badge title={`Model confidence ${value.toFixed(3)}`}>
      <span className="tabular-nums">{pct(value)}</span> confidence
    </Badge>
  );
}

/** Action-type registry, fetched once per session: labels, risk, class, whether it may ever auto-run. */
export function useRegistry() {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.autonomy.registry.queryOptions(), staleTime: Number.POSITIVE_INFINITY });
  const byName = new Map((q.data?.actionTypes ?? []).map((t) => [t.name, t]));
  return {
    query: q,
    types: q.data?.actionTypes ?? [],
    modes: q.data?.modes ?? [],
    label: (name: string) => byName.get(name)?.label ?? humanize(name),
    spec: (name: string) => byName.get(name),
  };
}

/** Whether an action type can ever auto-execute, and why not, in words. */
export function neverAutonomousReason(t: { mayAutoExecute: boolean; externalContact: boolean; class: string; risk: string }) {
  if (t.mayAutoExecute) return null;
  if (t.externalContact) return "Contacts customers — a person always approves";
  if (t.class === "commercial") return "Commercial change — a person always approves";
  if (t.class === "crm_write") return "Writes to the CRM — a person always approves";
  return `${humanize(t.risk)} risk — a person always approves`;
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

const FIRST = ["to", "cc", "subject", "title"];

/** Who and what first (to, subject, title), then the rest in stored order. */
export function orderParams(p: Record<string, unknown>) {
  const rank = (k: string) => (FIRST.includes(k) ? FIRST.indexOf(k) : FIRST.length);
  return Object.entries(p).sort(([a], [b]) => rank(a) - rank(b));
}

type TimelineItem = {
  status: string;
  parentId: string | null;
  execution: { autoExecuted: boolean; approvalSource: string } | null;
};

export interface ActorKind {
  key: "autopilot" | "person" | "edited" | "blocked" | "rejected" | "failed" | "running" | "superseded";
  label: string;
  icon: ReactNode;
  tone: Tone;
  /** who acted, spelled out when the label alone does not say it */
  detail?: string;
}

const ic = "size-3.5";

/** Who acted on a decided intent — always a word and an icon, never colour alone. */
export function actorKind(i: TimelineItem): ActorKind {
  const auto = i.execution?.autoExecuted ?? false;
  const by = auto ? "auto-executed by Autopilot" : i.parentId ? "edited & approved by a person" : "approved by a person";
  switch (i.status) {
    case "BLOCKED":
      return { key: "blocked", label: "Blocked", icon: <Ban className={ic} aria-hidden />, tone: "red", detail: "stopped by policy" };
    case "REJECTED":
      return { key: "rejected", label: "Rejected", icon: <CircleX className={ic} aria-hidden />, tone: "slate", detail: "by a person" };
    case "SUPERSEDED":
      return {
        key: "superseded",
        label: "Edited",
        icon: <PencilLine className={ic} aria-hidden />,
        tone: "violet",
        detail: "replaced by an edited version",
      };
    case "FAILED":
      return { key: "failed", label: "Failed", icon: <TriangleAlert className={ic} aria-hidden />, tone: "amber", detail: by };
    case "EXECUTING":
      return { key: "running", label: "Running", icon: <Loader className={ic} aria-hidden />, tone: "blue", detail: by };
    default:
      if (auto)
        return {
          key: "autopilot",
          label: "Autopilot",
          icon: <Bot className={ic} aria-hidden />,
          tone: "blue",
          detail: "done automatically",
        };
      if (i.parentId)
        return {
          key: "edited",
          label: "Edited & approved",
          icon: <UserCheck className={ic} aria-hidden />,
          tone: "green",
          detail: "by a person",
        };
      return { key: "person", label: "Approved by a person", icon: <UserCheck className={ic} aria-hidden />, tone: "green" };
  }
}
