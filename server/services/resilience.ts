import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { Clock } from "../clock";
import { CallRefusedError } from "../connectors/types";
import type { Db } from "../db";
import {
  adminMove,
  admit,
  type BreakerConfig,
  type BreakerState,
  breakerConfig,
  breakerState,
  onFailure,
  onProbeResult,
  PROBE_LEASE_MS,
} from "../engine/breaker";
import type { Actor } from "../engine/ledger";
import { redactText } from "../engine/redact";
import { type CallOutcome, jitteredBackoffMs, type SloTarget, sloStatus, sloTarget } from "../engine/slo";
import { describeUnexpected } from "../errors";
import {
  admissionState,
  callSamples,
  claimProbe,
  claimSlot,
  closeAfterProbe,
  countFailure,
  ensureBreaker,
  ensureSlots,
  findBreaker,
  listBreakers,
  releaseSlot,
  reopenAfterProbe,
  setAdminPhase,
  slotsInFlight,
  tripOpen,
} from "../repos/breaker";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { CONNECTOR_NAMES, type ConnectorName } from "../schemas/connectors";
import { admissionLeases, waitOutLeases } from "./admissionLeases";
import { flushCallSamples, recordCallSample } from "./callSamples";
import { connectorKind, connectorResilienceSettings, resilienceSettingsOf } from "./connectors";

/**
 * `invokeWithResilience`: the one wrapper every outbound connector call goes through (SPEC §4.7) —
 * executions (services/executor.ts), CRM writes and syncs (services/crmWrites.ts, crmSync.ts) and
 * perception pulls. In order:
 *  1. breaker: OPEN / FORCED_OPEN, or HALF_OPEN with its probe taken → FAIL_FAST (no call);
 *     HALF_OPEN → claim the single probe (a conditional update: one winner across all instances);
 *  2. backpressure: a concurrency slot of the tenant's connector (its `max_concurrency`) and of the
 *     connector across tenants (tenant "*", a process-wide cap from the edge) — none free → DEFER
 *     with a retry_after (the caller re-queues; never a failure);
 *  3. the call, with a timeout, retried with jittered backoff only when the caller says it is
 *     idempotent (never a probe: a probe is one request);
 *  4. its result moves the breaker (a failure counted in the window, a probe closing or re-opening
 *     it), is sampled for the SLO, and the slots are released (in finally, off the caller's path;
 *     a dead process's slot frees itself when its lease runs out).
 * Breaker state, slots and samples live in the database, so every instance shares them. What
 * admission reads of a CLOSED breaker is kept for a short lease (services/admissionLeases.ts: an
 * admin's force-open and a settings change wait the lease out, so they still stop or apply to the
 * very next call on every instance); any other state is read on every call.
 */

export interface ResilienceDeps {
  db: Db;
  clock: Clock;
  /** names this process in probe claims and slot holders (a worker id); random when absent */
  instanceId?: string;
  /** waits between retries; tests pass one that does not wait */
  sleep?: (ms: number) => Promise<void>;
  /** jitter source in [0, 1) */
  random?: () => number;
  /** calls in flight per connector across every tenant (the "*" slots); from the environment */
  globalMaxConcurrency?: Partial<Record<ConnectorName, number>>;
}

export interface CallTarget {
  tenantId: string;
  connector: ConnectorName;
  /** what is called (the action type, `sync`, `pull`): a sample's label, never an id */
  operation: string;
  /** the call can be repeated without a second effect (GETs, PATCHes, keyed deliveries) */
  idempotent: boolean;
  /** per attempt; default 10 s, the connectors' own timeout */
  timeoutMs?: number;
  /** extra attempts for an idempotent call (default 2) */
  retries?: number;
}

export type Refusal =
  | { kind: "FAIL_FAST"; reason: "BREAKER_OPEN"; state: BreakerState; retryAfterSeconds: number }
  | { kind: "DEFER"; reason: "CONCURRENCY_LIMIT"; retryAfterSeconds: number };

export type Invoked<T> = { kind: "DONE"; value: T } | Refusal;

