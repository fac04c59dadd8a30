import type { DbOrTx } from "../db";

/**
 * An input of an account's heat changed (a signal arrived, its posture moved, it was created by a
 * sync or an import): the `heat` job must look at it on its next tick. Called inside the writer's
 * transaction so the mark is never lost or left behind. The row's other columns keep their
 * defaults until the job computes them (a new account is COLD, score 0, since now).
 */
export function markHeatDirty(tx: DbOrTx, tenantId: string, accountId: string, now: Date) {
  return tx.accountHeat.upsert({
    where: { tenantId_accountId: { tenantId, accountId } },
    create: { tenantId, accountId, since: now, dirtyAt: now },
    update: { dirtyAt: now },
  });
}
