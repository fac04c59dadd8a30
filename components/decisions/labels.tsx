import { Ban, CircleCheck, CircleDashed, CircleX, Clock, Hourglass, Loader, SkipForward } from "lucide-react";
import type { ReactNode } from "react";
import { humanize } from "../labels";
import { Badge, type Tone } from "../ui/primitives";

/** Trigger types (SPEC §4.3) in words, with what opens a window of each. */
export const TRIGGER_LABEL: Record<string, { label: string; hint: string }> = {
  SIGNAL_ARRIVED: { label: "Signal arrived", hint: "A new signal for the account (email, usage, CRM change…)" },
  LIFECYCLE_STATE_CHANGE: { label: "Lifecycle change", hint: "Prospect → suspect → customer" },
  POSTURE_CHANGE: { label: "Posture change", hint: "OK, watch, at risk, expand, dormant" },
  TIME_RITUAL_DAILY_BRIEF: { label: "Daily brief", hint: "Scheduled ritual" },
  TIME_RITUAL_WEEKLY_REVIEW: { label: "Weekly review", hint: "Scheduled ritual" },
  TIME_RITUAL_RENEWAL_RUNWAY: { label: "Renewal runway", hint: "Scheduled ritual, customers only" },
};

export function triggerLabel(type: string) {
  return TRIGGER_LABEL[type]?.label ?? humanize(type);
}

/** Cost-gate and run reasons (engine/costGate.ts, services/decisions.ts) in words. */
const REASON_LABEL: Record<string, string> = {
  RUN_BUDGET_EXHAUSTED: "Daily run budget used up",
  TOKEN_BUDGET_EXHAUSTED: "Daily token budget used up",
  TOO_RECENT: "Too soon after the last run",
  ACTION_SATURATION: "Enough proposals already waiting",
  NO_NEW_EVIDENCE: "Nothing new since the last run",
  LOW_MARGINAL_VALUE: "Low value (only low-severity news, free tier)",
  WORTH_RUNNING: "Worth running",
  ADMISSION_LOCKED: "Another run holds the account",
  DUPLICATE_IDEMPOTENCY_KEY: "Duplicate — this run was already requested",
  INTERRUPTED: "Worker stopped mid-run",
  MODEL_TIMEOUT: "Model timed out",
  MODEL_ERROR: "Model error",
};

export function reasonText(code: string | null | undefined) {
  if (!code) return "—";
  return REASON_LABEL[code] ?? humanize(code);
}

type Look = { label: string; tone: Tone; icon: ReactNode };
const ic = "size-3.5";

const VERDICT: Record<string, Look> = {
  ALLOW: { label: "Allow", tone: "green", icon: <CircleCheck className={ic} aria-hidden /> },
  DEFER: { label: "Defer", tone: "amber", icon: <Hourglass className={ic} aria-hidden /> },
  SKIP: { label: "Skip", tone: "slate", icon: <SkipForward className={ic} aria-hidden /> },
};

const RUN_STATUS: Record<string, Look> = {
  RESERVED: { label: "Queued", tone: "blue", icon: <Clock className={ic} aria-hidden /> },
  RUNNING: { label: "Running", tone: "violet", icon: <Loader className={ic} aria-hidden /> },
  DEFERRED: { label: "Deferred", tone: "amber", icon: <Hourglass className={ic} aria-hidden /> },
  SKIPPED: { label: "Skipped", tone: "slate", icon: <SkipForward className={ic} aria-hidden /> },
  FAILED: { label: "Failed", tone: "red", icon: <CircleX className={ic} aria-hidden /> },
  SYNTHESIZED: { label: "Proposed", tone: "green", icon: <CircleCheck className={ic} aria-hidden /> },
};

export const JOB_STATUS: Record<string, Look & { hint: string }> = {
  QUEUED: { label: "Queued", tone: "blue", icon: <Clock className={ic} aria-hidden />, hint: "waiting for its run time or a worker" },
  LEASED: { label: "Leased", tone: "violet", icon: <Loader className={ic} aria-hidden />, hint: "a worker holds it right now" },
  DONE: { label: "Done", tone: "green", icon: <CircleCheck className={ic} aria-hidden />, hint: "finished" },
  FAILED: { label: "Failed", tone: "red", icon: <Ban className={ic} aria-hidden />, hint: "out of attempts, or failed for good" },
};

function LookBadge({ look, code, title }: { look: Look | undefined; code: string; title?: string }) {
  return (
    <Badge tone={look?.tone ?? "slate"} title={title}>
      {look?.icon ?? <CircleDashed className={ic} aria-hidden />} {look?.label ?? humanize(code)}
    </Badge>
  );
}

export function VerdictBadge({ result }: { result: string | null }) {
  if (!result) return <span className="text-slate-500">not yet</span>;
  return <LookBadge look={VERDICT[result]} code={result} />;
}

export function RunStatusBadge({ status }: { status: string }) {
  const title =
    status === "SYNTHESIZED"
      ? "The run finished and its proposals went through the autonomy gate"
      : status === "RESERVED"
        ? "Reserved, waiting for a worker"
        : undefined;
  return <LookBadge look={RUN_STATUS[status]} code={status} title={title} />;
}

export function JobStatusBadge({ status }: { status: string }) {
  const look = JOB_STATUS[status];
  return <LookBadge look={look} code={status} title={look?.hint} />;
}

export const VERDICT_LOOK = VERDICT;

/** "90 s", "5 min", "1 h 30 min", "2 d" — the number of seconds in words an admin reads at a glance. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  const s = Math.round(seconds);
  if (s < 120) return `${s} s`;
  if (s < 7_200) {
    const m = Math.floor(s / 60);
    const r = s % 60;
    return r ? `${m} min ${r} s` : `${m} min`;
  }
  if (s < 172_800) {
    const h = Math.floor(s / 3_600);
    const m = Math.round((s % 3_600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86_400);
  const h = Math.round((s % 86_400) / 3_600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** The largest whole unit only — "15 min", "2 h" — for tiles where the exact figure sits in a tooltip. */
export function durationShort(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

export function shortId(id: string, n = 8) {
  return id.length > n + 1 ? `${id.slice(0, n)}…` : id;
}

/**
 * The message and field of a tRPC error. Input-schema failures arrive as a JSON list of zod
 * issues; the first issue's message is what a person should read.
 */
export function errorInfo(err: unknown): { message: string; field: string | null } {
  const e = err as { message?: unknown; data?: { field?: unknown } } | null;
  const field = typeof e?.data?.field === "string" ? e.data.field : null;
  let message = typeof e?.message === "string" ? e.message : "Something went wrong";
  if (message.trimStart().startsWith("[")) {
    try {
      const issues = JSON.parse(message) as { message?: string }[];
      if (issues[0]?.message) message = issues[0].message;
    } catch {
      // not JSON after all: show it as it is
    }
  }
  return { message, field };
}
