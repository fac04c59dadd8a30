import type { Clock } from "../../clock";
import type { Db, DbOrTx } from "../../db";
import { type ApprovalSettingsValue, readApprovalSettings } from "../../engine/approvals";
import { approvalSettingsRow, upsertApprovalSettings } from "../../repos/approvals";
import { withConfigWrite } from "../../repos/autonomy";
import { appendLedger } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";

export async function loadApprovalSettings(db: DbOrTx, tenantId: string): Promise<ApprovalSettingsValue & { updatedAt: Date | null }> {
  const row = await approvalSettingsRow(db, tenantId);
  return { ...readApprovalSettings(row), updatedAt: row?.updatedAt ?? null };
}

const snake = (s: ApprovalSettingsValue) => ({ ttl_hours: s.ttlHours, fallback: s.fallback, notify_webhook: s.notifyWebhook });

/**
 * Approval settings are configuration an admin changes (who gets a waiting request, and when it
 * ends): the same write path as the autonomy configuration, versioned and ledgered in one
 * transaction. Callers check the role; bounds are the edge schema's (APPROVAL_TTL_HOURS).
 */
export async function saveApprovalSettings(db: Db, viewer: Viewer, patch: Partial<ApprovalSettingsValue>, clock: Clock) {
  const before = await loadApprovalSettings(db, viewer.tenantId);
  const after: ApprovalSettingsValue = {
    ttlHours: patch.ttlHours ?? before.ttlHours,
    fallback: patch.fallback ?? before.fallback,
    notifyWebhook: patch.notifyWebhook ?? before.notifyWebhook,
  };
  await withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    await upsertApprovalSettings(tx, viewer.tenantId, { ...after, updatedBy: viewer.actor.id, updatedAt: now });
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: { change: "approval_settings", before: snake(before), after: snake(after) },
      },
      now,
    );
  });
  return loadApprovalSettings(db, viewer.tenantId);
}
