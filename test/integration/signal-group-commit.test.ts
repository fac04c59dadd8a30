import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { createDb, type Db, type ObservedStatement } from "@/server/db";
import { AppError } from "@/server/errors";
import type { Viewer } from "@/server/repos/scope";
import { verifyLedger } from "@/server/services/ledger";
import { ingestSignal, type SignalInput } from "@/server/services/signals";
import { freshDb, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { seededRandom } from "../helpers/seededRandom";

/**
 * Signal intake's group commit (issue 13 item 2): concurrent pushes through the production
 * `ingestSignal` are written in shared transactions with multi-row statements, and each caller
 * still gets its own answer — a push for an unknown account gets its own 404 while its neighbours
 * are stored; repeated dedupe keys answer with the first push's signal; tenants never share a
 * group. Afterwards the stored state is exactly what the pushes one at a time would have left:
 * every signal once, a dense verified ledger with every SIGNAL_RECEIVED once, one window per
 * account with every signal counted and named, the debounce entries of the coalesced ones.
 */

let t: TestDb;
let db: Db;
let a: TestTenant;
let b: TestTenant;
const statements: ObservedStatement[] = [];
const clock = fixedClock("2026-05-04T10:00:00Z");
const system = (tenant: TestTenant): Viewer => ({
  tenantId: tenant.id,
  actor: { type: "SYSTEM", id: "group-test" },
  role: null,
  userId: null,
});

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  // A client of its own on the same database, so every statement of the run is seen.
  db = createDb(t.url, { observe: (s) => statements.push(s) });
});

afterAll(async () => {
  await db.$disconnect();
  await t.cleanup();
});

interface Push {
  tenant: TestTenant;
  input: SignalInput;
  /** the account does not exist in the pushing tenant */
  bad: boolean;
}

