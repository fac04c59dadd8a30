import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { putAllowlist, putBudget, putMode } from "@/server/services/autonomyConfig";
import type { GateDeps } from "@/server/services/gate";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { intent, submitIntent } from "../helpers/gate";

/**
 * Budget rules on the production path (`submitIntent`, what REST, tRPC and decision runs call),
 * written from StrykerJS survivors in server/services/gate.ts: the BUDGET_CONSUMED entry, per-type
 * caps (and the account unit they must not take), the refund of a per-type unit when the account
 * cap refuses, and decay of unused autonomy.
 */
let t: TestDb;
let a: TestTenant;
const clock = fixedClock("2026-03-10T10:00:00Z");
const deps = (): GateDeps => ({ db: t.db, clock, connectors: { smtp: null } });

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  await putAllowlist(t.db, a.admin.viewer, { actionTypes: ["FLAG_FOR_REVIEW", "CREATE_INTERNAL_TASK"] }, clock);
  for (const actionType of ["FLAG_FOR_REVIEW", "CREATE_INTERNAL_TASK"])
    await putMode(t.db, a.admin.viewer, { actionType, mode: "AUTO_EXECUTE" }, clock);
});
afterAll(() => t.cleanup());

const submit = (accountId: string, actionType: string) =>
  submitIntent(deps(), a.admin.viewer, intent(accountId, { actionType, parameters: { title: "t", reason: "r" } }));

const usage = (accountId: string) =>
  t.db.budgetUsage.findMany({ where: { tenantId: a.id, accountId }, orderBy: [{ dateKey: "asc" }, { actionType: "asc" }] });

describe(`autonomy budget in the gate on ${TEST_PROVIDER}`, () => {
  it("an autonomous action consumes one unit and ledgers BUDGET_CONSUMED with cap, consumed and remaining", async () => {
    const acc = a.accounts.seller[0] as string;
    await putBudget(t.db, a.admin.viewer, { accountId: acc, maxPerDay: 3 }, clock);
    const r = await submit(acc, "CREATE_INTERNAL_TASK");
    expect(r).toMatchObject({ status: "SUCCEEDED", decision: "AUTO_EXECUTE" });
    const entry = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, type: "BUDGET_CONSUMED" } });
    expect(JSON.parse(entry.payload)).toEqual({
      action_intent_id: r.actionIntentId,
      date_key: "2026-03-10",
      cap: 3,
      consumed: 1,
      remaining: 2,
    });
    expect((await usage(acc)).map((u) => [u.dateKey, u.actionType, u.consumed])).toEqual([["2026-03-10", "", 1]]);
  });

  it("a per-type cap stops that type only, without taking a unit of the account's budget", async () => {
    const acc = a.accounts.seller[1] as string;
    await putBudget(t.db, a.admin.viewer, { accountId: acc, maxPerDay: 5, perTypeCaps: { FLAG_FOR_REVIEW: 1 } }, clock);
    expect(await submit(acc, "FLAG_FOR_REVIEW")).toMatchObject({ decision: "AUTO_EXECUTE" });
    const second = await submit(acc, "FLAG_FOR_REVIEW");
    expect(second).toMatchObject({ status: "PENDING_APPROVAL", reason: "BUDGET_EXHAUSTED" });
    expect(second.explanation).toContain("1 autonomous action of this type");
    expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ decision: "AUTO_EXECUTE" });
    expect((await usage(acc)).map((u) => [u.actionType, u.consumed])).toEqual([
      ["", 2],
      ["FLAG_FOR_REVIEW", 1],
    ]);
  });

  it("when the account cap refuses, the per-type unit taken first is given back", async () => {
    const acc = a.accounts.seller[2] as string;
    await putBudget(t.db, a.admin.viewer, { accountId: acc, maxPerDay: 1, perTypeCaps: { FLAG_FOR_REVIEW: 5 } }, clock);
    expect(await submit(acc, "FLAG_FOR_REVIEW")).toMatchObject({ decision: "AUTO_EXECUTE" });
    const refused = await submit(acc, "FLAG_FOR_REVIEW");
    expect(refused).toMatchObject({ status: "PENDING_APPROVAL", reason: "BUDGET_EXHAUSTED" });
    expect(refused.explanation).not.toContain("of this type");
    expect((await usage(acc)).map((u) => [u.actionType, u.consumed])).toEqual([
      ["", 1],
      ["FLAG_FOR_REVIEW", 1],
    ]);
  });

  it("decay: unused for seven days halves the cap (rounded up); any use in the week restores it", async () => {
    const acc = a.accounts.admin[0] as string;
    await putBudget(t.db, a.admin.viewer, { accountId: acc, maxPerDay: 3, decayIfUnused: true }, clock);
    // nothing used in the previous seven days: ceil(3 / 2) = 2 today
    expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ decision: "AUTO_EXECUTE" });
    expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ decision: "AUTO_EXECUTE" });
    expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ reason: "BUDGET_EXHAUSTED" });
    // the next day, yesterday's use counts: the full cap of 3
    clock.set("2026-03-11T10:00:00Z");
    try {
      for (let i = 0; i < 3; i++) expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ decision: "AUTO_EXECUTE" });
      expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ reason: "BUDGET_EXHAUSTED" });
      // eight days after the last use the week is empty again: 2
      clock.set("2026-03-19T10:00:00Z");
      for (let i = 0; i < 2; i++) expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ decision: "AUTO_EXECUTE" });
      expect(await submit(acc, "CREATE_INTERNAL_TASK")).toMatchObject({ reason: "BUDGET_EXHAUSTED" });
    } finally {
      clock.set("2026-03-10T10:00:00Z");
    }
  });
});
