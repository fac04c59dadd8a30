import { jsonBody, restRoute } from "@/server/http/rest";
import { ApprovalSettingsPutBody } from "@/server/schemas/approvals";
import { loadApprovalSettings, saveApprovalSettings } from "@/server/services/approvals/settings";

export const dynamic = "force-dynamic";

const dto = (s: Awaited<ReturnType<typeof loadApprovalSettings>>) => ({
  ttl_hours: s.ttlHours,
  fallback: s.fallback,
  notify_webhook: s.notifyWebhook,
  updated_at: s.updatedAt?.toISOString() ?? null,
});

/** Approval settings (extension): how long a request waits, what happens then, whether the webhook is told. */
export const GET = restRoute(["read"], async ({ db, viewer }) => dto(await loadApprovalSettings(db, viewer.tenantId)));

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, ApprovalSettingsPutBody);
  return dto(
    await saveApprovalSettings(db, viewer, { ttlHours: b.ttl_hours, fallback: b.fallback, notifyWebhook: b.notify_webhook }, clock),
  );
});
