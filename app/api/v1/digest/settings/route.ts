import { jsonBody, queryParams, restRoute } from "@/server/http/rest";
import { DigestSettingsPutBody, DigestSettingsQuery } from "@/server/schemas/digest";
import { digestSettingsFor, saveDigestSettings } from "@/server/services/digest/settings";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], async ({ req, db, viewer, clock }) => {
  const q = queryParams(req, DigestSettingsQuery);
  return digestSettingsFor(db, viewer, q.user_id, clock.now());
});

/** Admin: sets any member's digest (a user of another tenant is not found). */
export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const { user_id, ...patch } = await jsonBody(req, DigestSettingsPutBody);
  return saveDigestSettings(db, viewer, user_id, patch, clock);
});
