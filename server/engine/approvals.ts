/**
 * Approvals that behave (SPEC §4.6): a request waits at most the tenant's TTL, then follows the
 * configured fallback — REJECT (the intent ends EXPIRED) or ESCALATE (it stays waiting, handed
 * to an admin, and does not expire again). Pure: the `approvals-expiry` job and the inbox's
 * countdown both ask this module, with the clock passed in.
 */

export const APPROVAL_FALLBACKS = ["REJECT", "ESCALATE"] as const;
export type ApprovalFallback = (typeof APPROVAL_FALLBACKS)[number];

export interface ApprovalSettingsValue {
  ttlHours: number;
  fallback: ApprovalFallback;
  notifyWebhook: boolean;
}

export const DEFAULT_APPROVAL_SETTINGS: ApprovalSettingsValue = { ttlHours: 72, fallback: "REJECT", notifyWebhook: false };

/** Bounds an admin may set: at least an hour, at most 30 days. */
export const APPROVAL_TTL_HOURS = { min: 1, max: 24 * 30 } as const;

/** Stored settings as read (a row or nothing); a value out of bounds reads as the default. */
export function readApprovalSettings(row: { ttlHours: number; fallback: string; notifyWebhook: boolean } | null): ApprovalSettingsValue {
  if (!row) return DEFAULT_APPROVAL_SETTINGS;
  const ttlOk = Number.isInteger(row.ttlHours) && row.ttlHours >= APPROVAL_TTL_HOURS.min && row.ttlHours <= APPROVAL_TTL_HOURS.max;
  return {
    ttlHours: ttlOk ? row.ttlHours : DEFAULT_APPROVAL_SETTINGS.ttlHours,
    fallback: (APPROVAL_FALLBACKS as readonly string[]).includes(row.fallback) ? (row.fallback as ApprovalFallback) : "REJECT",
    notifyWebhook: row.notifyWebhook,
  };
}

/**
 * When a waiting intent's request expires, or null when it never will (it was escalated, or it
 * is not waiting). The request time is the intent's creation: the gate asks for approval in the
 * same transaction that creates it. The TTL in force now applies, so a changed TTL applies at once.
 */
export function approvalExpiresAt(
  intent: { status: string; createdAt: Date; escalatedAt: Date | null },
  settings: Pick<ApprovalSettingsValue, "ttlHours">,
): Date | null {
  if (intent.status !== "PENDING_APPROVAL" || intent.escalatedAt) return null;
  return new Date(intent.createdAt.getTime() + settings.ttlHours * 3_600_000);
}

/** The newest creation time that has expired by `now`: the expiry job's query bound. */
export function expiredIfCreatedBefore(now: Date, settings: Pick<ApprovalSettingsValue, "ttlHours">): Date {
  return new Date(now.getTime() - settings.ttlHours * 3_600_000);
}

export function isApprovalExpired(
  intent: { status: string; createdAt: Date; escalatedAt: Date | null },
  settings: Pick<ApprovalSettingsValue, "ttlHours">,
  now: Date,
): boolean {
  const at = approvalExpiresAt(intent, settings);
  return at !== null && now.getTime() >= at.getTime();
}
