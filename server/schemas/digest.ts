import { z } from "zod";
import { digestConfigured, isTimeZone } from "../engine/alwaysOn";
import { isDateKey } from "../engine/digest";

/** Daily digest inputs (SPEC §4.6, §5.1 `GET /api/v1/digest`, `GET/PUT /api/v1/digest/settings`). */

const UserId = z.string().min(1).max(64);
const DateKey = z.string().max(10).refine(isDateKey, "must be a calendar date written YYYY-MM-DD");

/** The same address check the gate's always-on condition applies (server/engine/alwaysOn.ts). */
const Email = z
  .string()
  .max(320)
  .refine((e) => e === "" || digestConfigured({ enabled: true, email: e, hourLocal: 0, timezone: "UTC" }), "must be an email address");

export const DigestSettingsPatch = z
  .object({
    enabled: z.boolean().optional(),
    email: Email.optional(),
    hour_local: z.number().int().min(0).max(23).optional(),
    timezone: z.string().max(64).refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin").optional(),
  })
  .strict();
export type DigestSettingsPatch = z.infer<typeof DigestSettingsPatch>;

export const DigestQuery = z.object({ date: DateKey.optional(), user_id: UserId.optional() });
export const DigestSettingsQuery = z.object({ user_id: UserId.optional() });
export const DigestSettingsPutBody = DigestSettingsPatch.extend({ user_id: UserId }).strict();

export const DigestGetInput = z.object({ date: DateKey.optional(), userId: UserId.optional() });
export const DigestSettingsInput = z.object({ userId: UserId.optional() });
export const DigestSettingsSaveInput = DigestSettingsPatch.extend({ userId: UserId.optional() }).strict();
