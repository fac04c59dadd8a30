import type { DbOrTx } from "../db";
import { tenantWhere } from "./scope";

/** A tenant's call samples of one connector in [from, to), newest first, at most `limit` (the chart's source). */
export function callSamplesInRange(db: DbOrTx, tenantId: string, connector: string, from: Date, to: Date, limit: number) {
  return db.connectorCallSample.findMany({
    where: tenantWhere(tenantId, { connector, at: { gte: from, lt: to } }),
    select: { at: true, outcome: true, durationMs: true },
    orderBy: { at: "desc" },
    take: limit,
  });
}
