import { z } from "zod";
import { SEVERITIES, SIGNAL_TYPES } from "../engine/signals";
import { TRIGGER_TYPES } from "../engine/triggers";

const Id = z.string().min(1).max(64);

/** `POST /api/v1/signals` (SPEC §5.1). */
export const SignalBody = z
  .object({
    account_id: Id,
    signal_type: z.enum(SIGNAL_TYPES),
    severity: z.enum(SEVERITIES).optional(),
    evidence: z
      .record(z.string().max(100), z.unknown())
      .refine((o) => JSON.stringify(o).length <= 20_000, "must be at most 20 kB of JSON")
      .optional(),
    dedupe_key: z.string().min(1).max(200).optional(),
    occurred_at: z.iso
      .datetime({ offset: true })
      .transform((s) => new Date(s))
      .optional(),
  })
  .strict();

/** `POST /api/v1/decisions/run`. */
export const DecisionRunBody = z
  .object({
    account_id: Id,
    trigger_type: z.enum(TRIGGER_TYPES),
    idempotency_key: z.string().min(1).max(200),
  })
  .strict();