describe("signal intake group commit", () => {
  it("100 concurrent pushes (two tenants, repeated keys, unknown accounts): own answers, every signal once, dense verified ledgers, consistent windows, multi-row batches", async () => {
    const aAccounts = [...a.accounts.seller, a.accounts.seller2[0] as string];
    const bAccounts = b.accounts.seller.slice(0, 2);
    // One signal stored before the run: a push repeating its key is a duplicate of it.
    const before = await ingestSignal(
      t.db,
      system(a),
      { accountId: aAccounts[0] as string, signalType: "USAGE_TREND_CHANGE", dedupeKey: "pre-1", source: "test" },
      clock,
    );
    await t.db.triggerWindow.deleteMany({});
    const pushes: Push[] = [];
    const push = (
      tenant: TestTenant,
      accountId: string,
      dedupeKey: string | undefined,
      bad = false,
      evidence: Record<string, unknown> = {},
    ) =>
      pushes.push({
        tenant,
        bad,
        input: { accountId, signalType: "SUPPORT_RISK_EMERGING", severity: "high", evidence, dedupeKey, source: "test" },
      });
    for (let i = 0; i < 60; i++) push(a, aAccounts[i % aAccounts.length] as string, `d-${i}`, false, { i });
    for (let i = 0; i < 18; i++) push(a, aAccounts[i % aAccounts.length] as string, `d-${i}`, false, { i });
    push(a, aAccounts[1] as string, "pre-1");
    // No key of their own: the same fact in the same minute is one signal (derived key).
    push(a, aAccounts[2] as string, undefined, false, { same: "fact" });
    push(a, aAccounts[2] as string, undefined, false, { same: "fact" });
    // Unknown accounts: one that does not exist, one of the other tenant (the same 404).
    for (let i = 0; i < 3; i++) push(a, `no-such-account-${i}`, `bad-${i}`, true);
    push(a, bAccounts[0] as string, "bad-cross", true);
    // Tenant B: its own signals, one with a key tenant A also uses.
    for (let i = 0; i < 15; i++) push(b, bAccounts[i % bAccounts.length] as string, i === 0 ? "d-0" : `b-${i}`, false, { i });
    expect(pushes).toHaveLength(100);
    // Interleave (reproducibly): repeats, bad accounts and tenant B spread through the run.
    const { seed, random } = seededRandom(20261127);
    for (let i = pushes.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pushes[i], pushes[j]] = [pushes[j] as Push, pushes[i] as Push];
    }

    const results = await Promise.allSettled(pushes.map((p) => ingestSignal(db, system(p.tenant), p.input, clock)));

    // ── each caller's own answer ──
    const keyOf = (p: Push) => `${p.tenant.id}|${p.input.dedupeKey ?? JSON.stringify(p.input.evidence)}`;
    const firstOf = new Map<string, { signalId: string }>();
    const fresh = new Map<string, { signalId: string; push: Push }>();
    results.forEach((r, i) => {
      const p = pushes[i] as Push;
      if (p.bad) {
        expect(r.status, `seed ${seed}, push ${i}`).toBe("rejected");
        const err = (r as PromiseRejectedResult).reason;
        expect(err).toBeInstanceOf(AppError);
        expect(err).toMatchObject({ code: "NOT_FOUND", field: "account_id" });
        return;
      }
      expect(r.status, `seed ${seed}, push ${i}: ${r.status === "rejected" ? String(r.reason) : ""}`).toBe("fulfilled");
      const v = (r as PromiseFulfilledResult<{ signalId: string; duplicate: boolean }>).value;
      const k = keyOf(p);
      if (p.input.dedupeKey === "pre-1") {
        expect(v).toEqual({ signalId: before.signalId, duplicate: true });
        return;
      }
      const first = firstOf.get(k);
      if (!first) {
        // the earliest push of a key stores it; every later one answers with its signal
        expect(v.duplicate).toBe(false);
        firstOf.set(k, v);
        fresh.set(v.signalId, { signalId: v.signalId, push: p });
      } else expect(v).toEqual({ signalId: first.signalId, duplicate: true });
    });
    const freshA = [...fresh.values()].filter((f) => f.push.tenant === a);
    const freshB = [...fresh.values()].filter((f) => f.push.tenant === b);
    expect(freshA).toHaveLength(61); // 60 keys + the derived one
    expect(freshB).toHaveLength(15);

    // ── every signal stored exactly once, with the answered id ──
    for (const [tenant, own] of [
      [a, freshA],
      [b, freshB],
    ] as const) {
      const stored = await t.db.signal.findMany({ where: { tenantId: tenant.id } });
      const expected = own.map((f) => f.signalId).concat(tenant === a ? [before.signalId] : []);
      expect(stored.map((s) => s.id).sort()).toEqual(expected.sort());
      expect(new Set(stored.map((s) => s.dedupeKey)).size).toBe(stored.length);
      for (const f of own) {
        const s = stored.find((x) => x.id === f.signalId);
        expect(s).toMatchObject({ accountId: f.push.input.accountId, severity: "high", source: "test", receivedAt: clock.now() });
      }
    }
    expect(await t.db.signal.count({ where: { dedupeKey: { startsWith: "bad-" } } })).toBe(0);

    // ── ledgers: verified, dense, every SIGNAL_RECEIVED once, each tenant only its own ──
    for (const [tenant, own, other] of [
      [a, freshA, freshB],
      [b, freshB, freshA],
    ] as const) {
      expect(await verifyLedger(t.db, tenant.id), `seed ${seed}`).toMatchObject({ ok: true });
      const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: tenant.id }, orderBy: { seq: "asc" } });
      expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
      const received = entries.filter((e) => e.type === "SIGNAL_RECEIVED").map((e) => JSON.parse(e.payload).signal_id as string);
      const expected = own.map((f) => f.signalId).concat(tenant === a ? [before.signalId] : []);
      expect(received.sort()).toEqual(expected.sort());
      const ownAccounts = new Set(tenant === a ? aAccounts : bAccounts);
      for (const e of entries.filter((x) => x.accountId !== null)) expect(ownAccounts.has(e.accountId as string)).toBe(true);
      const foreign = new Set(other.map((f) => f.signalId));
      for (const e of entries) expect(foreign.has(JSON.parse(e.payload).signal_id)).toBe(false);
    }

    // ── one window per account, every signal counted, named and in its story ──
    for (const [tenant, own, accounts] of [
      [a, freshA, aAccounts],
      [b, freshB, bAccounts],
    ] as const) {
      const windows = await t.db.triggerWindow.findMany({ where: { tenantId: tenant.id } });
      expect(windows.map((w) => w.accountId).sort()).toEqual([...accounts].sort());
      const ledger = await t.db.ledgerEntry.findMany({ where: { tenantId: tenant.id }, orderBy: { seq: "asc" } });
      for (const w of windows) {
        const mine = own.filter((f) => f.push.input.accountId === w.accountId).map((f) => f.signalId);
        expect(w).toMatchObject({ triggerType: "SIGNAL_ARRIVED", events: mine.length, openedAt: clock.now(), lastEventAt: clock.now() });
        expect(w.signalIds.split(" ").sort()).toEqual([...mine].sort());
        const signals = await t.db.signal.findMany({ where: { id: { in: mine } } });
        expect(new Set(signals.map((s) => s.correlationId))).toEqual(new Set([w.correlationId]));
        const received = ledger.filter((e) => e.type === "SIGNAL_RECEIVED" && mine.includes(JSON.parse(e.payload).signal_id));
        expect(received).toHaveLength(mine.length);
        expect(new Set(received.map((e) => e.correlationId))).toEqual(new Set([w.correlationId]));
        // the first signal opened the window; each later one coalesced into it, counted in order
        const debounced = ledger.filter((e) => e.type === "TRIGGER_SUPPRESSED" && e.accountId === w.accountId);
        expect(debounced.map((e) => JSON.parse(e.payload).coalesced_events)).toEqual(mine.slice(1).map((_, i) => i + 2));
        for (const e of debounced) {
          expect(e.correlationId).toBe(w.correlationId);
          expect(JSON.parse(e.payload)).toMatchObject({
            reason: "DEBOUNCE",
            trigger_type: "SIGNAL_ARRIVED",
            window_opened_at: clock.now().toISOString(),
          });
        }
        const heat = await t.db.accountHeat.findUniqueOrThrow({
          where: { tenantId_accountId: { tenantId: tenant.id, accountId: w.accountId } },
        });
        expect(heat.dirtyAt).toEqual(clock.now());
      }
    }

    // ── batching happened: the signals went in multi-row INSERTs, one ledger-head bump per batch ──
    const inserts = statements.filter((s) => s.sql.startsWith('INSERT INTO "Signal"'));
    // Each INSERT carries its rows as one JSON array parameter (repos/rows.ts).
    const rows = inserts.map((s) => (JSON.parse(String(s.args[0])) as unknown[]).length);
    expect(rows.reduce((x, y) => x + y, 0)).toBe(freshA.length + freshB.length);
    // 100 pushes arrive in one turn: tenant A's 85 make two groups (at most 64 each), B's 15 one.
    expect(inserts.length).toBeLessThanOrEqual(3);
    expect(Math.max(...rows)).toBeGreaterThan(10);
    const heads = statements.filter((s) => s.sql.includes('UPDATE "LedgerHead" SET "seq"'));
    expect(heads.length).toBe(inserts.length);
  });
});
