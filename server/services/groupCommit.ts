/**
 * Group commit (issue 13): requests that arrive together for one key — a tenant, whose ledger head
 * row every write of theirs must lock — are handed to `run` as one batch, so N callers share one
 * transaction, one ledger-head bump and multi-row inserts instead of N of each.
 *
 * When to cut a batch: at most one batch per key is in flight. A request that finds its key idle
 * waits one event-loop turn (`setImmediate`, not a timer), which gathers the requests the server
 * read off its sockets in the same turn without adding latency to a lone caller. A request that
 * finds a batch in flight joins the next one, which starts the moment the in-flight one ends —
 * it would have waited for that batch's lock anyway, so the gathering costs it nothing. A batch
 * holds at most `maxBatch` requests; the rest form the batches after it.
 *
 * `run` answers each request separately (`Settled`), so one request's failure is its own; if
 * `run` itself throws, every request of that batch gets the error.
 */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Waiter<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

interface KeyState<I, O> {
  pending: Waiter<I, O>[];
  running: boolean;
  scheduled: boolean;
}

export class GroupCommit<I, O> {
  private readonly keys = new Map<string, KeyState<I, O>>();

  constructor(
    private readonly run: (items: I[]) => Promise<Settled<O>[]>,
    private readonly maxBatch = 64,
  ) {}

  submit(key: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let state = this.keys.get(key);
      if (!state) {
        state = { pending: [], running: false, scheduled: false };
        this.keys.set(key, state);
      }
      state.pending.push({ item, resolve, reject });
      if (!state.running && !state.scheduled) {
        state.scheduled = true;
        const s = state;
        setImmediate(() => {
          s.scheduled = false;
          void this.drain(key, s);
        });
      }
    });
  }

  /** Run the key's batches one after another until nothing is pending, then forget the key. */
  private async drain(key: string, state: KeyState<I, O>) {
    if (state.running) return;
    state.running = true;
    try {
      while (state.pending.length > 0) {
        const batch = state.pending.splice(0, this.maxBatch);
        let settled: Settled<O>[];
        try {
          settled = await this.run(batch.map((w) => w.item));
        } catch (error) {
          settled = batch.map(() => ({ ok: false, error }));
        }
        batch.forEach((w, i) => {
          const s = settled[i];
          if (!s) w.reject(new Error("group commit: the batch gave no answer for this request"));
          else if (s.ok) w.resolve(s.value);
          else w.reject(s.error);
        });
      }
    } finally {
      state.running = false;
      if (state.pending.length === 0 && !state.scheduled) this.keys.delete(key);
    }
  }
}

/**
 * One GroupCommit per (database, clock) pair, made on first use. Why both: tests and the
 * scale-out harness run several databases and instances in one process, and a group must share
 * the `now` its members are decided at, so only callers with the same clock may share one.
 */
export function groupPer<A extends object, B extends object, I, O>(make: (a: A, b: B) => GroupCommit<I, O>) {
  const byA = new WeakMap<A, WeakMap<B, GroupCommit<I, O>>>();
  return (a: A, b: B): GroupCommit<I, O> => {
    let byB = byA.get(a);
    if (!byB) {
      byB = new WeakMap();
      byA.set(a, byB);
    }
    let group = byB.get(b);
    if (!group) {
      group = make(a, b);
      byB.set(b, group);
    }
    return group;
  };
}
