import { z } from "zod";
import { type CadenceTable, MAX_INTERVAL_HOURS, MIN_INTERVAL_HOURS, PULL_DEPTHS } from "../engine/cadence";
import { MAX_UNITS_PER_DAY } from "../engine/perception";

/** Perception inputs (SPEC §4.4, §5.1): REST bodies in snake_case, tRPC inputs in camelCase. */

const Id = z.string().min(1).max(64);
export const PullDepth = z.enum(PULL_DEPTHS);
/** A connector name as the registries spell it. */
export const ConnectorName = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z][a-z0-9_-]*$/, "must be a lower-case connector name such as crm or demo");
/** Caller-chosen, so a retried request is recognised (DUPLICATE_PULL_JOB_ID). */
export const PullJobId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces");
const Units = z.number().int().min(0).max(MAX_UNITS_PER_DAY);
const PerConnector = z.record(ConnectorName, Units).refine((o) => Object.keys(o).length <= 20, "at most 20 connectors");
const Reason = z.string().trim().min(3).max(500);

/** `POST /api/v1/perception/pulls` */
export const PullPostBody = z.object({ account_id: Id, connector: ConnectorName, depth: PullDepth, pull_job_id: PullJobId }).strict();

/** `PUT /api/v1/perception/budget` */
export const PullBudgetPutBody = z
  .object({ units_per_day: Units, per_connector: PerConnector.optional(), reason: Reason.optional() })
  .strict();

const Hours = z.number().min(MIN_INTERVAL_HOURS).max(MAX_INTERVAL_HOURS);

const RangeRest = z.object({ min_hours: Hours, max_hours: Hours }).strict().nullable();
const TierRest = z.object({ shallow: RangeRest, deep: RangeRest, shallow_on_signal: z.boolean() }).strict();
/** `PUT /api/v1/perception/cadence` (extension) */
export const CadencePutBody = z
  .object({ tiers: z.object({ HOT: TierRest, WARM: TierRest, COLD: TierRest }).strict(), reason: Reason.optional() })
  .strict();

const Range = z.object({ minHours: Hours, maxHours: Hours }).strict().nullable();
const Tier = z.object({ shallow: Range, deep: Range, shallowOnSignal: z.boolean() }).strict();
export const CadenceTableInput = z.object({ HOT: Tier, WARM: Tier, COLD: Tier }).strict();

export const PullInput = z.object({ accountId: Id, connector: ConnectorName, depth: PullDepth, pullJobId: PullJobId.optional() });

type RestRange = z.infer<typeof RangeRest>;
type RestTier = z.infer<typeof TierRest>;

const rangeIn = (r: RestRange) => (r ? { minHours: r.min_hours, maxHours: r.max_hours } : null);
const rangeOut = (r: { minHours: number; maxHours: number } | null) => (r ? { min_hours: r.minHours, max_hours: r.maxHours } : null);

export function cadenceFromRest(tiers: z.infer<typeof CadencePutBody>["tiers"]): CadenceTable {
  const tier = (t: RestTier) => ({ shallow: rangeIn(t.shallow), deep: rangeIn(t.deep), shallowOnSignal: t.shallow_on_signal });
  return { HOT: tier(tiers.HOT), WARM: tier(tiers.WARM), COLD: tier(tiers.COLD) };
}

export function cadenceToRest(table: CadenceTable) {
  const tier = (t: CadenceTable["HOT"]) => ({ shallow: rangeOut(t.shallow), deep: rangeOut(t.deep), shallow_on_signal: t.shallowOnSignal });
  return { HOT: tier(table.HOT), WARM: tier(table.WARM), COLD: tier(table.COLD) };
}
