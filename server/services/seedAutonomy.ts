import type { Clock } from "../clock";
import type { Db } from "../db";
import type { ActionType, RiskLevel } from "../engine/actions";
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

interface Proposal {
  actionType: ActionType;
  risk: RiskLevel;
  confidence: number;
  parameters: Record<string, unknown>;
  blockingUnknowns?: string[];
}

/** What a signal suggests, most useful first. */
const PLAYBOOK: Record<string, (account: string) => Proposal[]> = {
  SUPPORT_RISK_EMERGING: (a) => [
    {
      actionType: "FLAG_FOR_REVIEW",
      risk: "LOW",
      confidence: 0.91,
      parameters: { reason: `Open P1 tickets at ${a} while renewal approaches` },
    },
    {
      actionType: "SEND_EMAIL",
      risk: "HIGH",
      confidence: 0.72,
      parameters: {
        to: `it.director@${slug(a)}.example`,
        subject: "Your open support tickets",
        body: `Hi — I saw the open priority tickets at ${a}. Our support lead is on it; can we set up 15 minutes this week?`,
      },
    },
  ],
  RENEWAL_WINDOW_ENTERED: (a) => [
    {
      actionType: "GENERATE_MEETING_BRIEF",
      risk: "LOW",
      confidence: 0.88,
      parameters: { title: `Renewal prep — ${a}`, agenda: ["Usage review", "Expansion options", "Commercial terms"] },
    },
    {
      actionType: "REQUEST_RENEWAL_MEETING",
      risk: "HIGH",
      confidence: 0.81,
      parameters: { contact: `cfo@${slug(a)}.example`, proposed_slots: ["Tue 10:00", "Thu 15:00"] },
    },
  ],
  STAKEHOLDER_GAP_DETECTED: (a) => [
    {
      actionType: "REQUEST_STAKEHOLDER_INTRO",
      risk: "HIGH",
      confidence: 0.67,
      parameters: { via: `champion@${slug(a)}.example`, role: "Economic buyer" },
    },
  ],
  DISCOVERY_PROGRESS_STALLED: (a) => [
    {
      actionType: "CREATE_INTERNAL_TASK",
      risk: "LOW",
      confidence: 0.86,
      parameters: { title: `Unblock discovery at ${a}`, due_in_days: 3 },
    },
  ],
  USAGE_TREND_CHANGE: (a) => [
    { actionType: "ANALYZE_USAGE_PATTERNS", risk: "MINIMAL", confidence: 0.93, parameters: { window_days: 30 } },
    {
      actionType: "UPDATE_ACCOUNT_FIELDS",
      risk: "MEDIUM",
      confidence: 0.78,
      parameters: { fields: { posture: "WATCH" }, note: `Usage moved at ${a}` },
    },
  ],
  NO_ENGAGEMENT_PRESENT: (a) => [
    {
      actionType: "DRAFT_EMAIL",
      risk: "LOW",
      confidence: 0.64,
      parameters: {
        to: `ops@${slug(a)}.example`,
        subject: "Checking in",
        body: "It has been a while — anything we can help with this quarter?",
      },
    },
  ],
  FIRST_ENGAGEMENT_OCCURRED: (a) => [
    {
      actionType: "CREATE_INTERNAL_NOTE",
      risk: "LOW",
      confidence: 0.9,
      parameters: { body: `First engagement from ${a}: follow up within 48 hours.` },
    },
    { actionType: "REQUEST_DISCOVERY_CALL", risk: "HIGH", confidence: 0.74, parameters: { contact: `vp.sales@${slug(a)}.example` } },
  ],
  ACCOUNT_ACTIVATION_DETECTED: (a) => [
    { actionType: "FETCH_ACCOUNT_NEWS", risk: "MINIMAL", confidence: 0.95, parameters: { query: a } },
    {
      actionType: "CHANGE_DISCOUNT",
      risk: "HIGH",
      confidence: 0.55,
      parameters: { discount_pct: 12 },
      blockingUnknowns: ["budget holder"],
    },
  ],
};

function slug(name: string) {
  return name.toLowerCase().replace(/[^a-z]+/g, "");
}

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
    const account = await db.account.findFirst({ where: { tenantId, id: s.accountId }, select: { name: true, ownerId: true } });
    const signal = JSON.parse(s.payload) as { signal_type: string };
    for (const p of PLAYBOOK[signal.signal_type]?.(account?.name ?? "the account") ?? []) {
      const v = await submitIntent(deps, source, {
        accountId: s.accountId,
        actionType: p.actionType,
        confidence: p.confidence,
        riskLevel: p.risk,
        why: [signal.signal_type],
        parameters: p.parameters,
        target: { account_id: s.accountId },
        blockingUnknowns: p.blockingUnknowns ?? [],
        correlationId: s.correlationId,
        source: "DECISION",
      });
      if (v.status === "PENDING_APPROVAL")
        pending.push({ id: v.actionIntentId, ownerId: account?.ownerId ?? null, internal: p.actionType === "DRAFT_EMAIL" });
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
