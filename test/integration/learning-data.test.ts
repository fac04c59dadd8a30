import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decidedIntentsPage } from "@/server/repos/learning";
import { labelledRows } from "@/server/services/learning/data";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * The labelled-rows read (one statement per page, rows folded into JSON): keyset pages over
 * intents that share a creation instant, edited versions folded into their original, undecided
 * and out-of-range intents and other tenants left out, dates back exactly as stored.
 */

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const at = new Date("2026-04-10T09:30:00.123Z");
const range = { from: new Date("2026-04-01T00:00:00Z"), to: new Date("2026-05-01T00:00:00Z") };

async function intent(
  tenant: TestTenant,
  id: string,
  status: string,
  createdAt: Date,
  extra: { parentId?: string; decision?: string } = {},
) {
  await t.db.actionIntent.create({
    data: {
      id,
      tenantId: tenant.id,
      accountId: tenant.accounts.seller[0] as string,
      correlationId: id,
      actionType: "CREATE_INTERNAL_TASK",
      confidence: 0.75,
      riskLevel: "LOW",
      rankScore: 0.5,
      source: "DECISION",
      status,
      features: JSON.stringify({ v: 1, owner_id: tenant.seller.id, signal_types: ["USAGE_TREND_CHANGE"], tier: "HOT" }),
      createdAt,
      updatedAt: createdAt,
      ...extra,
    },
  });
}

const outcome = (tenant: TestTenant, intentId: string, label: string) =>
  t.db.outcome.create({ data: { tenantId: tenant.id, intentId, label, createdAt: at } });

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  // Five decided originals at one instant (ids out of insertion order), one edited with its version.
  for (const id of ["t-c", "t-a", "t-e", "t-b", "t-d"]) {
    await intent(a, id, id === "t-b" ? "SUPERSEDED" : "REJECTED", at, { decision: "REQUIRE_APPROVAL" });
    await outcome(a, id, id === "t-b" ? "IDEA_EDITED" : "IDEA_REJECTED");
  }
  await intent(a, "t-b-v2", "SUCCEEDED", at, { parentId: "t-b" });
  await outcome(a, "t-b-v2", "EXECUTION_SUCCEEDED");
  await outcome(a, "t-b-v2", "RESPONSE_RECEIVED");
  await intent(a, "t-later", "BLOCKED", new Date(at.getTime() + 1), { decision: "BLOCK" });
  await intent(a, "t-pending", "PENDING_APPROVAL", at);
  await intent(a, "t-old", "REJECTED", new Date("2026-03-31T23:59:59.999Z"));
  await intent(a, "t-to", "REJECTED", range.to);
  await intent(b, "t-other", "REJECTED", at);
}, 60_000);
afterAll(() => t.cleanup());

describe(`labelled rows on ${TEST_PROVIDER}`, () => {
  it("pages by (createdAt, id) across a shared instant: every decided original once, in order, with its versions' labels", async () => {
    const seen: Awaited<ReturnType<typeof decidedIntentsPage>> = [];
    let after: { createdAt: Date; id: string } | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await decidedIntentsPage(t.db, a.id, range, after, 2);
      seen.push(...page);
      const last = page.at(-1);
      if (!last || page.length < 2) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
    expect(seen.map((r) => r.id)).toEqual(["t-a", "t-b", "t-c", "t-d", "t-e", "t-later"]);
    expect(seen[0]).toEqual({
      id: "t-a",
      actionType: "CREATE_INTERNAL_TASK",
      confidence: 0.75,
      rankScore: 0.5,
      features: expect.stringContaining('"v":1'),
      decision: "REQUIRE_APPROVAL",
      createdAt: at,
      labels: ["IDEA_REJECTED"],
    });
    expect([...(seen[1]?.labels ?? [])].sort()).toEqual(["EXECUTION_SUCCEEDED", "IDEA_EDITED", "RESPONSE_RECEIVED"]);
    expect(seen[5]).toMatchObject({ decision: "BLOCK", createdAt: new Date(at.getTime() + 1), labels: [] });
  });

  it("labelledRows trains on the judged ones and counts their decisions from the same read", async () => {
    const data = await labelledRows(t.db, a.id, range);
    expect(data.scanned).toBe(6);
    // The edited idea met a reply: 1; the rejected ones 0; the blocked one teaches nothing.
    expect(data.rows.map((r) => [r.id, r.label])).toEqual([
      ["t-a", 0],
      ["t-b", 1],
      ["t-c", 0],
      ["t-d", 0],
      ["t-e", 0],
    ]);
    expect(data.decisions).toEqual({ approved: 0, edited: 1, rejected: 4, expired: 0, no_response: 0, negative_response: 0, responded: 1 });
  });
});
