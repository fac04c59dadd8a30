import { snake } from "@/server/http/dto";
import { jsonBody, queryParams, restRoute } from "@/server/http/rest";
import { AccountQuery, ModePutBody } from "@/server/schemas/autonomy";
import { getModes, putMode } from "@/server/services/autonomyConfig";

export const dynamic = "force-dynamic";

const modeDto = (m: { accountKey: string; actionType: string; mode: string; updatedAt: Date; updatedBy: string | null }) => ({
  account_id: m.accountKey || null,
  action_type: m.actionType || null,
  mode: m.mode,
  updated_at: m.updatedAt.toISOString(),
  updated_by: m.updatedBy,
});

export const GET = restRoute(["read"], async ({ req, db, viewer }) => {
  const q = queryParams(req, AccountQuery);
  return { items: (await getModes(db, viewer, q.account_id)).map(modeDto), global_default: "APPROVAL_REQUIRED" };
});

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, ModePutBody);
  const row = await putMode(db, viewer, { accountId: b.account_id, actionType: b.action_type, mode: b.mode, ifMatch: b.if_match }, clock);
  return row ? modeDto(row) : snake({ accountId: b.account_id ?? null, actionType: b.action_type ?? null, mode: null, cleared: true });
});
