import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "@/server/api/root";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant, type TestUser } from "../helpers/factory";
import { clock, deps, intent, submitIntent } from "../helpers/gate";

/** The seller views and the member list, read through tRPC as the UI does, after their queries moved into repos. */

let t: TestDb;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

const caller = (u: TestUser) => createCaller({ db: t.db, clock, session: u.session });

async function pending(tenant: TestTenant, accountId: string) {
  const r = await submitIntent(
    deps(t.db),
    tenant.admin.viewer,
    intent(accountId, { actionType: "DRAFT_EMAIL", parameters: { to: "c1@example.test", subject: "Renewal", body: "Hi" } }),
  );
  expect(r.status).toBe("PENDING_APPROVAL");
  return r.actionIntentId;
}

describe(`seller views on ${TEST_PROVIDER}`, () => {
  it("the timeline names the human who rejected, with the account and its owner; only viewers who may see the account get it", async () => {
    const account = a.accounts.seller[0] as string;
    const id = await pending(a, account);
    await caller(a.seller).work.reject({ id, reason: "not this quarter" });

    const mine = (await caller(a.seller).work.timeline({ limit: 100 })).items.find((i) => i.id === id);
    expect(mine).toMatchObject({
      status: "REJECTED",
      review: { decision: "REJECTED", reason: "not this quarter", by: a.seller.session.user.name },
      account: { id: account, owner: a.seller.session.user.name },
    });
    expect(mine?.account.name).toMatch(/account/);
    // The admin sees the whole tenant; the other seller and another tenant do not see it at all.
    expect((await caller(a.admin).work.timeline({ limit: 100 })).items.some((i) => i.id === id)).toBe(true);
    expect((await caller(a.seller2).work.timeline({ limit: 100 })).items.some((i) => i.id === id)).toBe(false);
    expect((await caller(b.admin).work.timeline({ limit: 100 })).items.some((i) => i.id === id)).toBe(false);
  });

  it("intent detail and artifacts answer NOT_FOUND for another seller's account and for another tenant", async () => {
    const account = a.accounts.seller[1] as string;
    const id = await pending(a, account);
    expect(await caller(a.seller).work.intent({ id })).toMatchObject({ id, accountId: account, status: "PENDING_APPROVAL" });
    await expect(caller(a.seller2).work.intent({ id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(caller(b.admin).work.intent({ id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await caller(a.seller).work.artifacts({ accountId: account })).toEqual(expect.any(Array));
    await expect(caller(a.seller2).work.artifacts({ accountId: account })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(caller(b.admin).work.artifacts({ accountId: account })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe(`members on ${TEST_PROVIDER}`, () => {
  it("lists exactly the viewer's tenant's members, for auditors and admins only", async () => {
    const emails = (rows: { email: string }[]) => rows.map((r) => r.email).sort();
    const expected = [a.admin, a.seller, a.seller2, a.auditor].map((u) => u.email).sort();
    expect(emails(await caller(a.auditor).me.members())).toEqual(expected);
    expect(emails(await caller(a.admin).me.members())).toEqual(expected);
    expect(await caller(a.admin).me.members()).toContainEqual({
      userId: a.seller.session.user.id,
      name: a.seller.session.user.name,
      email: a.seller.email,
      role: "SELLER",
    });
    expect(emails(await caller(b.admin).me.members())).not.toContain(a.admin.email);
    await expect(caller(a.seller).me.members()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
