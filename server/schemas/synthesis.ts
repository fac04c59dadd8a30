import { z } from "zod";
import { ACTION_TYPE_NAMES, RISK_LEVELS } from "../engine/actions";

/**
 * What an LLM synthesizer must answer (SPEC §4.3). The model's text is untrusted input: everything
 * it may say is bounded here, and anything outside these bounds is rejected whole (no intents),
 * never repaired. snake_case because it is a wire format the model writes, like the REST bodies.
 */
export const MAX_MODEL_PROPOSALS = 5;
export const MAX_PARAMETERS = 12;

/** Reason codes read like signal and trigger types (e.g. USAGE_TREND_CHANGE), never prose. */
export const ReasonCode = z
  .string()
  .max(64)
  .regex(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, "must be an UPPER_SNAKE reason code");

// Flat values only: parameters end up in intents, approval screens and connector payloads, so
// nested structures from a model would be an unbounded, unreviewable surface.
const ParameterValue = z.union([z.string().max(2000), z.number(), z.boolean(), z.array(z.string().max(200)).max(20)]);

export const ModelProposalParameters = z
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, "parameter names are snake_case"), ParameterValue)
  .refine((p) => Object.keys(p).length <= MAX_PARAMETERS, `at most ${MAX_PARAMETERS} parameters`);

export const ModelProposal = z.object({
  action_type: z.enum(ACTION_TYPE_NAMES),
  risk_level: z.enum(RISK_LEVELS),
  confidence: z.number().min(0).max(1),
  why: z.array(ReasonCode).min(1).max(8),
  parameters: ModelProposalParameters,
  blocking_unknowns: z.array(z.string().min(1).max(200)).max(5),
});
export type ModelProposal = z.infer<typeof ModelProposal>;

export const SynthesisModelOutput = z.object({
  proposals: z.array(ModelProposal).max(MAX_MODEL_PROPOSALS),
  summary: z.string().max(500),
});
export type SynthesisModelOutput = z.infer<typeof SynthesisModelOutput>;
