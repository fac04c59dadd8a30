import { z } from "zod";
import { TENANT_TIERS } from "../engine/costGate";
import { SEVERITIES, SIGNAL_TYPES } from "../engine/signals";
import { TRIGGER_TYPES } from "../engine/triggers";
import { wholeIn } from "./common";

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

const Seconds = wholeIn(0, 7 * 86_400, "Whole seconds, 0 to 604800 (7 days)");
const PerTrigger = z.partialRecord(z.enum(TRIGGER_TYPES), Seconds);

/** The trigger half of the decision settings (tRPC decisions.saveSettings; the admin card's form). */
export const TriggerSettingsPatch = z.object({
  debounceSeconds: PerTrigger.optional(),
  maxWaitSeconds: PerTrigger.optional(),
  cooldownSeconds: Seconds.optional(),
  perAccountHourlyCap: wholeIn(0, 1000).optional(),
  perTenantHourlyCap: wholeIn(0, 100_000).optional(),
});

/** The cost-gate half; a null token cap means no cap. */
export const CostGateSettingsPatch = z.object({
  maxRunsPerDay: wholeIn(0, 1_000_000).optional(),
  maxTokensPerDay: wholeIn(0, 1_000_000_000, "Blank, or a whole number up to 1000000000").nullable().optional(),
  minSecondsBetweenRuns: Seconds.optional(),
  maxOpenIntents: wholeIn(0, 1000).optional(),
  tier: z.enum(TENANT_TIERS).optional(),
});

export const DecisionSettingsPatch = z.object({
  triggers: TriggerSettingsPatch.optional(),
  costGate: CostGateSettingsPatch.optional(),
});
