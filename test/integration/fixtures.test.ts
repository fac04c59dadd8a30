import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { parseLedgerPayload } from "@/server/engine/ledgerPayloads";
import { writeFixtures } from "@/server/services/fixtures";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const clock = fixedClock("2026-11-20T12:00:00Z");

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

describe(`fixtures on ${TEST_PROVIDER}`, () => {
  it("writes accounts and a verifiable chain of typed stories for one tenant only", async () => {
    const otherHead = await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: b.id } });
    const otherCounts = [
      await t.db.ledgerEntry.count({ where: { tenantId: b.id } }),
      await t.db.account.count({ where: { tenantId: b.id } }),
    ];
    const accountsBefore = await t.db.account.count({ where: { tenantId: a.id } });
    const before = (await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq;
    const progress: { phase: string; done: number; total: number }[] = [];

    const res = await writeFixtures(t.db, clock, {
      tenantSlug: a.slug,
      accounts: 40,
      ledgerRows: 5_000,
      onProgress: (p) => progress.push(p),
    });

    expect(res).toEqual({ accounts: 40, ledgerRows: 5_000, headSeq: before + 5_000 });
    expect(await t.db.account.count({ where: { tenantId: a.id } })).toBe(accountsBefore + 40);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id } })).toBe(before + 5_000);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true, entries: before + 5_000 });
    expect(progress.at(-1)).toEqual({ phase: "ledger", done: 5_000, total: 5_000 });
    expect(progress.filter((p) => p.phase === "accounts").at(-1)).toEqual({ phase: "accounts", done: 40, total: 40 });

    // Accounts are realistic and owned by the tenant's sellers.
    const accounts = await t.db.account.findMany({ where: { tenantId: a.id, externalId: { startsWith: "fixture-" } } });
    expect(new Set(accounts.map((x) => x.name)).size).toBe(40);
    for (const x of accounts) {
      expect([a.seller.id, a.seller2.id]).toContain(x.ownerId);
      expect(x.domain).toMatch(/^[a-z0-9]+\.example\.com$/);
    }

    // Every payload parses as its own type; stories share correlation ids; times span the past 30 days.
    const rows = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, seq: { gt: before } }, orderBy: { seq: "asc" } });
    const types = new Set<string>();
    for (const r of rows) {
      expect(parseLedgerPayload(r.type, r.payload).type, `#${r.seq} ${r.type}`).toBe(r.type);
      expect(accounts.map((x) => x.id)).toContain(r.accountId);
      types.add(r.type);
    }
    for (const ty of [
      "SIGNAL_RECEIVED",
      "TRIGGER_FIRED",
      "INTENT_PROPOSED",
      "POLICY_EVALUATED",
      "EXECUTION_SUCCEEDED",
      "APPROVAL_REQUESTED",
    ])
      expect(types).toContain(ty);
    const byStory = new Map<string, string[]>();
    for (const r of rows) byStory.set(r.correlationId, [...(byStory.get(r.correlationId) ?? []), r.type]);
    expect(byStory.size).toBeLessThan(rows.length / 2);
    for (const s of byStory.values()) expect(s[0]).toBe("SIGNAL_RECEIVED");
    expect(rows.at(-1)?.createdAt.toISOString()).toBe(clock.now().toISOString());
    expect(clock.now().getTime() - (rows[0]?.createdAt.getTime() ?? 0)).toBe(30 * 86_400_000);

    // The other tenant is untouched.
    expect(await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: b.id } })).toEqual(otherHead);
    expect([await t.db.ledgerEntry.count({ where: { tenantId: b.id } }), await t.db.account.count({ where: { tenantId: b.id } })]).toEqual(
      otherCounts,
    );
  });

  it("an unknown tenant is a NOT_FOUND and writes nothing", async () => {
    const before = await t.db.ledgerEntry.count();
    await expect(writeFixtures(t.db, clock, { tenantSlug: "no-such-tenant", ledgerRows: 10 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await t.db.ledgerEntry.count()).toBe(before);
  });
});
