import { z } from "zod";

export const ROLES = ["ADMIN", "SELLER", "AUDITOR"] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const API_KEY_SCOPES = ["admin", "ingest", "read", "approve"] as const;
export const ApiKeyScope = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;

export const LIFECYCLES = ["PROSPECT", "SUSPECT", "CUSTOMER"] as const;
export const POSTURES = ["OK", "WATCH", "AT_RISK", "EXPAND", "DORMANT"] as const;
export const MOMENTA = ["UP", "FLAT", "DOWN"] as const;
export const HEAT_TIERS = ["HOT", "WARM", "COLD"] as const;
export const OPPORTUNITY_STAGES = ["QUALIFY", "DISCOVERY", "PROPOSAL", "NEGOTIATION", "CLOSED_WON", "CLOSED_LOST"] as const;
export const Lifecycle = z.enum(LIFECYCLES);
export const Posture = z.enum(POSTURES);
export const Momentum = z.enum(MOMENTA);

/**
 * A whole number in [min, max] whose every failure (not a number, a fraction, out of range) reads
 * the same sentence — so an admin form built on the same schema shows it next to the field.
 */
export const wholeIn = (min: number, max: number, message = `A whole number from ${min} to ${max}`) =>
  z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });

/** Like wholeIn, for decimals. */
export const numberIn = (min: number, max: number, message = `A number from ${min} to ${max}`) =>
  z.number({ error: message }).min(min, { error: message }).max(max, { error: message });

/** Opaque cursor: base64url of a small JSON object the repo chose. Clients must not parse it. */
export const Cursor = z.string().min(1).max(512);

export const PageInput = z.object({
  limit: z.number().int().min(1).max(200).default(50),
  cursor: Cursor.optional(),
});
export type PageInput = z.infer<typeof PageInput>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
