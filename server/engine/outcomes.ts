import { ACTION_TYPE_NAMES, ACTION_TYPES, type ActionType } from "./actions";

/**
 * The outcome taxonomy (SPEC §3, §4.5) and what the learning loop reads from it. Pure.
 *
 * SPEC's six labels are the contract; three extensions make every decided intent end in exactly
 * one recorded story: a reply that closed an outreach's response window (RESPONSE_RECEIVED), and
 * ideas that never reached a human or an execution — blocked by policy (IDEA_BLOCKED) or left to
 * expire (IDEA_EXPIRED).
 */
export const OUTCOME_LABELS = [
  "IDEA_REJECTED",
  "IDEA_EDITED",
  "EXECUTION_FAILED",
  "EXECUTION_SUCCEEDED",
  "NO_RESPONSE",
  "NEGATIVE_RESPONSE",
  // Extensions beyond SPEC §3 (additive).
  "RESPONSE_RECEIVED",
  "IDEA_BLOCKED",
  "IDEA_EXPIRED",
] as const;
export type OutcomeLabel = (typeof OUTCOME_LABELS)[number];

/** The labels that close an outreach's response window. */
export const RESPONSE_LABELS = ["RESPONSE_RECEIVED", "NEGATIVE_RESPONSE", "NO_RESPONSE"] as const satisfies readonly OutcomeLabel[];

/**
 * What one human-judged proposal teaches the ranker: 1 = worth doing (the seller took it, with or
 * without edits, and nothing said otherwise), 0 = not (rejected, left to expire, or the outreach
 * it led to met silence or a refusal), null = no lesson about the idea (the policy decided it
 * alone, or it was blocked). A failed execution of an approved idea still counts as approved: a
 * connector outage says nothing about whether the seller wanted it.
 *
 * What the recipient did outweighs what the seller did: an approved email that bounced is a 0.
 */
export function trainingLabel(labels: readonly string[], autoExecuted: boolean): 0 | 1 | null {
  const has = (l: OutcomeLabel) => labels.includes(l);
  if (has("NEGATIVE_RESPONSE") || has("NO_RESPONSE")) return 0;
  if (has("RESPONSE_RECEIVED")) return 1;
  if (autoExecuted) return null;
  if (has("IDEA_REJECTED") || has("IDEA_EXPIRED")) return 0;
  if (has("IDEA_EDITED") || has("EXECUTION_SUCCEEDED") || has("EXECUTION_FAILED")) return 1;
  return null;
}

// ───────────── normalisation: the label every decided intent must end with ─────────────

/** Statuses of an intent that still waits for someone: not decided, so no outcome is due yet. */
export const UNDECIDED_STATUSES = ["PROPOSED", "PENDING_APPROVAL"] as const;

/**
 * The outcome a decided intent's status implies. EXPIRED is the status a pending intent nobody
 * decided ends in (added by a later change); handled here so it is labelled the day it appears.
 */
export const LABEL_FOR_STATUS = {
  BLOCKED: "IDEA_BLOCKED",
  REJECTED: "IDEA_REJECTED",
  SUPERSEDED: "IDEA_EDITED",
  EXPIRED: "IDEA_EXPIRED",
  SUCCEEDED: "EXECUTION_SUCCEEDED",
  FAILED: "EXECUTION_FAILED",
} as const satisfies Record<string, OutcomeLabel>;
export type LabelledStatus = keyof typeof LABEL_FOR_STATUS;

function isLabelledStatus(s: string): s is LabelledStatus {
  return Object.hasOwn(LABEL_FOR_STATUS, s);
}

export interface IntentFacts {
  status: string;
  /** labels already recorded on this intent (not on its other versions) */
  labels: readonly string[];
  /** its original (non-replay) execution, if one was started */
  execution: { id: string; status: string } | null;
}

export type LabelVerdict =
  /** still waiting for a decision: nothing is due */
  | { kind: "UNDECIDED" }
  /** the label its status implies is recorded */
  | { kind: "COMPLETE" }
  /** decided, and this label is due but missing */
  | { kind: "RECORD"; label: OutcomeLabel; executionId: string | null }
  /**
   * decided, but no label follows from what is stored (APPROVED / EXECUTING / AUTO_APPROVED that
   * never finished, or a terminal status its execution contradicts): never guessed — it becomes a
   * normalisation gap if it stays without any outcome.
   */
  | { kind: "UNKNOWN" };

/**
 * The outcome label an intent should have but does not. An execution outcome is only due when the
 * intent's own execution ended the same way its status says: the label then rests on a fact.
 */
