import type { DbOrTx } from "../db";
import { tenantWhere } from "./scope";

/** Reads for the "Autopilot did X" timeline: one query per page, not one per intent. */

/** The original (non-replay) execution of each intent on the page. */
export function originalExecutionsFor(db: DbOrTx, tenantId: string, intentIds: string[]) {
  return db.execution.findMany({ where: tenantWhere(tenantId, { intentId: { in: intentIds }, replayOf: null }) });
}

/** Human decisions on these intents, oldest first; an edit-and-approve is found by its new intent. */
export function reviewsTouching(db: DbOrTx, tenantId: string, intentIds: string[]) {
  return db.intentReview.findMany({
    where: tenantWhere(tenantId, { OR: [{ intentId: { in: intentIds } }, { newIntentId: { in: intentIds } }] }),
    orderBy: { createdAt: "asc" },
  });
}
