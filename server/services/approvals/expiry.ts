import type { Clock } from "../../clock";
import type { Db } from "../../db";
import { type ApprovalSettingsValue, expiredIfCreatedBefore } from "../../engine/approvals";
import type { Actor } from "../../engine/ledger";
import { escalateIntent, expiredCandidates, firstAdminUserId } from "../../repos/approvals";
import { transitionIntent } from "../../repos/intents";
import { appendLedger } from "../../repos/ledger";
import { insertOutcomesOnce } from "../../repos/outcomes";
import { listTenants } from "../../repos/tenants";
import { inTransaction } from "../../repos/tx";
import { loadApprovalSettings } from "./settings";

/**
 * The `approvals-expiry` job (SPEC §4.6): a request that waited longer than the tenant's TTL
 * follows the fallback.
 *  - REJECT: the intent ends EXPIRED, labelled IDEA_EXPIRED, ledgered INTENT_EXPIRED.
 *  - ESCALATE: it stays PENDING_APPROVAL, handed to the tenant's first admin (escalatedAt/To),
 *    ledgered INTENT_EXPIRED with `escalated_to`; an escalated intent never expires again.
 * Each intent is one transaction whose conditional update is the reservation: a human decision
 * or another tick that got there first leaves nothing for this one to write.
 */

const EXPIRER: Actor = { type: "SYSTEM", id: "approvals-expiry" };

export interface ExpiryResult {
  ok: boolean;
  tenants: number;
  expired: number;
  escalated: number;
}

export async function runApprovalsExpiryTick(db: Db, clock: Clock, opts: { batch?: number } = {}): Promise<ExpiryResult> {
  const out: ExpiryResult = { ok: true, tenants: 0, expired: 0, escalated: 0 };
  for (const tenant of await listTenants(db)) {
    try {
      const t = await expireTenant(db, clock, tenant.id, opts.batch ?? 200);
      out.expired += t.expired;
      out.escalated += t.escalated;
      out.tenants++;
    } catch (err) {
      // One tenant's failure must not hold the others; its requests are found again next tick.
      out.ok = false;
      console.error(`approvals-expiry: tenant ${tenant.id} not processed (${err instanceof Error ? err.name : "error"})`);
    }
  }
  return out;
}

async function expireTenant(db: Db, clock: Clock, tenantId: string, batch: number) {
  const settings = await loadApprovalSettings(db, tenantId);
  const now = clock.now();
  const due = await expiredCandidates(db, tenantId, expiredIfCreatedBefore(now, settings), batch);
  if (due.length === 0) return { expired: 0, escalated: 0 };
  // Without an admin there is nobody to escalate to: rejecting is the only honest end.
  const admin = settings.fallback === "ESCALATE" ? await firstAdminUserId(db, tenantId) : null;
  let expired = 0;
  let escalated = 0;
  for (const intent of due) {
    if (admin) escalated += (await escalate(db, clock, tenantId, intent, settings, admin)) ? 1 : 0;
    else expired += (await expire(db, clock, tenantId, intent, settings)) ? 1 : 0;
  }
  return { expired, escalated };
}

type Due = Awaited<ReturnType<typeof expiredCandidates>>[number];

function payload(intent: Due, settings: ApprovalSettingsValue, fallback: "REJECT" | "ESCALATE", escalatedTo: string | null) {
  return {
    action_intent_id: intent.id,
    fallback,
    ttl_hours: settings.ttlHours,
    requested_at: intent.createdAt.toISOString(),
    escalated_to: escalatedTo,
  };
}

function expire(db: Db, clock: Clock, tenantId: string, intent: Due, settings: ApprovalSettingsValue) {
  return inTransaction(db, async (tx) => {
    const now = clock.now();
    if (!(await transitionIntent(tx, tenantId, intent.id, "PENDING_APPROVAL", { status: "EXPIRED" }, now))) return false;
    const base = { tenantId, accountId: intent.accountId, correlationId: intent.correlationId, actor: EXPIRER };
    await appendLedger(tx, { ...base, type: "INTENT_EXPIRED", payload: payload(intent, settings, "REJECT", null) }, now);
    // The normalize job's key for this label (`<intent>:IDEA_EXPIRED`): whichever writes first
    // records it, the other finds it there — one outcome, one OUTCOME_RECORDED.
    const inserted = await insertOutcomesOnce(
      tx,
      tenantId,
      [{ id: `${intent.id}:IDEA_EXPIRED`, intentId: intent.id, executionId: null, label: "IDEA_EXPIRED", details: "{}" }],
      now,
    );
    if (inserted.size === 1)
      await appendLedger(tx, { ...base, type: "OUTCOME_RECORDED", payload: { action_intent_id: intent.id, label: "IDEA_EXPIRED" } }, now);
    return true;
  });
}

function escalate(db: Db, clock: Clock, tenantId: string, intent: Due, settings: ApprovalSettingsValue, admin: string) {
  return inTransaction(db, async (tx) => {
    const now = clock.now();
    if (!(await escalateIntent(tx, tenantId, intent.id, admin, now))) return false;
    await appendLedger(
      tx,
      {
        tenantId,
        accountId: intent.accountId,
        correlationId: intent.correlationId,
        actor: EXPIRER,
        type: "INTENT_EXPIRED",
        payload: payload(intent, settings, "ESCALATE", admin),
      },
      now,
    );
    return true;
  });
}
