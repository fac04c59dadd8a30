import type { Db } from "../db";
import { describeUnexpected } from "../errors";
import { type CallSample, insertCallSamples } from "../repos/breaker";

/**
 * The SLO's call samples leave the call path: the resilience wrapper hands each sample to this
 * buffer and returns; the buffer writes them in one multi-row insert per tenant every
 * FLUSH_MS (or at once when MAX_PENDING pile up). A row per call written inside the call cost a
 * statement on every connector call (issue 12's wrapper-overhead bar is ≤ 1 ms at p99).
 *
 * What this gives up, on purpose: a process killed with SIGKILL loses at most FLUSH_MS of its
 * samples (they are metrics over a 15-minute window, never a record of what was sent — the
 * execution rows and the ledger are). Readers in this process (the SLO, the reliability series,
 * /api/metrics) flush first, so they always see their own calls; other instances' calls appear
 * within FLUSH_MS. A graceful stop flushes (`flushAllCallSamples`).
 */

export const FLUSH_MS = 200;
const MAX_PENDING = 500;

interface Pending {
  rows: (CallSample & { at: Date })[];
  timer: NodeJS.Timeout | null;
  /** the write in progress, so a reader's flush waits for rows already taken off the buffer */
  writing: Promise<void>;
}

const buffers = new Map<Db, Pending>();

/** Queue one sample for the next batch; never throws, never waits for the database. */
export function recordCallSample(db: Db, sample: CallSample, at: Date): void {
  let p = buffers.get(db);
  if (!p) {
    p = { rows: [], timer: null, writing: Promise.resolve() };
    buffers.set(db, p);
  }
  p.rows.push({ ...sample, at });
  if (p.rows.length >= MAX_PENDING) void flushCallSamples(db);
  else if (!p.timer) {
    p.timer = setTimeout(() => void flushCallSamples(db), FLUSH_MS);
    // A pending batch never keeps a finished process (a CLI command, a test) alive.
    p.timer.unref();
  }
}

/**
 * Write whatever is buffered for this database — or, given a tenant, only that tenant's samples
 * (a reader answering tenant A writes A's rows, never B's: the isolation harness holds every
 * request to that) — and wait for it (and for a batch already being written). A failed batch is
 * dropped with one log line naming the count: a sample is not worth retrying into a database that
 * is refusing writes, and never worth failing a caller.
 */
export async function flushCallSamples(db: Db, tenantId?: string): Promise<void> {
  const p = buffers.get(db);
  if (!p) return;
  let rows: Pending["rows"];
  if (tenantId === undefined) {
    rows = p.rows;
    p.rows = [];
  } else {
    rows = p.rows.filter((r) => r.tenantId === tenantId);
    p.rows = p.rows.filter((r) => r.tenantId !== tenantId);
  }
  // Other tenants' rows stay for their own timer; nothing left, no timer.
  if (!p.rows.length && p.timer) {
    clearTimeout(p.timer);
    p.timer = null;
  }
  if (!rows.length) return p.writing;
  const previous = p.writing;
  const write = previous.then(async () => {
    // One insert per tenant: no statement ever carries two tenants' rows.
    const byTenant = new Map<string, typeof rows>();
    for (const r of rows) {
      const list = byTenant.get(r.tenantId);
      if (list) list.push(r);
      else byTenant.set(r.tenantId, [r]);
    }
    for (const list of byTenant.values()) {
      try {
        await insertCallSamples(db, list);
      } catch (err) {
        console.error(`[resilience] dropped ${list.length} call sample(s): ${describeUnexpected(err)}`);
      }
    }
  });
  p.writing = write;
  await write;
  if (!p.rows.length && p.writing === write) buffers.delete(db);
}

/** Every database's buffer (a graceful shutdown, before the client disconnects). */
export async function flushAllCallSamples(): Promise<void> {
  await Promise.all([...buffers.keys()].map((db) => flushCallSamples(db)));
}
