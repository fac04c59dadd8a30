import { createHash, randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import { type fireAt, onTriggerEvent, type TriggerType } from "../engine/triggers";
import { extendWindow, findSignalByKey, findWindow, insertSignal, openWindow } from "../repos/decisions";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { loadDecisionSettings } from "./decisionSettings";
import { requireTenantAccount } from "./guards";

/**
 * Signal intake (SPEC §4.4 push): dedupe, ledger, and a SIGNAL_ARRIVED trigger event, all in one
 * transaction — a signal is never recorded without its trigger, or the reverse.
 */
export const SIGNAL_TYPES = [
  "ACCOUNT_ACTIVATION_DETECTED",
  "NO_ENGAGEMENT_PRESENT",
  "FIRST_ENGAGEMENT_OCCURRED",
  "DISCOVERY_PROGRESS_STALLED",
  "STAKEHOLDER_GAP_DETECTED",
  "USAGE_TREND_CHANGE",
  "SUPPORT_RISK_EMERGING",
  "RENEWAL_WINDOW_ENTERED",
  "ACTION_EXECUTED",
  "ACTION_FAILED",
] as const;
export const SEVERITIES = ["low", "medium", "high", "critical"] as const;

export interface SignalInput {
  accountId: string;
  signalType: (typeof SIGNAL_TYPES)[number];
  severity?: (typeof SEVERITIES)[number];
  evidence?: Record<string, unknown>;
  dedupeKey?: string;
  occurredAt?: Date;
  source: string;
}

/** Without a key, the same fact (account, type, evidence, time) pushed twice is one signal. */
function derivedKey(i: SignalInput, when: Date) {
  const body = canonicalJson({ a: i.accountId, t: i.signalType, e: i.evidence ?? {}, at: when.toISOString() });
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

function isUniqueViolation(err: unknown) {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "P2002";
}

export async function ingestSignal(
  db: Db,
  viewer: Viewer,
  input: SignalInput,
  clock: Clock,
): Promise<{ signalId: string; duplicate: boolean }> {
  const receivedAt = clock.now();
  // A fact with no time of its own is bucketed to the minute it arrived, so a retried push within
  // the same minute is recognised as the same fact.
  const occurredAt = input.occurredAt ?? new Date(Math.floor(receivedAt.getTime() / 60_000) * 60_000);
  const dedupeKey = input.dedupeKey ?? derivedKey(input, occurredAt);
  const existing = await findSignalByKey(db, viewer.tenantId, dedupeKey);
  if (existing) return { signalId: existing.id, duplicate: true };
  await requireTenantAccount(db, viewer.tenantId, input.accountId);
  const settings = await loadDecisionSettings(db, viewer.tenantId);
  try {
    return await inTransaction(db, async (tx) => {
      const now = clock.now();
      const correlationId = randomUUID();
      const signal = await insertSignal(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          type: input.signalType,
          severity: input.severity ?? "medium",
          evidence: canonicalJson(input.evidence ?? {}),
          dedupeKey,
          source: input.source,
          correlationId,
          occurredAt,
        },
        now,
      );
      await appendLedger(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          correlationId,
          type: "SIGNAL_RECEIVED",
          actor: viewer.actor,
          payload: {
            signal_id: signal.id,
            signal_type: signal.type,
            severity: signal.severity,
            evidence: input.evidence ?? {},
            source: input.source,
            occurred_at: occurredAt.toISOString(),
          },
        },
        now,
      );
      await recordTriggerEvent(
        tx,
        viewer.tenantId,
        input.accountId,
        "SIGNAL_ARRIVED",
        { signal_id: signal.id },
        correlationId,
        viewer.actor,
        settings.triggers,
        now,
      );
      return { signalId: signal.id, duplicate: false };
    });
  } catch (err) {
    if (isUniqueViolation(err)) {
      const again = await findSignalByKey(db, viewer.tenantId, dedupeKey);
      if (again) return { signalId: again.id, duplicate: true };
    }
    throw err;
  }
}

/**
 * A trigger event: open the (account, type) debounce window, or coalesce into the open one —
 * which is a suppressed trigger (DEBOUNCE) and is ledgered as such.
 */
export async function recordTriggerEvent(
  tx: Tx,
  tenantId: string,
  accountId: string,
  type: TriggerType,
  cause: Record<string, unknown>,
  correlationId: string,
  actor: Actor,
  settings: Parameters<typeof fireAt>[2],
  now: Date,
) {
  const fresh = onTriggerEvent(null, type, now, settings);
  let window = null;
  // Two tries: the open window we collided with may fire (and vanish) before we read it, in
  // which case this event opens the next one rather than being lost.
  for (let attempt = 0; attempt < 2 && !window; attempt++) {
    if (await openWindow(tx, { tenantId, accountId, triggerType: type, openedAt: now, fireAt: fresh.fireAt })) return { opened: true };
    window = await findWindow(tx, tenantId, accountId, type);
  }
  if (!window) return { opened: false };
  const next = onTriggerEvent({ openedAt: window.openedAt, lastEventAt: window.lastEventAt, events: window.events }, type, now, settings);
  await extendWindow(tx, window.id, now, next.fireAt);
  await appendLedger(
    tx,
    {
      tenantId,
      accountId,
      correlationId,
      type: "TRIGGER_SUPPRESSED",
      actor,
      payload: {
        trigger_type: type,
        reason: "DEBOUNCE",
        window_opened_at: window.openedAt.toISOString(),
        fires_at: next.fireAt.toISOString(),
        coalesced_events: window.events + 1,
        ...cause,
      },
    },
    now,
  );
  return { opened: false };
}
