import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fixedClock } from "@/server/clock";
import { createDb, type Db } from "@/server/db";
import type { Viewer } from "@/server/repos/scope";
import { verifyLedger } from "@/server/services/ledger";
import { ingestSignal } from "@/server/services/signals";
import { freshDb, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * When a group's transaction fails, no push fails with it: here another instance (its own client,
 * so its own group) stores one of the group's dedupe keys between the group's dedupe read and its
 * transaction — the real race between two app instances, made certain by running the other
 * instance's push right after the read. The group's multi-row INSERT hits the unique index, the
 * transaction rolls back, and each push runs again alone: the others are stored, the raced one
 * answers as a duplicate of the other instance's signal. A push alone in the same race answers as
 * a duplicate too (the lone unique-violation path).
 */

/** Set by a test: runs once, right after the next dedupe read of a group containing `key`. */
let race: { key: string; run: () => Promise<void> } | null = null;
const reads: string[][] = [];

vi.mock("@/server/repos/decisions", async (importOriginal) => {
  const real = await importOriginal<typeof import("@/server/repos/decisions")>();
  return {
    ...real,
    findSignalsByKeys: async (...args: Parameters<typeof real.findSignalsByKeys>) => {
      const rows = await real.findSignalsByKeys(...args);
      reads.push(args[2]);
      const r = race;
      if (r && args[2].includes(r.key)) {
        race = null;
        await r.run();
      }
      return rows;
    },
  };
});

let t: TestDb;
let other: Db;
let a: TestTenant;
const clock = fixedClock("2026-05-04T10:00:00Z");
const viewer = (): Viewer => ({ tenantId: a.id, actor: { type: "SYSTEM", id: "fallback-test" }, role: null, userId: null });

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  other = createDb(t.url);
});

afterAll(async () => {
  await other.$disconnect();
  await t.cleanup();
});

describe("signal intake group commit: a failed group transaction", () => {
  it("another instance stores one key mid-group: the group falls back to each push alone; the raced push answers as a duplicate, its neighbours are stored", async () => {
    const account = a.accounts.seller[0] as string;
    let theirs = "";
    race = {
      key: "f-3",
      run: async () => {
        theirs = (
          await ingestSignal(
            other,
            viewer(),
            { accountId: account, signalType: "USAGE_TREND_CHANGE", dedupeKey: "f-3", source: "other" },
            clock,
          )
        ).signalId;
      },
    };
    reads.length = 0;
    const keys = ["f-1", "f-2", "f-3", "f-4", "f-5"];
    const answers = await Promise.all(
      keys.map((k) =>
        ingestSignal(t.db, viewer(), { accountId: account, signalType: "USAGE_TREND_CHANGE", dedupeKey: k, source: "test" }, clock),
      ),
    );
    expect(theirs).not.toBe("");
    // one read for the group, the other instance's own read, then one read per push alone
    expect(reads).toEqual([keys, ["f-3"], ...keys.map((k) => [k])]);
    answers.forEach((ans, i) => {
      if (keys[i] === "f-3") expect(ans).toEqual({ signalId: theirs, duplicate: true });
      else expect(ans.duplicate).toBe(false);
    });
    const stored = await t.db.signal.findMany({ where: { tenantId: a.id } });
    expect(stored.map((s) => s.dedupeKey).sort()).toEqual(keys);
    expect(stored.find((s) => s.dedupeKey === "f-3")?.source).toBe("other");
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
    const received = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "SIGNAL_RECEIVED" } });
    expect(received.map((e) => JSON.parse(e.payload).signal_id).sort()).toEqual(stored.map((s) => s.id).sort());
    const window = await t.db.triggerWindow.findFirstOrThrow({ where: { tenantId: a.id, accountId: account } });
    expect(window.events).toBe(5);
    expect(window.signalIds.split(" ").sort()).toEqual(stored.map((s) => s.id).sort());
  });

  it("a push alone in the same race answers as a duplicate (unique violation → the stored signal)", async () => {
    const account = a.accounts.seller[1] as string;
    let theirs = "";
    race = {
      key: "lone-1",
      run: async () => {
        theirs = (
          await ingestSignal(
            other,
            viewer(),
            { accountId: account, signalType: "USAGE_TREND_CHANGE", dedupeKey: "lone-1", source: "other" },
            clock,
          )
        ).signalId;
      },
    };
    const before = await t.db.ledgerEntry.count({ where: { tenantId: a.id } });
    const ans = await ingestSignal(
      t.db,
      viewer(),
      { accountId: account, signalType: "USAGE_TREND_CHANGE", dedupeKey: "lone-1", source: "test" },
      clock,
    );
    expect(ans).toEqual({ signalId: theirs, duplicate: true });
    expect(await t.db.signal.count({ where: { tenantId: a.id, dedupeKey: "lone-1" } })).toBe(1);
    // only the other instance's SIGNAL_RECEIVED was written
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id } })).toBe(before + 1);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });
});
