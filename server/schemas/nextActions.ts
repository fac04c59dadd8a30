import { z } from "zod";
import { Cursor } from "./common";

/** "What should I do next" (SPEC §4.5, §5.1 `GET /api/v1/next-actions`). */

const Id = z.string().min(1).max(64);

/** REST query: text in, coerced and bounded, naming the field on failure. */
export const RestNextActionsQuery = z.object({
  account_id: Id.optional(),
  owner_id: Id.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: Cursor.optional(),
});

export const NextActionsInput = z.object({
  accountId: Id.optional(),
  ownerId: Id.optional(),
  limit: z.number().int().min(1).max(100).default(25),
  cursor: Cursor.optional(),
});

export const RankedBy = z.object({
  weights_id: z.string(),
  version: z.number().int(),
  scope: z.enum(["TENANT", "GLOBAL"]),
});

export const NextActionItem = z.object({
  action_intent_id: z.string(),
  account_id: z.string(),
  account_name: z.string(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  action_type: z.string(),
  /** the proposal's reason codes, as the synthesizer or the external engine gave them */
  why: z.array(z.string()),
  /** the proposal's own confidence: the policy's input, never changed by learning */
  confidence: z.number(),
  /** the ACTIVE ranker's score (the rules rank when no weights are active) */
  rank_score: z.number(),
  /** the rules ranking the proposal was given when it was made */
  rules_rank: z.number(),
  /** the calibrated confidence to show (the proposal's own when no weights are active) */
  display_confidence: z.number(),
  /** the version of the weights that ranked it; null = the rules ranking */
  weights_version: z.number().int().nullable(),
  weights_id: z.string().nullable(),
  created_at: z.date(),
});

export const NextActionsOutput = z.object({
  items: z.array(NextActionItem),
  next_cursor: z.string().nullable(),
  /** null: no learned weights are ACTIVE for the tenant or GLOBAL, the rules ranking ranks */
  ranked_by: RankedBy.nullable(),
  /** true when more open proposals exist than the feed ranks (the newest CANDIDATE_CAP are ranked) */
  capped: z.boolean(),
});
export type NextActionsOutput = z.infer<typeof NextActionsOutput>;

/** The inbox's orders: newest first (the default), or the feed's ranking ("Suggested order"). */
export const InboxSort = z.enum(["newest", "suggested"]);
export type InboxSort = z.infer<typeof InboxSort>;
