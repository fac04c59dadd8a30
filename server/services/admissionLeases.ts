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
 *   a write of the connector's cap or breaker settings) drops the entry at once; a read that raced
 *   the drop (its key's epoch moved), or that landed after a newer read, is not kept;
 * - across processes, an entry is trusted for ADMISSION_LEASE_MS from the moment its read *started*.
 *   An admin's force-open or close, and a request setting a connector's cap or breaker settings, wait
 *   that long after their commit before they return (`waitOutLeases`) — even when they found the
 *   change already made, as the request that made it may still be waiting. Once they have
 *   returned, every instance's next call reads the new state: force-open still stops the very next
 *   call anywhere, a lowered cap applies to the very next call anywhere. Every instance must run
 *   this code (the lease is a constant, not a setting, so they cannot disagree on it);
 * - a breaker tripped by another instance's failures reaches this one within the lease: calls it
 *   admits meanwhile were admitted concurrently with the trip, as a call read just before a trip
 *   is — a window of at most ADMISSION_LEASE_MS instead of one round trip, the price of not
 *   reading per call. A fault seen here ends it at once (the entry is dropped on the first failure).
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

/** What this process holds for one tenant's connector (not a concurrency slot). */
interface Entry {
  /** the kept state, while its lease runs */
  lease: Lease | null;
  /** moved by every drop of this key: a read started before a drop is not kept after it */
  epoch: number;
  /** when the newest read that landed had started: an older read landing after it is not kept */
  newest: number;
  /** the read in flight (on a caller's path or ahead of the lease's end), and when it started */
  reading: Promise<AdmissionState> | null;
  readingStarted: number;
}

const keyOf = (tenantId: string, connector: string) => `${tenantId}\u0000${connector}`;

/** CLOSED (or no row yet, which reads as CLOSED with nothing counted). */
const keepable = (s: AdmissionState) => s.breaker === null || s.breaker.phase === "CLOSED";

class AdmissionLeases {
  private readonly entries = new Map<string, Entry>();

  async read(tenantId: string, connector: string, load: () => Promise<AdmissionState>): Promise<AdmissionState> {
    const key = keyOf(tenantId, connector);
    const now = performance.now();
    const entry = this.entryOf(key);
    const held = entry.lease;
    if (held && held.until > now) {
      // Past half its lease, a busy connector's entry is read again off the caller's path, so
      // calls in a steady stream never wait for the read (the new lease starts when that read does).
      // A failed read ahead is dropped: the entry runs out and the next call reads on its own path,
      // where it meets the error.
      if (held.until - now < ADMISSION_LEASE_MS / 2 && !entry.reading) this.start(key, entry, load, now).catch(() => undefined);
      return held.state;
    }
    // Callers that find no lease share a read in flight, as long as it is as fresh as a lease would be.
    if (entry.reading && entry.readingStarted + ADMISSION_LEASE_MS > now) return entry.reading;
    return this.start(key, entry, load, now);
  }

  drop(tenantId: string, connector: string) {
    const entry = this.entries.get(keyOf(tenantId, connector));
    if (!entry) return;
    entry.epoch++;
    entry.lease = null;
    entry.reading = null;
  }

  private entryOf(key: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
      entry = { lease: null, epoch: 0, newest: Number.NEGATIVE_INFINITY, reading: null, readingStarted: 0 };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private start(key: string, entry: Entry, load: () => Promise<AdmissionState>, started: number): Promise<AdmissionState> {
    const epoch = entry.epoch;
    const reading: Promise<AdmissionState> = load()
      .then((state) => {
        // Kept only if nothing moved this key since the read started, no newer read landed first, and
        // the entry was not evicted meanwhile.
        if (entry.epoch === epoch && started >= entry.newest && this.entries.get(key) === entry) {
          entry.newest = started;
          entry.lease = keepable(state) ? { state, until: started + ADMISSION_LEASE_MS } : null;
        }
        return state;
      })
      .finally(() => {
        if (entry.reading === reading) entry.reading = null;
      });
    entry.reading = reading;
    entry.readingStarted = started;
    return reading;
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
