import { createHash, randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import type { Severity, SignalType } from "../engine/signals";
import { type fireAt, MAX_WINDOW_SIGNALS, onTriggerEvent, type TriggerType } from "../engine/triggers";
import { AppError, isUniqueViolation } from "../errors";
import { tenantAccountIds } from "../repos/accounts";
import {
  extendWindows,
  findSignalByKey,
  findSignalsByKeys,
  insertSignals,
  lockWindows,
  type NewSignal,
  openWindows,
} from "../repos/decisions";
import { markHeatDirtyMany } from "../repos/heat";
import { newRowId } from "../repos/ids";
import { appendLedgerBatch, type LedgerAppend } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { type DecisionSettings, loadDecisionSettings } from "./decisionSettings";
import { GroupCommit, groupPer, type Settled } from "./groupCommit";

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

export interface Ingested {
  signalId: string;
  duplicate: boolean;
}

/** Without a key, the same fact (account, type, evidence, time) pushed twice is one signal. */
function derivedKey(i: SignalInput, when: Date) {
  const body = canonicalJson({ a: i.accountId, t: i.signalType, e: i.evidence ?? {}, at: when.toISOString() });
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

/** One push as the group commit carries it: its key and time are fixed when it arrives. */
interface Intake {
  viewer: Viewer;
  input: SignalInput;
  occurredAt: Date;
  dedupeKey: string;
}

/**
 * Group commit (issue 13): concurrent pushes for one tenant share one transaction — one dedupe
 * read, one account check, one multi-row insert, each trigger window touched once, one ledger
 * append — instead of a transaction each. Keyed by tenant: every intake write of a tenant
 * serialises on its ledger head anyway, so gathering them loses no parallelism.
 */
const intakeGroup = groupPer((db: Db, clock: Clock) => new GroupCommit((items: Intake[]) => ingestGroup(db, clock, items)));

export async function ingestSignal(db: Db, viewer: Viewer, input: SignalInput, clock: Clock): Promise<Ingested> {
  const receivedAt = clock.now();
  // A fact with no time of its own is bucketed to the minute it arrived, so a retried push within
  // the same minute is recognised as the same fact.
  const occurredAt = input.occurredAt ?? new Date(Math.floor(receivedAt.getTime() / 60_000) * 60_000);
  const dedupeKey = input.dedupeKey ?? derivedKey(input, occurredAt);
  return intakeGroup(db, clock).submit(viewer.tenantId, { viewer, input, occurredAt, dedupeKey });
}

/**
 * Ingest a group of one tenant's pushes, each with its own answer. If the group's transaction
 * fails — typically another process stored one of its dedupe keys first (unique violation), or a
 * deadlock with another instance on PostgreSQL — each push runs again alone, so one push never
 * fails its neighbours. A push alone answers a unique violation as the duplicate it is.
 */
async function ingestGroup(db: Db, clock: Clock, items: Intake[]): Promise<Settled<Ingested>[]> {
  try {
    return await decideAndWrite(db, clock, items);
  } catch (error) {
    if (items.length > 1) {
      const out: Settled<Ingested>[] = [];
      for (const item of items) out.push(...(await ingestGroup(db, clock, [item])));
      return out;
    }
    const [item] = items as [Intake];
    if (isUniqueViolation(error)) {
      const again = await findSignalByKey(db, item.viewer.tenantId, item.dedupeKey);
      if (again) return [{ ok: true, value: { signalId: again.id, duplicate: true } }];
    }
    return [{ ok: false, error }];
  }
}

/** What a push comes to before the transaction: answered already, or a signal to write. */
type Plan =
  | { kind: "answered"; settled: Settled<Ingested> }
  | { kind: "sameAs"; first: NewSignal }
  | { kind: "new"; signal: NewSignal; item: Intake };

async function decideAndWrite(db: Db, clock: Clock, items: Intake[]): Promise<Settled<Ingested>[]> {
  const tenantId = (items[0] as Intake).viewer.tenantId;
  // The reads every push needs, once for the group and outside the transaction (as a lone push
  // always did): which keys are stored, which accounts exist, the tenant's trigger settings.
  const [stored, accounts, settings] = await Promise.all([
    findSignalsByKeys(
      db,
      tenantId,
      items.map((i) => i.dedupeKey),
    ),
    tenantAccountIds(
      db,
      tenantId,
      items.map((i) => i.input.accountId),
    ),
    loadDecisionSettings(db, tenantId),
  ]);
  const storedId = new Map(stored.map((s) => [s.dedupeKey, s.id]));
  // Decided in arrival order, exactly as the pushes one after another would be: a stored key is a
  // duplicate; then an unknown account is that push's own 404 (the same answer whether the id is
  // another tenant's or does not exist, nothing written); then a key an earlier push of this
  // group claims is a duplicate of that push's signal.
  const claimed = new Map<string, NewSignal>();
  const plans: Plan[] = items.map((item) => {
    const known = storedId.get(item.dedupeKey);
    if (known) return { kind: "answered", settled: { ok: true, value: { signalId: known, duplicate: true } } };
    if (!accounts.has(item.input.accountId))
      return { kind: "answered", settled: { ok: false, error: new AppError("NOT_FOUND", "Account not found", "account_id") } };
    const first = claimed.get(item.dedupeKey);
    if (first) return { kind: "sameAs", first };
    const signal: NewSignal = {
      id: newRowId(),
      accountId: item.input.accountId,
      type: item.input.signalType,
      severity: item.input.severity ?? "medium",
      evidence: canonicalJson(item.input.evidence ?? {}),
      dedupeKey: item.dedupeKey,
      source: item.input.source,
      correlationId: randomUUID(),
      occurredAt: item.occurredAt,
    };
    claimed.set(item.dedupeKey, signal);
    return { kind: "new", signal, item };
  });
  const fresh = plans.flatMap((p) => (p.kind === "new" ? [p] : []));
  if (fresh.length > 0) await writeSignals(db, clock, tenantId, fresh, settings);
  return plans.map((p) =>
    p.kind === "answered"
      ? p.settled
      : { ok: true, value: p.kind === "new" ? { signalId: p.signal.id, duplicate: false } : { signalId: p.first.id, duplicate: true } },
  );
}

/** The new signals of a group, their trigger events, heat marks and ledger entries: one transaction. */
async function writeSignals(
  db: Db,
  clock: Clock,
  tenantId: string,
  fresh: { signal: NewSignal; item: Intake }[],
  settings: DecisionSettings,
) {
  await inTransaction(db, async (tx) => {
    const now = clock.now();
    // Each account's window is touched once for all of its signals, in arrival order.
    const byAccount = new Map<string, NewSignal[]>();
    for (const { signal } of fresh) byAccount.set(signal.accountId, [...(byAccount.get(signal.accountId) ?? []), signal]);
    const joins = await joinTriggerWindows(
      tx,
      tenantId,
      "SIGNAL_ARRIVED",
      [...byAccount].map(([accountId, signals]) => ({
        accountId,
        events: signals.map((s) => ({ correlationId: s.correlationId, signalId: s.id })),
      })),
      settings.triggers,
      now,
    );
    const joinOf = new Map<string, Joined>();
    for (const [accountId, signals] of byAccount) {
      const joined = joins.get(accountId) ?? [];
      signals.forEach((s, i) => {
        joinOf.set(s.id, joined[i] as Joined);
      });
    }
    // A signal coalesced into an open window belongs to that window's story: written with the
    // window's correlation id from the start (its id was generated above, so the window could name it).
    await insertSignals(
      tx,
      tenantId,
      fresh.map(({ signal }) => ({ ...signal, correlationId: (joinOf.get(signal.id) as Joined).correlationId })),
      now,
    );
    await markHeatDirtyMany(tx, tenantId, [...byAccount.keys()], now);
    const entries: Omit<LedgerAppend, "tenantId">[] = [];
    for (const { signal, item } of fresh) {
      const joined = joinOf.get(signal.id) as Joined;
      entries.push({
        accountId: signal.accountId,
        correlationId: joined.correlationId,
        type: "SIGNAL_RECEIVED",
        actor: item.viewer.actor,
        payload: {
          signal_id: signal.id,
          signal_type: item.input.signalType,
          severity: signal.severity,
          evidence: item.input.evidence ?? {},
          source: item.input.source,
          occurred_at: item.occurredAt.toISOString(),
        },
      });
      const debounce = debounceEntry(signal.accountId, "SIGNAL_ARRIVED", joined, { signal_id: signal.id }, item.viewer.actor);
      if (debounce) entries.push(debounce);
    }
    await appendLedgerBatch(tx, tenantId, entries, now);
  });
}

type Joined = {
  correlationId: string;
  coalesced: { windowOpenedAt: Date; firesAt: Date; events: number } | null;
};

type TriggerSettings = Parameters<typeof fireAt>[2];

/**
 * For each account, its events (in order) open the (account, type) debounce window — the first
 * event's correlation id becomes the window's — or coalesce into the open one and take its
 * correlation id. Answers each event's join exactly as the events one at a time would have been
 * (the same `now`): the first of a new window opened it, every later one coalesced with the
 * window's count at that point. Persists only; the ledger entries are the caller's.
 */
async function joinTriggerWindows(
  tx: Tx,
  tenantId: string,
  type: TriggerType,
  groups: { accountId: string; events: { correlationId: string; signalId: string | null }[] }[],
  settings: TriggerSettings,
  now: Date,
): Promise<Map<string, Joined[]>> {
  const fresh = onTriggerEvent(null, type, now, settings);
  const out = new Map<string, Joined[]>();
  let pending = groups;
  // A few tries: an open window we collided with may fire (and vanish) before we lock it, in which
  // case these events open the next one rather than being lost.
  for (let attempt = 0; attempt < 3 && pending.length > 0; attempt++) {
    const opened = await openWindows(
      tx,
      tenantId,
      type,
      pending.map((g) => ({
        accountId: g.accountId,
        openedAt: now,
        fireAt: fresh.fireAt,
        correlationId: (g.events[0] as { correlationId: string }).correlationId,
        signalIds: g.events.map((e) => e.signalId),
      })),
      MAX_WINDOW_SIGNALS,
    );
    const rest: typeof pending = [];
    for (const g of pending) {
      if (!opened.has(g.accountId)) {
        rest.push(g);
        continue;
      }
      const story = (g.events[0] as { correlationId: string }).correlationId;
      out.set(
        g.accountId,
        g.events.map((_, i) => ({
          correlationId: story,
          coalesced: i === 0 ? null : { windowOpenedAt: now, firesAt: fresh.fireAt, events: i + 1 },
        })),
      );
    }
    const windows = new Map(
      (
        await lockWindows(
          tx,
          tenantId,
          rest.map((g) => g.accountId),
          type,
        )
      ).map((w) => [w.accountId, w]),
    );
    const retry: typeof pending = [];
    const extensions: Parameters<typeof extendWindows>[3] = [];
    for (const g of rest) {
      const window = windows.get(g.accountId);
      // Opening collided with a window that fired (and vanished) before we read it: try again.
      if (!window) {
        retry.push(g);
        continue;
      }
      const next = onTriggerEvent(
        { openedAt: window.openedAt, lastEventAt: window.lastEventAt, events: window.events },
        type,
        now,
        settings,
      );
      extensions.push({
        id: window.id,
        fireAt: next.fireAt,
        events: window.events + g.events.length,
        // The i-th event names its signal while the window names fewer than the cap, as one at a time.
        appendIds: g.events.flatMap((e, i) => (e.signalId && window.events + i < MAX_WINDOW_SIGNALS ? [e.signalId] : [])),
      });
      out.set(
        g.accountId,
        g.events.map((e, i) => ({
          // Windows written before stories were tracked have no correlation id: the event keeps its own.
          correlationId: window.correlationId || e.correlationId,
          coalesced: { windowOpenedAt: window.openedAt, firesAt: next.fireAt, events: window.events + i + 1 },
        })),
      );
    }
    await extendWindows(tx, tenantId, now, extensions);
    pending = retry;
  }
  for (const g of pending)
    out.set(
      g.accountId,
      g.events.map((e) => ({ correlationId: e.correlationId, coalesced: null })),
    );
  return out;
}

/** The TRIGGER_SUPPRESSED (DEBOUNCE) entry of an event that coalesced into an open window. */
function debounceEntry(
  accountId: string,
  type: TriggerType,
  joined: Joined,
  cause: Record<string, unknown>,
  actor: Actor,
): Omit<LedgerAppend, "tenantId"> | null {
  if (!joined.coalesced) return null;
  return {
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
  };
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
  settings: TriggerSettings,
  now: Date,
) {
  const joins = await joinTriggerWindows(tx, tenantId, type, [{ accountId, events: [{ correlationId, signalId: null }] }], settings, now);
  const joined = (joins.get(accountId) ?? [])[0] as Joined;
  const debounce = debounceEntry(accountId, type, joined, cause, actor);
  if (debounce) await appendLedgerBatch(tx, tenantId, [debounce], now);
  return { opened: !joined.coalesced, correlationId: joined.correlationId };
}
