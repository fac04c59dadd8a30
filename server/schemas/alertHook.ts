import { z } from "zod";
import { ALERT_HOOK_SCOPES } from "../engine/alertHook";

/** `POST /api/v1/hooks/kill-switch` body, and the tRPC rotate input (SPEC §5.1). */
export const AlertHookBody = z
  .object({
    scope: z.enum(ALERT_HOOK_SCOPES),
    key: z.string().min(1).max(64).optional(),
  })
  .strict();
