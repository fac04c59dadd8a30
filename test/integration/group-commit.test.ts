import { describe, expect, it } from "vitest";
import { GroupCommit, type Settled } from "../../server/services/groupCommit";

/** A runner that records the batches it was given and answers each item on its own. */
function recorder(answer: (n: number) => Settled<number> = (n) => ({ ok: true, value: n * 10 })) {
  const batches: number[][] = [];
  let release: () => void = () => {};
  let gate: Promise<void> | null = null;
  const run = async (items: number[]) => {
    batches.push(items);
    if (gate) await gate;
    return items.map(answer);
  };
  return {
    batches,
    run,
    hold() {
      gate = new Promise<void>((r) => {
        release = r;
      });
    },
    release: () => {
      gate = null;
      release();
    },
  };
}

describe("GroupCommit", () => {
  it("gathers requests of one turn into one batch and answers each with its own value", async () => {
    const r = recorder();
    const g = new GroupCommit(r.run, 64);
    const answers = await Promise.all([1, 2, 3].map((n) => g.submit("t", n)));
    expect(answers).toEqual([10, 20, 30]);
    expect(r.batches).toEqual([[1, 2, 3]]);
  });

  it("keeps keys apart: another key's requests never share a batch", async () => {
    const r = recorder();
    const g = new GroupCommit(r.run, 64);
    await Promise.all([g.submit("a", 1), g.submit("b", 2), g.submit("a", 3)]);
    expect(r.batches.sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0))).toEqual([[1, 3], [2]]);
  });

  it("runs one batch per key at a time; requests arriving meanwhile form the next batch, cut at maxBatch", async () => {
    const r = recorder();
    const g = new GroupCommit(r.run, 2);
    r.hold();
    const first = g.submit("t", 1);
    await new Promise((res) => setImmediate(res));
    expect(r.batches).toEqual([[1]]);
    const later = [2, 3, 4].map((n) => g.submit("t", n));
    await new Promise((res) => setImmediate(res));
    // still only the first batch: the others wait for it to finish
    expect(r.batches).toEqual([[1]]);
    r.release();
    expect(await Promise.all([first, ...later])).toEqual([10, 20, 30, 40]);
    expect(r.batches).toEqual([[1], [2, 3], [4]]);
  });

  it("fails only the request whose answer is a failure; a throwing runner fails its whole batch", async () => {
    const r = recorder((n) => (n === 2 ? { ok: false, error: new Error("bad 2") } : { ok: true, value: n }));
    const g = new GroupCommit(r.run, 64);
    const results = await Promise.allSettled([1, 2, 3].map((n) => g.submit("t", n)));
    expect(results.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const boom = new GroupCommit<number, number>(async () => {
      throw new Error("boom");
    });
    const all = await Promise.allSettled([boom.submit("t", 1), boom.submit("t", 2)]);
    expect(all.map((x) => (x.status === "rejected" ? (x.reason as Error).message : "ok"))).toEqual(["boom", "boom"]);
  });
});
