import { z } from "zod";

const Id = z.string().min(1).max(64);

/** `GET /api/v1/autonomy/always-on?account_id=`: without an account, the tenant's opt-in. */
export const AlwaysOnQuery = z.object({ account_id: Id.optional() }).strict();

/** `PUT /api/v1/autonomy/always-on`: the tenant's opt-in, or with `account_id` the account's. */
export const AlwaysOnPutBody = z.object({ account_id: Id.optional(), enabled: z.boolean() }).strict();
