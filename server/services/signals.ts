import { createHash, randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import type { Severity, SignalType } from "../engine/signals";
import { type fireAt, MAX_WINDOW_SIGNALS, onTriggerEvent, type TriggerType } from "../engine/triggers";
import { extendWindow, findSignalByKey, findWindow, insertSignal, openWindow, setSignalCorrelation } from "../repos/decisions";
import { markHeatDirty } from "../repos/heat";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { loadDecisionSettings } from "./decisionSettings";
import { requireTenantAccount } from "./guards";

/**
 * Signal intake (SPEC §4.4 push): dedupe, ledger, and a SIGNAL_ARRIVED trigger event, all in one
 * transaction — a signal is never recorded without its trigger, or the reverse. One signal is one
 * story: it opens a trigger window under its own correlation id, or joins the open window's.
 */
export interface SignalInput {
  accountId: string;
  signalType: SignalType;
  severity?: Severity;
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
      const own = randomUUID();
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
          correlationId: own,
          occurredAt,
        },
        now,
      );
      const joined = await joinTriggerWindow(
        tx,
        viewer.tenantId,
        input.accountId,
        "SIGNAL_ARRIVED",
        own,
        signal.id,
        settings.triggers,
        now,
      );
      await markHeatDirty(tx, viewer.tenantId, input.accountId, now);
      // A signal coalesced into an open window belongs to that window's story.
      if (joined.correlationId !== own) await setSignalCorrelation(tx, viewer.tenantId, signal.id, joined.correlationId);
      await appendLedger(
        tx,
        {
          tenantId: viewer.tenantId,
          accountId: input.accountId,
          correlationId: joined.correlationId,
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
      if (joined.coalesced) {
        await appendDebounce(tx, viewer.tenantId, input.accountId, "SIGNAL_ARRIVED", joined, { signal_id: signal.id }, viewer.actor, now);
      }
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

type Joined = {
  correlationId: string;
  coalesced: { windowOpenedAt: Date; firesAt: Date; events: number } | null;
};

/**
 * Open the (account, type) debounce window under `correlationId`, or coalesce into the open one
 * and take its correlation id. Persists only; the ledger entry is the caller's.
 */
async function joinTriggerWindow(
  tx: Tx,
  tenantId: string,
  accountId: string,
  type: TriggerType,
  correlationId: string,
  signalId: string | null,
  settings: Parameters<typeof fireAt>[2],
  now: Date,
): Promise<Joined> {
  const fresh = onTriggerEvent(null, type, now, settings);
  // A few tries: the open window we collided with may fire (and vanish) before we extend it, in
  // which case this event opens the next one rather than being lost.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await openWindow(tx, { tenantId, accountId, triggerType: type, openedAt: now, fireAt: fresh.fireAt, correlationId, signalId })) {
      return { correlationId, coalesced: null };
    }
    const window = await findWindow(tx, tenantId, accountId, type);
    if (!window) continue;
    const next = onTriggerEvent({ openedAt: window.openedAt, lastEventAt: window.lastEventAt, events: window.events }, type, now, settings);
    if ((await extendWindow(tx, window.id, now, next.fireAt, signalId, MAX_WINDOW_SIGNALS)) !== 1) continue;
    return {
      // Windows written before stories were tracked have no correlation id: the event keeps its own.
      correlationId: window.correlationId || correlationId,
      coalesced: { windowOpenedAt: window.openedAt, firesAt: next.fireAt, events: window.events + 1 },
    };
  }
  return { correlationId, coalesced: null };
}

async function appendDebounce(
  tx: Tx,
  tenantId: string,
  accountId: string,
  type: TriggerType,
  joined: Joined,
  cause: Record<string, unknown>,
  actor: Actor,
  now: Date,
) {
  if (!joined.coalesced) return;
  await appendLedger(
    tx,
    {
      tenantId,
      accountId,
      correlationId: joined.correlationId,
      type: "TRIGGER_SUPPRESSED",
      actor,
      payload: {
        trigger_type: type,
        reason: "DEBOUNCE",
        window_opened_at: joined.coalesced.windowOpenedAt.toISOString(),
        fires_at: joined.coalesced.firesAt.toISOString(),
        coalesced_events: joined.coalesced.events,
        ...cause,
      },
    },
    now,
  );
}

/**
 * A trigger event without a signal (CRM posture/lifecycle change, ritual slot): open the
 * (account, type) window under `correlationId`, or coalesce into the open one — a suppressed
 * trigger (DEBOUNCE), ledgered under the window's story.
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
  const joined = await joinTriggerWindow(tx, tenantId, accountId, type, correlationId, null, settings, now);
  await appendDebounce(tx, tenantId, accountId, type, joined, cause, actor, now);
  return { opened: !joined.coalesced, correlationId: joined.correlationId };
}
