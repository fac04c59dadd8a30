import { setTimeout as delay } from "node:timers/promises";
import type { Db } from "../db";
import type { admissionState } from "../repos/breaker";

/**
 * What a process read of a connector's breaker and resilience settings, trusted for a short lease
 * so that the wrapper does not read them before every call.
 *
 * Why: the admission read is a round trip before every connector call. On PostgreSQL, started right
 * after the previous call's network I/O, its p99 is ~2 ms on a two-core host (the process and the
 * server's backend waiting to be scheduled) — twice the wrapper's whole budget (issue 12: ≤ 1 ms at
 * p99), and a read per call per instance that the database serves for nothing while all is well.
 * A CLOSED breaker admits whatever its failure count says, so that is the state worth keeping; every
 * other state (OPEN, HALF_OPEN, FORCED_OPEN) is read on every call — its answer depends on the time
 * and on the one probe claim.
 *
 * What stays exact:
 * - in this process, every move it makes (a fault counted, a trip, a probe's result, an admin's move,
 *   a connector settings write) drops the entry at once, and a read that raced the drop is not kept
 *   (the epoch moved);
 * - across processes, an entry is trusted for LEASE_MS from the moment its read *started*. An admin's
 *   force-open or close, and a change of a connector's cap or breaker settings, wait that long after
 *   their commit before they return (`waitOutLeases`): once they have returned, every instance's next
 *   call reads the new state — force-open still stops the very next call anywhere, a lowered cap
 *   applies to the very next call anywhere. Every instance must run this code (the lease is a
 *   constant, not a setting, so they cannot disagree on it);
 * - a breaker tripped by another instance's failures reaches this one within the lease: calls it
 *   admits meanwhile were admitted concurrently with the trip, as a call read just before a trip
 *   is — a window of at most LEASE_MS instead of one round trip, the price of not reading per call.
 *   A fault seen here ends it at once (the entry is dropped on the first failure).
 */

/** How long a read CLOSED state is trusted. */
export const ADMISSION_LEASE_MS = 250;
/** Writers wait this much longer than the lease: timers fire late, never early, but clocks are not perfect. */
const WAIT_MARGIN_MS = 25;
/** Entries per database client: tenants × connectors in use; the oldest go first beyond it. */
const MAX_ENTRIES = 10_000;

type AdmissionState = Awaited<ReturnType<typeof admissionState>>;

interface Lease {
  state: AdmissionState;
  /** monotonic (performance.now) time after which the entry is not trusted */
  until: number;
}

const keyOf = (tenantId: string, connector: string) => `${tenantId}\u0000${connector}`;

/** CLOSED (or no row yet, which reads as CLOSED with nothing counted). */
const keepable = (s: AdmissionState) => s.breaker === null || s.breaker.phase === "CLOSED";

class AdmissionLeases {
  private readonly entries = new Map<string, Lease>();
  /** keys whose entry is being read again ahead of its end */
  private readonly refreshing = new Set<string>();
  /** moved by every drop: a read started before a drop must not be kept after it */
  private epoch = 0;

  async read(tenantId: string, connector: string, load: () => Promise<AdmissionState>): Promise<AdmissionState> {
    const key = keyOf(tenantId, connector);
    const now = performance.now();
    const held = this.entries.get(key);
    if (held && held.until > now) {
      // Past half its lease, a busy connector's entry is read again off the caller's path, so
      // calls in a steady stream never wait for the read (the new lease starts when that read does).
      if (held.until - now < ADMISSION_LEASE_MS / 2 && !this.refreshing.has(key)) {
        this.refreshing.add(key);
        this.load(key, load, now)
          .catch(() => undefined) // the entry simply runs out; the next call reads on its own path and sees the error
          .finally(() => this.refreshing.delete(key));
      }
      return held.state;
    }
    return this.load(key, load, now);
  }

  private async load(key: string, load: () => Promise<AdmissionState>, started: number) {
    const epoch = this.epoch;
    const state = await load();
    if (epoch !== this.epoch) return state;
    this.entries.delete(key);
    if (keepable(state)) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(key, { state, until: started + ADMISSION_LEASE_MS });
    }
    return state;
  }

  drop(tenantId: string, connector: string) {
    this.epoch++;
    this.entries.delete(keyOf(tenantId, connector));
  }
}

const byClient = new WeakMap<Db, AdmissionLeases>();

/** The leases of one database client (an instance's connection pool: what it read, it keeps). */
export function admissionLeases(db: Db): AdmissionLeases {
  let leases = byClient.get(db);
  if (!leases) {
    leases = new AdmissionLeases();
    byClient.set(db, leases);
  }
  return leases;
}

/**
 * After a committed change to what admission reads, by an admin or an operator: this process's entry
 * is dropped now, and the caller returns only once any other process's entry read before the commit
 * has run out — so "done" means "in force everywhere".
 */
export async function waitOutLeases(db: Db, tenantId: string, connector: string) {
  admissionLeases(db).drop(tenantId, connector);
  await delay(ADMISSION_LEASE_MS + WAIT_MARGIN_MS);
}
