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
