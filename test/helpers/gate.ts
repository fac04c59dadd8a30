import { fixedClock } from "@/server/clock";
import type { Db } from "@/server/db";
import type { Viewer } from "@/server/repos/scope";
import { putAllowlist, putBudget, putKillSwitch, putMode } from "@/server/services/autonomyConfig";
import { type GateDeps, type IntentInput, submitIntent } from "@/server/services/gate";

export const clock = fixedClock("2026-03-02T10:00:00Z");

export function deps(db: Db, extra: Partial<GateDeps["connectors"]> = {}): GateDeps {
  return { db, clock, connectors: { smtp: null, ...extra } };
}

/** Make an action type fully autonomous for a tenant: allowlisted, AUTO_EXECUTE, with a budget. */
export async function autonomous(
  db: Db,
  admin: Viewer,
  actionType: string,
  opts: { accountId?: string; maxPerDay: number; perTypeCaps?: Record<string, number> },
) {
  const existing = (await db.allowlistEntry.findMany({ where: { tenantId: admin.tenantId, accountKey: "" } })).map((r) => r.actionType);
  await putAllowlist(db, admin, { actionTypes: [...existing, actionType] }, clock);
  await putMode(db, admin, { actionType, mode: "AUTO_EXECUTE" }, clock);
  await putBudget(db, admin, { accountId: opts.accountId, maxPerDay: opts.maxPerDay, perTypeCaps: opts.perTypeCaps }, clock);
}

export function intent(accountId: string, patch: Partial<IntentInput> = {}): IntentInput {
  return {
    accountId,
    actionType: "CREATE_INTERNAL_TASK",
    confidence: 0.9,
    riskLevel: "LOW",
    why: ["RENEWAL_WINDOW_ENTERED"],
    parameters: { title: "Prepare renewal plan" },
    target: {},
    blockingUnknowns: [],
    source: "API",
    ...patch,
  };
}

export { putKillSwitch, submitIntent };
