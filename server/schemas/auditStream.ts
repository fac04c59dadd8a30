import { z } from "zod";
import { STREAM_URL_MAX } from "../engine/auditStream";

/** `PUT /api/v1/audit/stream` body, and the tRPC input (SPEC §5.1). `url` may be omitted to keep the stored one. */
export const AuditStreamPutBody = z
  .object({
    url: z.string().min(1).max(STREAM_URL_MAX).optional(),
    enabled: z.boolean(),
    rotate_secret: z.boolean().optional(),
  })
  .strict();
export type AuditStreamPut = z.infer<typeof AuditStreamPutBody>;
