import { z } from "zod";
import { ACTION_TYPE_NAMES, RISK_LEVELS } from "../engine/actions";
import { AUTONOMY_MODES, KILL_SWITCH_SCOPES } from "../engine/autonomy";

const Id = z.string().min(1).max(64);
/** Free-form action type on intake: unknown types reach the gate and are BLOCKed on the record. */
const ActionTypeText = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Z][A-Z0-9_]*$/, "must be an UPPER_SNAKE_CASE action type");
const ReasonCode = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Z][A-Z0-9_]*$/, "must be an UPPER_SNAKE_CASE reason code");
const JsonObject = z
  .record(z.string().max(100), z.unknown())
  .refine((o) => JSON.stringify(o).length <= 20_000, "must be at most 20 kB of JSON");

export const ActionTypeName = z.enum(ACTION_TYPE_NAMES as [string, ...string[]]);
export const AutonomyMode = z.enum(AUTONOMY_MODES);
export const KillSwitchScope = z.enum(KILL_SWITCH_SCOPES);

/** `POST /api/v1/intents` body (SPEC §5.1). */
export const IntentBody = z
  .object({
    account_id: Id,
    action_type: ActionTypeText,
    confidence: z.number().min(0).max(1),
    risk_level: z.enum(RISK_LEVELS),
    why: z.array(ReasonCode).min(1).max(20),
    parameters: JsonObject.optional(),
    target: JsonObject.optional(),
    blocking_unknowns: z.array(z.string().min(1).max(200)).max(20).optional(),
    idempotency_key: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe("Repeating a key with the same body answers the first intent (200); with a different body, 409 CONFLICT."),
    rank_score: z.number().finite().optional(),
  })
  .strict();

export const ReviewBody = z
  .object({
    actor: z.string().trim().min(1).max(200),
    reason: z.string().trim().min(1).max(2000).optional(),
    edited_parameters: JsonObject.optional(),
  })
  .strict();

export const RejectBody = ReviewBody.extend({ reason: z.string().trim().min(1).max(2000) }).omit({ edited_parameters: true });

const IfMatch = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const ModePutBody = z
  .object({
    account_id: Id.optional(),
    action_type: ActionTypeName.optional(),
    /** null clears the override */
    mode: AutonomyMode.nullable(),
    if_match: IfMatch.optional(),
  })
  .strict();

export const AllowlistPutBody = z.object({ account_id: Id.optional(), action_types: z.array(z.string().min(1).max(64)).max(50) }).strict();

/** One budget number (a daily max or a per-type cap); the messages show next to the admin's field. */
export const BudgetCap = z
  .number({ error: "Enter a whole number from 0 to 1000" })
  .int("Use a whole number")
  .min(0, "Use 0 or more")
  .max(1000, "At most 1000");

export const BudgetPutBody = z
  .object({
    account_id: Id.optional(),
    max_autonomous_per_day: BudgetCap,
    max_per_action_type: z.record(z.string().min(1).max(64), BudgetCap).optional(),
    decay_if_unused: z.boolean().optional(),
    if_match: IfMatch.optional(),
  })
  .strict();

export const KillSwitchPutBody = z
  .object({
    scope: KillSwitchScope,
    key: z.string().min(1).max(64).optional(),
    enabled: z.boolean(),
    reason: z.string().trim().min(3).max(500),
  })
  .strict();

export const AccountQuery = z.object({ account_id: Id.optional() });
export const ExplanationQuery = z
  .object({ execution_id: Id.optional(), action_intent_id: Id.optional() })
  .refine((q) => q.execution_id || q.action_intent_id, {
    message: "pass execution_id or action_intent_id",
    path: ["execution_id"],
  });

/** The tRPC form of the budget write (camelCase), which the admin page's form validates against too. */
export const SetBudgetInput = z.object({
  accountId: Id.optional(),
  maxPerDay: BudgetCap,
  perTypeCaps: z.record(z.string().min(1).max(64), BudgetCap).optional(),
  decayIfUnused: z.boolean().optional(),
  ifMatch: z.date().optional(),
  reason: z.string().trim().min(3).max(500).optional(),
});
