/**
 * Always-on autonomy (SPEC §4.6, the original plan's "Mode 4"): proposals from triggered and
 * scheduled decision runs that policy would auto-execute run with nobody watching only when all
 * three consents hold — the tenant's (admin), the account's (its owner, or an admin) and a daily
 * digest configured for the account's owner, so somebody reads what autopilot did. Pure: the
 * gate reads the facts inside its transaction and asks this module.
 */

/** Closed vocabulary (SPEC §5.1 `ALWAYS_ON_REFUSED.reasons`); integrations rely on these strings. */
export const ALWAYS_ON_REASONS = ["TENANT_NOT_OPTED_IN", "ACCOUNT_NOT_OPTED_IN", "NO_DIGEST_CONFIGURED"] as const;
export type AlwaysOnReason = (typeof ALWAYS_ON_REASONS)[number];

export interface DigestFacts {
  enabled: boolean;
  email: string;
  hourLocal: number;
  timezone: string;
}

export interface AlwaysOnFacts {
  tenantOptedIn: boolean;
  accountOptedIn: boolean;
  /** the account owner's digest settings; null when the account has no owner or none are stored */
  ownerDigest: DigestFacts | null;
}

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:".]+(?:\.[^\s@<>()[\]\\,;:".]+)+$/u;

/** A time zone the runtime can format in (Intl throws RangeError for an unknown IANA name). */
export function isTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** A digest that will actually reach somebody: enabled, an address, an hour and a real zone. */
export function digestConfigured(d: DigestFacts | null): boolean {
  return (
    d !== null &&
    d.enabled &&
    EMAIL.test(d.email) &&
    Number.isInteger(d.hourLocal) &&
    d.hourLocal >= 0 &&
    d.hourLocal <= 23 &&
    isTimeZone(d.timezone)
  );
}

/** Every condition that does not hold, in the vocabulary's order (empty: always-on is on). */
export function missingForAlwaysOn(f: AlwaysOnFacts): AlwaysOnReason[] {
  const missing: AlwaysOnReason[] = [];
  if (!f.tenantOptedIn) missing.push("TENANT_NOT_OPTED_IN");
  if (!f.accountOptedIn) missing.push("ACCOUNT_NOT_OPTED_IN");
  if (!digestConfigured(f.ownerDigest)) missing.push("NO_DIGEST_CONFIGURED");
  return missing;
}

/**
 * What refuses an account's opt-in: the other two conditions. (The account's own opt-in is what
 * is being asked for, so it is never a reason to refuse it.) The tenant's opt-in is an admin's
 * consent and is never refused.
 */
export function refusalForAccountOptIn(f: Omit<AlwaysOnFacts, "accountOptedIn">): AlwaysOnReason[] {
  return missingForAlwaysOn({ ...f, accountOptedIn: true });
}

/**
 * Whether the always-on conditions apply to an intake at all: only proposals of decision runs
 * that policy would auto-execute. An external engine's intents (`POST /api/v1/intents`) keep
 * plain policy, and anything already waiting for a person needs no consent to wait.
 */
export function alwaysOnApplies(source: string, decision: string): boolean {
  return source === "DECISION" && decision === "AUTO_EXECUTE";
}