export function missingLabel(i: IntentFacts): LabelVerdict {
  if ((UNDECIDED_STATUSES as readonly string[]).includes(i.status)) return { kind: "UNDECIDED" };
  if (!isLabelledStatus(i.status)) return { kind: "UNKNOWN" };
  const label = LABEL_FOR_STATUS[i.status];
  if (i.labels.includes(label)) return { kind: "COMPLETE" };
  if (i.status === "SUCCEEDED" || i.status === "FAILED") {
    if (i.execution?.status !== i.status) return { kind: "UNKNOWN" };
    return { kind: "RECORD", label, executionId: i.execution.id };
  }
  return { kind: "RECORD", label, executionId: null };
}

/** Decisions on or before this instant are overdue for an outcome. */
export function gapCutoff(now: Date, afterHours: number): Date {
  return new Date(now.getTime() - afterHours * 3_600_000);
}

/**
 * A normalisation gap: decided, still without any outcome, `afterHours` or more after its
 * decision (exactly at the mark counts: "after N hours" has begun).
 */
export function inGap(i: { status: string; decidedAt: Date | null; outcomes: number }, now: Date, afterHours: number): boolean {
  if (i.decidedAt === null || i.outcomes > 0) return false;
  if ((UNDECIDED_STATUSES as readonly string[]).includes(i.status)) return false;
  return i.decidedAt.getTime() <= gapCutoff(now, afterHours).getTime();
}

// ───────────── response windows on outreach ─────────────

/** Action types that contact someone outside: the ones whose success opens a response window. */
export const OUTREACH_ACTION_TYPES: readonly ActionType[] = ACTION_TYPE_NAMES.filter((t) => ACTION_TYPES[t].externalContact);

/** Signal types that answer an outreach (engine/signals.ts). */
export const RESPONSE_SIGNAL_TYPES = ["EMAIL_REPLY_RECEIVED", "MEETING_BOOKED", "EMAIL_BOUNCED", "UNSUBSCRIBED"] as const;

export type ResponseLabel = (typeof RESPONSE_LABELS)[number];

export interface ResponseSignal {
  id: string;
  type: string;
  occurredAt: Date;
  /** the signal's evidence as stored (parsed) */
  evidence: unknown;
}

/**
 * What one signal says about the outreach: a reply or a booked meeting is a response, unless the
 * reply's evidence marks it a refusal; a bounce or an unsubscribe is a negative response.
 */
export function responseLabelOf(s: { type: string; evidence: unknown }): Exclude<ResponseLabel, "NO_RESPONSE"> | null {
  switch (s.type) {
    case "EMAIL_REPLY_RECEIVED": {
      const e = s.evidence;
      const negative = typeof e === "object" && e !== null && !Array.isArray(e) && (e as Record<string, unknown>).sentiment === "negative";
      return negative ? "NEGATIVE_RESPONSE" : "RESPONSE_RECEIVED";
    }
    case "MEETING_BOOKED":
      return "RESPONSE_RECEIVED";
    case "EMAIL_BOUNCED":
    case "UNSUBSCRIBED":
      return "NEGATIVE_RESPONSE";
    default:
      return null;
  }
}

/** The window [start, end): it opens when the outreach went out and lasts `days` whole days. */
export function responseWindowEnd(start: Date, days: number): Date {
  return new Date(start.getTime() + days * 86_400_000);
}

export type ResponseVerdict =
  | { label: "RESPONSE_RECEIVED" | "NEGATIVE_RESPONSE"; signal: ResponseSignal; windowEnd: Date }
  | { label: "NO_RESPONSE"; signal: null; windowEnd: Date };

/**
 * How an outreach's response window closed, or null while it is still open with no answer. The
 * first response signal inside the window (by occurredAt, then id) decides; one exactly at the
 * window's end is outside it, and at that instant the window has ended.
 */
export function responseOutcome(
  window: { start: Date; days: number },
  now: Date,
  signals: readonly ResponseSignal[],
): ResponseVerdict | null {
  const start = window.start.getTime();
  const windowEnd = responseWindowEnd(window.start, window.days);
  const end = windowEnd.getTime();
  let first: { signal: ResponseSignal; label: Exclude<ResponseLabel, "NO_RESPONSE"> } | null = null;
  for (const signal of signals) {
    const at = signal.occurredAt.getTime();
    const label = responseLabelOf(signal);
    if (label === null || at < start || at >= end) continue;
    const seen = first?.signal.occurredAt.getTime();
    if (seen === undefined || at < seen || (at === seen && signal.id < (first?.signal.id ?? ""))) first = { signal, label };
  }
  if (first) return { label: first.label, signal: first.signal, windowEnd };
  return now.getTime() >= end ? { label: "NO_RESPONSE", signal: null, windowEnd } : null;
}
