import { z } from "zod";
import { APPROVAL_FALLBACKS, APPROVAL_TTL_HOURS } from "../engine/approvals";

const TtlHours = z.number().int().min(APPROVAL_TTL_HOURS.min).max(APPROVAL_TTL_HOURS.max);

/** tRPC and the admin card: camelCase, every field optional (a patch). */
export const ApprovalSettingsPatch = z
  .object({ ttlHours: TtlHours.optional(), fallback: z.enum(APPROVAL_FALLBACKS).optional(), notifyWebhook: z.boolean().optional() })
  .strict();

/** REST: snake_case (SPEC §5.1). */
export const ApprovalSettingsPutBody = z
  .object({ ttl_hours: TtlHours.optional(), fallback: z.enum(APPROVAL_FALLBACKS).optional(), notify_webhook: z.boolean().optional() })
  .strict();

/** A decision through a one-time link; a rejection's reason is optional (the link holder may say nothing). */
export const ApprovalLinkBody = z
  .object({ decision: z.enum(["approve", "reject"]), reason: z.string().trim().min(1).max(2000).optional() })
  .strict();