/** How the caller's result reads: `fault` = the connector misbehaved (counts toward opening the breaker). */
export type Verdict = { ok: true } | { ok: false; fault: boolean; error: string };

/** The wrapper gave up waiting; the connector may still act on the request (idempotency keys cover a retry). */
export class ConnectorTimeoutError extends Error {
  constructor(connector: string, ms: number) {
    super(`The ${connector} connector did not answer within ${ms} ms`);
    this.name = "ConnectorTimeoutError";
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRIES = 2;
/** A deferred call may find a free slot this soon: calls take milliseconds to seconds. */
export const DEFER_RETRY_SECONDS = 2;
const SYSTEM: Actor = { type: "SYSTEM", id: "resilience" };
/** A failure-count race is retried this often; each lost round means another caller's move landed. */
const CAS_ROUNDS = 20;

const processInstance = `proc-${randomUUID().slice(0, 8)}`;
const realSleep = (ms: number) => delay(ms);

/** A refusal as the one sentence stored on a FAILED execution or a pull's run. */
export function refusalError(connector: string, r: Refusal): string {
  return r.kind === "FAIL_FAST"
    ? `BREAKER_OPEN: the ${connector} connector's circuit breaker is ${r.state.replace("_", " ").toLowerCase()}; nothing was sent (retry after ${r.retryAfterSeconds} s)`
    : `CONCURRENCY_LIMIT: the ${connector} connector has no free slot; retry after ${r.retryAfterSeconds} s`;
}

// ───────────── the wrapper ─────────────

/**
 * What an admitted caller holds until its call ends: the probe (when it won it) and its slots.
 * Handed back by `callWithPermit` (always, in finally) or, for a call that will not be made after
 * all, by `releasePermit`.
 */
export interface Permit {
  kind: "PERMIT";
  target: CallTarget;
  probeOwner: string | null;
  slots: { tenantId: string; slot: number; holder: string }[];
  config: BreakerConfig;
  lastError: string | null;
}

async function transition(
  deps: ResilienceDeps,
  tenantId: string,
  connector: string,
  move: (tx: Parameters<Parameters<typeof inTransaction>[1]>[0]) => Promise<boolean>,
  entry: { from: BreakerState; to: BreakerState; reason?: string | null; failures?: number; retryAt?: Date | null; actor?: Actor },
) {
  const moved = await inTransaction(deps.db, async (tx) => {
    if (!(await move(tx))) return false;
    await appendLedger(
      tx,
      {
        tenantId,
        type: "CONNECTOR_STATE_CHANGED",
        actor: entry.actor ?? SYSTEM,
        payload: {
          connector,
          from: entry.from,
          to: entry.to,
          ...(entry.reason ? { reason: entry.reason } : {}),
          ...(entry.failures !== undefined ? { failures: entry.failures } : {}),
          ...(entry.retryAt ? { retry_at: entry.retryAt.toISOString() } : {}),
        },
      },
      deps.clock.now(),
    );
    return true;
  });
  // Won or lost, the row moved: what this process kept of it is stale.
  admissionLeases(deps.db).drop(tenantId, connector);
  return moved;
}

async function takeSlots(deps: ResilienceDeps, target: CallTarget, tenantCap: number | null, leaseMs: number) {
  const caps: [string, number][] = [];
  const global = deps.globalMaxConcurrency?.[target.connector];
  if (tenantCap !== null && tenantCap > 0) caps.push([target.tenantId, tenantCap]);
  if (global !== undefined && global > 0) caps.push(["*", global]);
  const held: Permit["slots"] = [];
  for (const [tenantId, cap] of caps) {
    const holder = `${deps.instanceId ?? processInstance}:${randomUUID()}`;
    const now = deps.clock.now();
    const start = Math.floor((deps.random ?? Math.random)() * cap);
    const claim = () => claimSlot(deps.db, tenantId, target.connector, cap, holder, new Date(now.getTime() + leaseMs), now, start);
    // The slot rows are made on first use (and when the cap is raised): only a failed claim looks.
    let slot = await claim();
    if (slot === null && (await ensureSlots(deps.db, tenantId, target.connector, cap))) slot = await claim();
    if (slot === null) {
      await freeSlots(deps, target.connector, held);
      return null;
    }
    held.push({ tenantId, slot, holder });
  }
  return held;
}

async function freeSlots(deps: ResilienceDeps, connector: string, held: Permit["slots"]) {
  for (const s of held) await releaseSlot(deps.db, s.tenantId, connector, s.slot, s.holder);
}

/** Releases started by finished calls and not yet written (see `releaseAfterCall`). */
const pendingReleases = new Set<Promise<void>>();

/**
 * A finished call's slots go back off the caller's path: the caller has its answer as soon as
 * the connector answered, and the release (a committed write and a round trip) follows. Holding a
 * slot a moment longer only makes the cap stricter, never looser. A release that fails (the database went away) or never runs (the process died)
 * is covered by the slot's lease, as a crashed call's is. Readers of in-flight counts in this
 * process, graceful stops and tests wait for the pending ones with `settleSlotReleases`.
 */
function releaseAfterCall(deps: ResilienceDeps, connector: string, held: Permit["slots"]) {
  if (!held.length) return;
  const release: Promise<void> = freeSlots(deps, connector, held)
    .catch((err) => console.error(`[resilience] slot release left to its lease: ${describeUnexpected(err)}`))
    .finally(() => pendingReleases.delete(release));
  pendingReleases.add(release);
}

/** Wait until every slot release this process started has been written (or left to its lease). */
export async function settleSlotReleases(): Promise<void> {
  while (pendingReleases.size) await Promise.all([...pendingReleases]);
}

/** Buffered, written off the call path (services/callSamples.ts). */
function sample(deps: ResilienceDeps, target: CallTarget, outcome: CallOutcome, durationMs: number) {
  recordCallSample(
    deps.db,
    {
      tenantId: target.tenantId,
      connector: target.connector,
      operation: target.operation.slice(0, 100),
      ok: outcome === "SUCCESS",
      outcome,
      durationMs: Math.max(0, Math.round(durationMs)),
    },
    deps.clock.now(),
  );
}

/**
 * The admission half of the wrapper: breaker, then slots. A refusal has taken nothing (a probe
 * won but left without a slot is handed back) and is sampled (FAIL_FAST / DEFERRED). Callers that
 * must do work between admission and the call (an execution starts its row only once admitted, so
 * a deferral leaves the intent APPROVED) use this with `callWithPermit`; others use
 * `invokeWithResilience`, which is the two together.
 */
export async function acquirePermit(deps: ResilienceDeps, target: CallTarget): Promise<Permit | Refusal> {
  const admitted = await admitCall(deps, target);
  if (admitted.kind !== "PERMIT") sample(deps, target, admitted.kind === "FAIL_FAST" ? "FAIL_FAST" : "DEFERRED", 0);
  return admitted;
}

async function admitCall(deps: ResilienceDeps, target: CallTarget): Promise<Permit | Refusal> {
  const { db, clock } = deps;
  const state = await admissionLeases(db).read(target.tenantId, target.connector, () =>
    admissionState(db, target.tenantId, target.connector, connectorKind(target.connector)),
  );
  const settings = resilienceSettingsOf(state.config);
  const row = state.breaker;
  const config = breakerConfig(settings.breaker);
  const now = clock.now();
  const a = admit(row, config, now);
  let probeOwner: string | null = null;
  if (a.kind === "REJECT") return { kind: "FAIL_FAST", reason: "BREAKER_OPEN", state: a.state, retryAfterSeconds: a.retryAfterSeconds };
  if (a.kind === "CLAIM_PROBE") {
    const owner = `${deps.instanceId ?? processInstance}:${randomUUID()}`;
    const until = new Date(now.getTime() + PROBE_LEASE_MS);
    // The claim is the OPEN → HALF_OPEN move (re-claiming a dead probe's expired claim writes the
    // entry again: the probe really starts over).
    const won = await transition(
      deps,
      target.tenantId,
      target.connector,
      (tx) => claimProbe(tx, target.tenantId, target.connector, owner, until, now),
      { from: "OPEN", to: "HALF_OPEN" },
    );
    if (won) probeOwner = owner;
    else {
      // Lost: another caller holds the probe — or its result already closed the breaker.
      const again = admit(await findBreaker(db, target.tenantId, target.connector), config, clock.now());
      if (again.kind === "REJECT")
        return { kind: "FAIL_FAST", reason: "BREAKER_OPEN", state: again.state, retryAfterSeconds: again.retryAfterSeconds };
      if (again.kind === "CLAIM_PROBE") return { kind: "FAIL_FAST", reason: "BREAKER_OPEN", state: "HALF_OPEN", retryAfterSeconds: 1 };
    }
  }
  const timeout = target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const attempts = probeOwner || !target.idempotent ? 1 : 1 + (target.retries ?? DEFAULT_RETRIES);
  const slots = await takeSlots(deps, target, settings.maxConcurrency, timeout * attempts + 30_000);
  if (!slots) {
    // The probe goes back unused: the next caller with a slot may claim it at once.
    if (probeOwner) await handBackProbe(deps, target, probeOwner, row?.lastError ?? null);
    return { kind: "DEFER", reason: "CONCURRENCY_LIMIT", retryAfterSeconds: DEFER_RETRY_SECONDS };
  }
  return { kind: "PERMIT", target, probeOwner, slots, config, lastError: row?.lastError ?? null };
}

/** An unused probe claim: the breaker stays OPEN with its cooldown already over, so the next caller may claim it at once. */
async function handBackProbe(deps: ResilienceDeps, target: CallTarget, owner: string, lastError: string | null) {
  const now = deps.clock.now();
  await reopenAfterProbe(deps.db, target.tenantId, target.connector, owner, now, lastError ?? "", now);
}

/** A permit whose call will not be made (the work it was for went away): slots and probe go back. */
export async function releasePermit(deps: ResilienceDeps, permit: Permit) {
  if (permit.probeOwner) await handBackProbe(deps, permit.target, permit.probeOwner, permit.lastError);
  await freeSlots(deps, permit.target.connector, permit.slots);
}

async function withTimeout<T>(fn: (signal: AbortSignal) => Promise<T>, ms: number, connector: string): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new ConnectorTimeoutError(connector, ms));
    }, ms);
  });
  try {
    return await Promise.race([fn(ac.signal), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Count a failure into the breaker (tripping it at the threshold); conditional, re-read on a lost race. */
async function recordFault(deps: ResilienceDeps, target: CallTarget, config: BreakerConfig, error: string) {
  const { db, clock } = deps;
  // A fault seen here ends the lease on the CLOSED state read before it: the next call reads the
  // row, so a trip by another instance is seen at once instead of when the lease runs out.
  admissionLeases(db).drop(target.tenantId, target.connector);
  for (let round = 0; round < CAS_ROUNDS; round++) {
    const now = clock.now();
    const row = await ensureBreaker(db, target.tenantId, target.connector, now);
    const move = onFailure(row, config, now);
    if (move.kind === "NONE") return;
    const lastError = redactText(error).slice(0, 500);
    const done = move.trip
      ? await transition(
          deps,
          target.tenantId,
          target.connector,
          (tx) => tripOpen(tx, target.tenantId, target.connector, row, { ...move, lastError }, now),
          { from: "CLOSED", to: "OPEN", failures: move.failures, retryAt: move.retryAt, reason: lastError },
        )
      : await countFailure(db, target.tenantId, target.connector, row, { ...move, lastError }, now);
    if (done) return;
  }
}

async function finishProbe(deps: ResilienceDeps, target: CallTarget, admitted: Permit, ok: boolean, error: string | null) {
  const owner = admitted.probeOwner as string;
  const now = deps.clock.now();
  const next = onProbeResult(ok, admitted.config, now);
  if (next.to === "CLOSED")
    await transition(deps, target.tenantId, target.connector, (tx) => closeAfterProbe(tx, target.tenantId, target.connector, owner, now), {
      from: "HALF_OPEN",
      to: "CLOSED",
    });
  else {
    const lastError = redactText(error ?? "probe failed").slice(0, 500);
    await transition(
      deps,
      target.tenantId,
      target.connector,
      (tx) => reopenAfterProbe(tx, target.tenantId, target.connector, owner, next.retryAt, lastError, now),
      { from: "HALF_OPEN", to: "OPEN", retryAt: next.retryAt, reason: lastError },
    );
  }
}

/**
 * Call `fn` through the breaker, the concurrency caps, the timeout and (idempotent calls only) the
 * retries. `verdict` reads a returned value (a ConnectorResult says ok / retryable); a throw or a
 * timeout is a fault. A thrown error is re-thrown after it was counted; a refusal is returned.
 */
export async function invokeWithResilience<T>(
  deps: ResilienceDeps,
  target: CallTarget,
  fn: (signal: AbortSignal) => Promise<T>,
  verdict: (value: T) => Verdict = () => ({ ok: true }),
): Promise<Invoked<T>> {
  const permit = await acquirePermit(deps, target);
  if (permit.kind !== "PERMIT") return permit;
  return { kind: "DONE", value: await callWithPermit(deps, permit, fn, verdict) };
}

/** The call half of the wrapper (see `acquirePermit`): timeout, retries, breaker bookkeeping, sample; the permit is always released. */
export async function callWithPermit<T>(
  deps: ResilienceDeps,
  admitted: Permit,
  fn: (signal: AbortSignal) => Promise<T>,
  verdict: (value: T) => Verdict = () => ({ ok: true }),
): Promise<T> {
  const target = admitted.target;
  const sleep = deps.sleep ?? realSleep;
  const random = deps.random ?? Math.random;
  const timeout = target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const attempts = admitted.probeOwner || !target.idempotent ? 1 : 1 + (target.retries ?? DEFAULT_RETRIES);
  try {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      let outcome: CallOutcome;
      let value: T | undefined;
      let thrown: unknown;
      let v: Verdict;
      try {
        value = await withTimeout(fn, timeout, target.connector);
        v = verdict(value);
        outcome = v.ok ? "SUCCESS" : "ERROR";
      } catch (err) {
        thrown = err;
        outcome = err instanceof ConnectorTimeoutError ? "TIMEOUT" : "ERROR";
        v = { ok: false, fault: true, error: err instanceof Error ? `${err.name}: ${err.message}` : "error" };
      }
      sample(deps, target, outcome, performance.now() - started);
      const last = attempt + 1 >= attempts || v.ok || !v.fault;
      if (!last) {
        await sleep(jitteredBackoffMs(attempt, random()));
        continue;
      }
      if (admitted.probeOwner) await finishProbe(deps, target, admitted, v.ok || !v.fault, v.ok ? null : v.error);
      else if (!v.ok && v.fault) await recordFault(deps, target, admitted.config, v.error);
      if (thrown !== undefined) throw thrown;
      return value as T;
    }
  } finally {
    releaseAfterCall(deps, target.connector, admitted.slots);
  }
}

/** A ConnectorResult's verdict: a retryable failure (5xx, transport, 429) is the connector's fault; a 4xx is not. */
export const connectorVerdict = (r: { ok: true } | { ok: false; error: string; retryable: boolean }): Verdict =>
  r.ok ? { ok: true } : { ok: false, fault: r.retryable, error: r.error };

// ───────────── reading and forcing (the reliability page, REST, tRPC) ─────────────

export interface ConnectorReliability {
  connector: ConnectorName;
  state: BreakerState;
  inFlight: number;
  maxConcurrency: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  errorRate: number | null;
  calls: number;
  slo: SloTarget;
  alert: boolean;
  breached: ("P99" | "ERROR_RATE")[];
  retryAt: Date | null;
  forcedReason: string | null;
  lastError: string | null;
  breaker: { failureThreshold: number; windowSeconds: number; cooldownSeconds: number };
}

/** Percentiles are computed from at most this many of the window's newest samples. */
const SLO_SAMPLE_LIMIT = 5000;

/**
 * Each connector of the viewer's tenant: breaker state as of now, calls in flight, and its calls
 * over its own SLO window against its own target (the connector's `slo` setting, read fresh; unset
 * = DEFAULT_SLO).
 */
export function connectorReliability(deps: { db: Db; clock: Clock }, viewer: Viewer): Promise<ConnectorReliability[]> {
  return tenantReliability(deps, viewer.tenantId);
}

/** The same for a tenant named by its credential, not a session (the `/api/metrics` scrape). */
export async function tenantReliability(deps: { db: Db; clock: Clock }, tenantId: string): Promise<ConnectorReliability[]> {
  const { db, clock } = deps;
  await Promise.all([flushCallSamples(db, tenantId), settleSlotReleases()]);
  const now = clock.now();
  const [breakers, inFlight] = await Promise.all([listBreakers(db, tenantId), slotsInFlight(db, tenantId, now)]);
  const byName = new Map(breakers.map((b) => [b.connector, b]));
  const out: ConnectorReliability[] = [];
  for (const connector of CONNECTOR_NAMES) {
    const settings = await connectorResilienceSettings(db, tenantId, connector);
    const slo = sloTarget(settings.slo);
    const samples = await callSamples(db, tenantId, connector, new Date(now.getTime() - slo.windowSeconds * 1000), SLO_SAMPLE_LIMIT);
    const status = sloStatus(samples, slo);
    const row = byName.get(connector) ?? null;
    const state = breakerState(row, now);
    out.push({
      connector,
      state,
      inFlight: inFlight.get(connector) ?? 0,
      maxConcurrency: settings.maxConcurrency,
      p50Ms: status.p50Ms,
      p99Ms: status.p99Ms,
      errorRate: status.errorRate,
      calls: status.calls,
      slo,
      alert: status.alert,
      breached: status.breached,
      retryAt: state === "OPEN" || state === "HALF_OPEN" ? (row?.retryAt ?? null) : null,
      forcedReason: state === "FORCED_OPEN" ? (row?.forcedReason ?? null) : null,
      lastError: row?.lastError ?? null,
      breaker: breakerConfig(settings.breaker),
    });
  }
  return out;
}

/**
 * An admin isolates a connector (FORCED_OPEN: no call is made until they close it) or closes its
 * breaker (clean: no failures counted). A no-op when it is already so; else one
 * CONNECTOR_STATE_CHANGED with the admin as actor and their reason.
 */
export async function setForcedOpen(
  deps: { db: Db; clock: Clock },
  viewer: Viewer,
  input: { name: ConnectorName; forcedOpen: boolean; reason: string },
): Promise<ConnectorReliability> {
  const { db, clock } = deps;
  for (let round = 0; round < CAS_ROUNDS; round++) {
    const now = clock.now();
    const row = await ensureBreaker(db, viewer.tenantId, input.name, now);
    const move = adminMove(row, input.forcedOpen, now);
    if (!move.changed) break;
    const done = await transition(
      deps,
      viewer.tenantId,
      input.name,
      (tx) => setAdminPhase(tx, viewer.tenantId, input.name, row.phase, input.forcedOpen, input.reason, now),
      { from: move.from, to: move.to, reason: input.reason, actor: viewer.actor },
    );
    if (done) break;
  }
  // The admin's answer means "in force on every instance": other instances' kept CLOSED states run
  // out first — also when this request found the move already made (a retry, a second admin), as
  // the request that made it may still be waiting.
  await waitOutLeases(db, viewer.tenantId, input.name);
  const all = await connectorReliability(deps, viewer);
  return all.find((c) => c.connector === input.name) as ConnectorReliability;
}

/** The wrapper's dependencies from a service's {db, clock, connectors} (the edge put the process settings in `connectors`). */
export function resilienceDeps(deps: {
  db: Db;
  clock: Clock;
  connectors?: {
    sleep?: (ms: number) => Promise<void>;
    resilience?: { instanceId?: string; globalMaxConcurrency?: Partial<Record<ConnectorName, number>> };
  };
}): ResilienceDeps {
  return {
    db: deps.db,
    clock: deps.clock,
    sleep: deps.connectors?.sleep,
    instanceId: deps.connectors?.resilience?.instanceId,
    globalMaxConcurrency: deps.connectors?.resilience?.globalMaxConcurrency,
  };
}

/** A refusal as the error a fetch-shaped caller (the CRM client) sees: nothing was sent. */
export const refusedError = (connector: string, r: Refusal) =>
  new CallRefusedError(r.reason, refusalError(connector, r), r.retryAfterSeconds);

/**
 * How long one request of a running sync or pull waits for a free concurrency slot before it
 * gives up (then CallRefusedError CONCURRENCY_LIMIT). The job was admitted and its budget spent;
 * slots free in milliseconds — failing the whole pull for a momentary full cap turned ordinary
 * backpressure into FAILED pulls (test/integration/resilience-callers.test.ts). Half the CRM
 * client's own 10 s request timeout, whose clock runs while this waits; never past its signal.
 */
export const SLOT_WAIT_MS = 5_000;
const SLOT_WAIT_ROUNDS = 40;

/**
 * A `fetch` whose every request goes through the wrapper (the CRM client's sync and pull reads:
 * many requests per job, each admitted, sampled and counted on its own). A 5xx or a transport
 * error is the connector's fault; a 4xx is not (a 429 is the client's rate limiter's business).
 * GETs and searches are reads, so they are retried. No free slot: the request waits (jittered,
 * up to SLOT_WAIT_MS) for one; an open breaker, or a slot still not free, throws CallRefusedError.
 */
export function resilientFetch(deps: ResilienceDeps, target: Omit<CallTarget, "idempotent">, base: typeof fetch = fetch): typeof fetch {
  const sleep = deps.sleep ?? realSleep;
  const random = deps.random ?? Math.random;
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const method = (init?.method ?? "GET").toUpperCase();
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const read = method === "GET" || (method === "POST" && new URL(url).pathname.endsWith("/search"));
    let waited = 0;
    for (let round = 0; ; round++) {
      const r = await invokeWithResilience(
        deps,
        { ...target, idempotent: read },
        (signal) => base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal }),
        (res): Verdict => (res.ok ? { ok: true } : { ok: false, fault: res.status >= 500, error: `HTTP ${res.status}` }),
      );
      if (r.kind === "DONE") return r.value;
      const pause = 10 + jitteredBackoffMs(round, random(), 50, 1000);
      if (r.kind === "FAIL_FAST" || round + 1 >= SLOT_WAIT_ROUNDS || waited + pause > SLOT_WAIT_MS || init?.signal?.aborted)
        throw refusedError(target.connector, r);
      await sleep(pause);
      waited += pause;
      // The caller's own timeout ran out while this waited: nothing was sent, so it is still a refusal, not a fault.
      if (init?.signal?.aborted) throw refusedError(target.connector, r);
    }
  }) as typeof fetch;
}

/**
 * Would the breaker refuse a call now? A read, claiming nothing: the perception scheduler asks
 * before it spends a pull's budget (an open breaker DEFERs the pull with its retry_after). A
 * HALF_OPEN breaker whose probe is free admits: the pull's first request will claim the probe.
 */
export async function breakerRefusal(
  deps: { db: Db; clock: Clock },
  tenantId: string,
  connector: ConnectorName,
): Promise<Extract<Refusal, { kind: "FAIL_FAST" }> | null> {
  const state = await admissionState(deps.db, tenantId, connector, connectorKind(connector));
  const a = admit(state.breaker, breakerConfig(resilienceSettingsOf(state.config).breaker), deps.clock.now());
  return a.kind === "REJECT" ? { kind: "FAIL_FAST", reason: "BREAKER_OPEN", state: a.state, retryAfterSeconds: a.retryAfterSeconds } : null;
}
