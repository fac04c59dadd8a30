import { z } from "zod";
import { AutonomyMode } from "./autonomy";
import { Cursor, wholeIn } from "./common";

const Id = z.string().min(1).max(64);
const IsoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

/** The longest period one what-if replays (SPEC §4.8 "the last N days"): bounded work per request. */
export const WHAT_IF_MAX_DAYS = 92;
export const MAX_CHANGES = 50;
/** Log-only proposals running at once per tenant: each one adds a row to every gate evaluation. */
export const MAX_ACTIVE_PROPOSALS = 3;

/**
 * One proposed configuration change (SPEC §5.1 what-if). The action type is checked against the
 * registry by the service (422 naming `changes.<i>.action_type`), not here, so an unknown type
 * reads as a rejected proposal rather than a malformed body.
 */
export const PolicyChangeBody = z
  .object({
    account_id: Id.optional(),
    action_type: z.string().min(1).max(64).optional(),
    mode: AutonomyMode.optional(),
    allowlist: z.boolean().optional(),
    max_autonomous_per_day: wholeIn(0, 10_000).optional(),
  })
  .strict();
export type PolicyChangeBody = z.infer<typeof PolicyChangeBody>;

const Changes = z.array(PolicyChangeBody).min(1).max(MAX_CHANGES);

/** `POST /api/v1/autonomy/what-if` */
export const WhatIfBody = z.object({ changes: Changes, from: IsoDate, to: IsoDate }).strict();
export type WhatIfBody = z.infer<typeof WhatIfBody>;

/** `POST /api/v1/autonomy/policy-proposals`: start log-only mode for a change list. */
export const ProposalStartBody = z.object({ name: z.string().trim().min(1).max(120), changes: Changes }).strict();
export type ProposalStartBody = z.infer<typeof ProposalStartBody>;

/** enforce / discard; enforcing a change that widens autonomy needs the reason */
export const ProposalEndBody = z.object({ reason: z.string().trim().min(3).max(500).optional() }).strict();

export const ProposalIdParam = z.object({ id: Id });
export const ProposalReportQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: Cursor.optional(),
});
export const ProposalReportInput = z.object({ id: Id, limit: z.number().int().min(1).max(200).default(50), cursor: Cursor.optional() });
export const ProposalEndInput = ProposalEndBody.extend({ id: Id });
