import type { Clock } from "../clock";
import type { Db } from "../db";
import type { ActionType } from "../engine/actions";
import { synthesize } from "../engine/synthesis";
import type { Viewer } from "../repos/scope";
import { putAllowlist, putBudget, putMode } from "./autonomyConfig";
import { type GateDeps, submitIntent } from "./gate";
import { approveIntent, rejectIntent } from "./reviews";

/**
 * Demo autonomy: a sensible starting configuration, then proposals for the demo accounts sent
 * through the real gate, so a first look shows autopilot acting, an inbox waiting and the
 * ledger explaining each step. Proposals are derived from each account's seeded signals with
 * the same shape the decision layer will produce (source DECISION, actor demo-source).
 */

export const DEMO_ALLOWLIST: ActionType[] = [
  "FETCH_ACCOUNT_NEWS",
  "ANALYZE_USAGE_PATTERNS",
  "CREATE_INTERNAL_NOTE",
  "CREATE_INTERNAL_TASK",
  "FLAG_FOR_REVIEW",
  "GENERATE_MEETING_BRIEF",
  "DRAFT_EMAIL",
];
const DEMO_AUTONOMOUS: ActionType[] = [
  "FETCH_ACCOUNT_NEWS",
  "ANALYZE_USAGE_PATTERNS",
  "CREATE_INTERNAL_NOTE",
  "CREATE_INTERNAL_TASK",
  "FLAG_FOR_REVIEW",
  "GENERATE_MEETING_BRIEF",
];

export async function seedAutonomy(db: Db, tenantId: string, adminUserId: string, clock: Clock) {
  const admin: Viewer = { tenantId, actor: { type: "SYSTEM", id: "seed" }, role: "ADMIN", userId: adminUserId };
  await putAllowlist(db, admin, { actionTypes: DEMO_ALLOWLIST }, clock);
  await putMode(db, admin, { mode: "APPROVAL_REQUIRED" }, clock);
  for (const t of DEMO_AUTONOMOUS) await putMode(db, admin, { actionType: t, mode: "AUTO_EXECUTE" }, clock);
  await putBudget(db, admin, { maxPerDay: 3 }, clock);

  const deps: GateDeps = { db, clock, connectors: { smtp: null } };
  const source: Viewer = { tenantId, actor: { type: "SYSTEM", id: "demo-source" }, role: null, userId: null };
  // The most recent signal per account drives its proposals (newest accounts first).
  const signals = await db.ledgerEntry.findMany({
    where: { tenantId, type: "SIGNAL_RECEIVED", accountId: { not: null } },
    orderBy: { seq: "desc" },
    take: 60,
  });
  const seen = new Set<string>();
  const pending: { id: string; ownerId: string | null; internal: boolean }[] = [];
  for (const s of signals) {
    if (!s.accountId || seen.has(s.accountId) || seen.size >= 18) continue;
    seen.add(s.accountId);
    const account = await db.account.findFirst({
      where: { tenantId, id: s.accountId },
      select: { name: true, domain: true, lifecycle: true, posture: true, momentum: true, ownerId: true },
    });
    if (!account) continue;
    const signal = JSON.parse(s.payload) as { signal_type: string; severity: string; evidence: Record<string, unknown> };
    const proposals = synthesize({
      account,
      signals: [{ type: signal.signal_type, severity: signal.severity, evidence: signal.evidence ?? {}, at: s.createdAt }],
      triggerType: "SIGNAL_ARRIVED",
    });
    for (const p of proposals) {
      const v = await submitIntent(deps, source, {
        accountId: s.accountId,
        actionType: p.actionType,
        confidence: p.confidence,
        riskLevel: p.riskLevel,
        why: p.why,
        parameters: p.parameters,
        target: { account_id: s.accountId },
        blockingUnknowns: p.blockingUnknowns,
        rankScore: p.rankScore,
        correlationId: s.correlationId,
        source: "DECISION",
      });
      if (v.status === "PENDING_APPROVAL")
        pending.push({ id: v.actionIntentId, ownerId: account.ownerId, internal: p.actionType === "DRAFT_EMAIL" });
    }
  }
  // A little human history so the timeline shows every kind of outcome.
  const human = (p: { ownerId: string | null }): Viewer => ({
    tenantId,
    actor: { type: "USER", id: p.ownerId ?? adminUserId },
    role: "ADMIN",
    userId: p.ownerId ?? adminUserId,
  });
  // Approve an internal draft (it completes without any outbound connector configured).
  const toApprove = pending.find((p) => p.internal);
  const toReject = pending.find((p) => !p.internal);
  if (toApprove) await approveIntent(deps, human(toApprove), toApprove.id, { reason: "Good timing" });
  if (toReject) await rejectIntent(deps, human(toReject), toReject.id, { reason: "Customer asked for no outreach this month" });
}
