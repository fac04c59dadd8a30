import { getErrorShape, type TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as alwaysOnGet, PUT as alwaysOnPut } from "@/app/api/v1/autonomy/always-on/route";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { appRouter, createCaller } from "@/server/api/root";
import { systemClock } from "@/server/clock";
import { createApiKey } from "@/server/services/apiKeys";
import { saveDigestSettings } from "@/server/services/digest/settings";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { runDecisionNow } from "../helpers/gate";

/**
 * Always-on autonomy (SPEC §4.6, the §5.1 row `GET/PUT /api/v1/autonomy/always-on`): switching an
 * account on is refused with exactly the conditions that do not hold, each going away as it is
 * fixed; a decision run's proposal that policy would auto-execute waits as NOT_OPTED_IN until all
 * hold, and executes once they do; an external engine's intents keep plain policy.
 */

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const k = { admin: "", ingest: "", otherAdmin: "" };
const T = "CREATE_INTERNAL_TASK"; // what the weekly review ritual proposes
const DIGEST = { enabled: true, email: "seller@example.test", hour_local: 8, timezone: "Europe/Berlin" };

type Body = Record<string, unknown> & { error: { code: string; message: string; field?: string; reasons?: string[] } };
async function call(
  handler: (req: Request) => Promise<Response>,
  key: string,
  init: { method?: string; qs?: string; body?: unknown } = {},
) {
  const res = await handler(
    new Request(`http://127.0.0.1/api/v1/autonomy/always-on${init.qs ? `?${init.qs}` : ""}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    }),
  );
  return { status: res.status, json: (await res.json()) as Body };
}
const put = (body: unknown, key = k.admin) => call(alwaysOnPut, key, { method: "PUT", body });
const caller = (tenant: TestTenant, who: "admin" | "seller" | "seller2" | "auditor") =>
  createCaller({ db: t.db, clock: systemClock, session: tenant[who].session });
const changes = (accountId: string | null) =>
  t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "ALWAYS_ON_CHANGED", accountId }, orderBy: { seq: "asc" } });

/**
 * The decision run's one proposal on `account`, with its stored evaluation and ledgered policy
 * decision. A proposal still waiting would suppress the next run's copy (synthesis adds no
 * duplicates to the inbox), so the caller rejects one before deciding again (`dismiss`).
 */
async function decide(account: string) {
  const runId = await runDecisionNow(t.db, a.admin.viewer, account);
  const run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
  expect(run.costGateResult).toBe("ALLOW");
  const intent = await t.db.actionIntent.findFirstOrThrow({ where: { tenantId: a.id, correlationId: run.correlationId, actionType: T } });
  const evaluated = await t.db.ledgerEntry.findFirstOrThrow({
    where: { tenantId: a.id, type: "POLICY_EVALUATED", payload: { contains: intent.id } },
  });
  const evaluation = await t.db.policyEvaluation.findFirstOrThrow({ where: { intentId: intent.id } });
  return { intent, payload: JSON.parse(evaluated.payload) as Record<string, unknown>, evaluation };
}
const dismiss = (intentId: string) => caller(a, "admin").work.reject({ id: intentId, reason: "next scenario" });
const budgetUsed = async (account: string) =>
  (await t.db.budgetUsage.findMany({ where: { tenantId: a.id, accountId: account } })).reduce((s, u) => s + u.consumed, 0);

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  const key = async (tenantId: string, scopes: ("admin" | "ingest")[]) =>
    (await createApiKey(t.db, { tenantId, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)).key;
  k.admin = await key(a.id, ["admin"]);
  k.ingest = await key(a.id, ["ingest"]);
  k.otherAdmin = await key(b.id, ["admin"]);
  // Policy alone would let the weekly review's internal task run: allowlisted, AUTO_EXECUTE, a budget.
  const admin = caller(a, "admin");
  await admin.autonomy.setAllowlist({ actionTypes: [T] });
  await admin.autonomy.setMode({ mode: "AUTO_EXECUTE" });
  await admin.autonomy.setBudget({ maxPerDay: 1000 });
  await admin.decisions.saveSettings({ costGate: { minSecondsBetweenRuns: 0, maxOpenIntents: 1000 } });
  await t.db.account.updateMany({ where: { tenantId: a.id }, data: { lifecycle: "CUSTOMER" } });
});
afterAll(() => t.cleanup());

describe(`always-on opt-in on ${TEST_PROVIDER}`, () => {
  it("the bar: refused with exactly the missing reasons, each going away as it is fixed; NOT_OPTED_IN until all hold, then it executes", async () => {
    const account = a.accounts.seller[0] as string;
    expect((await call(alwaysOnGet, k.admin, { qs: `account_id=${account}` })).json).toEqual({
      tenant: { enabled: false },
      account_id: account,
      opted_in: false,
      active: false,
      missing: ["TENANT_NOT_OPTED_IN", "ACCOUNT_NOT_OPTED_IN", "NO_DIGEST_CONFIGURED"],
    });

    // Not opted in: the decision run's proposal waits, names every missing condition, takes no budget.
    const waiting = await decide(account);
    expect(waiting.intent).toMatchObject({ status: "PENDING_APPROVAL", decision: "REQUIRE_APPROVAL", reason: "NOT_OPTED_IN" });
    expect(waiting.payload).toMatchObject({
      reason: "NOT_OPTED_IN",
      policy_clause: "G2.always-on",
      always_on_missing: ["TENANT_NOT_OPTED_IN", "ACCOUNT_NOT_OPTED_IN", "NO_DIGEST_CONFIGURED"],
    });
    expect(JSON.parse(waiting.evaluation.input).alwaysOnMissing).toEqual([
      "TENANT_NOT_OPTED_IN",
      "ACCOUNT_NOT_OPTED_IN",
      "NO_DIGEST_CONFIGURED",
    ]);
    expect(await budgetUsed(account)).toBe(0);
    expect(await t.db.execution.count({ where: { intentId: waiting.intent.id } })).toBe(0);
    await dismiss(waiting.intent.id);

    const refused = await put({ account_id: account, enabled: true });
    expect(refused.status).toBe(422);
    expect(refused.json.error).toMatchObject({ code: "ALWAYS_ON_REFUSED", reasons: ["TENANT_NOT_OPTED_IN", "NO_DIGEST_CONFIGURED"] });
    expect(refused.json.error.message).toContain("workspace has not opted in");

    expect(await put({ enabled: true })).toMatchObject({ status: 200, json: { tenant: { enabled: true }, opted_in: true, active: true } });
    expect((await put({ account_id: account, enabled: true })).json.error).toMatchObject({ reasons: ["NO_DIGEST_CONFIGURED"] });

    // A digest that would reach nobody (switched off, or a zone that does not exist) is no digest.
    const seller = a.seller.viewer;
    await saveDigestSettings(t.db, seller, a.seller.id, { ...DIGEST, enabled: false }, systemClock);
    expect((await put({ account_id: account, enabled: true })).json.error).toMatchObject({ reasons: ["NO_DIGEST_CONFIGURED"] });
    // The service refuses an unknown zone; a stored one the runtime no longer knows (tzdata moved on) reads the same.
    await t.db.digestSettings.update({
      where: { tenantId_userId: { tenantId: a.id, userId: a.seller.id } },
      data: { enabled: true, timezone: "Mars/Olympus" },
    });
    expect((await put({ account_id: account, enabled: true })).json.error).toMatchObject({ reasons: ["NO_DIGEST_CONFIGURED"] });
    // Tenant on, digest fixed, account still off: the gate says exactly that.
    await saveDigestSettings(t.db, seller, a.seller.id, DIGEST, systemClock);
    const stillWaiting = await decide(account);
    expect(stillWaiting.payload).toMatchObject({ reason: "NOT_OPTED_IN", always_on_missing: ["ACCOUNT_NOT_OPTED_IN"] });
    await dismiss(stillWaiting.intent.id);
    expect(await changes(account)).toHaveLength(0); // refusals wrote nothing

    const on = await put({ account_id: account, enabled: true });
    expect(on).toMatchObject({ status: 200, json: { account_id: account, opted_in: true, active: true, missing: [] } });
    const executed = await decide(account);
    expect(executed.intent).toMatchObject({ status: "SUCCEEDED", decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED" });
    expect(executed.payload).toMatchObject({ decision: "AUTO_EXECUTE", always_on_missing: [] });
    expect(await budgetUsed(account)).toBe(1);

    // Ledgered with the real actor and before/after; re-enabling changes nothing and writes nothing.
    const [entry] = await changes(account);
    expect(entry).toMatchObject({ actorType: "API_KEY" });
    expect(JSON.parse(entry?.payload ?? "{}")).toEqual({ account_id: account, before: false, after: true });
    expect((await put({ account_id: account, enabled: true })).status).toBe(200);
    expect(await changes(account)).toHaveLength(1);
    expect(await changes(null)).toHaveLength(1);
  });

  it("intents from POST /api/v1/intents keep plain policy on an account that is not opted in", async () => {
    const account = a.accounts.seller[1] as string;
    expect((await caller(a, "admin").alwaysOn.status({ accountId: account })).missing).toContain("ACCOUNT_NOT_OPTED_IN");
    // The account's decision-run proposal waits…
    expect((await decide(account)).intent.reason).toBe("NOT_OPTED_IN");
    // …while an external engine's intent of the same type runs on policy alone.
    const res = await intentsPost(
      new Request("http://127.0.0.1/api/v1/intents", {
        method: "POST",
        headers: { authorization: `Bearer ${k.ingest}`, "content-type": "application/json" },
        body: JSON.stringify({
          account_id: account,
          action_type: T,
          confidence: 0.95,
          risk_level: "LOW",
          why: ["X"],
          parameters: { title: "x" },
        }),
      }),
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ decision: "AUTO_EXECUTE", status: "SUCCEEDED" });
  });

  it("who may: the owning seller switches their own account; not another seller's (404), not the workspace (403); auditors never", async () => {
    const own = a.accounts.seller[2] as string;
    const seller = caller(a, "seller");
    expect(await seller.alwaysOn.setAccount({ accountId: own, enabled: true })).toMatchObject({ optedIn: true, active: true });
    const [entry] = await changes(own);
    expect(entry).toMatchObject({ actorType: "USER", actorId: a.seller.id });
    await expect(seller.alwaysOn.setAccount({ accountId: a.accounts.seller2[0] as string, enabled: true })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(seller.alwaysOn.status({ accountId: a.accounts.seller2[0] as string })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(seller.alwaysOn.setTenant({ enabled: false })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(caller(a, "auditor").alwaysOn.setAccount({ accountId: own, enabled: false })).rejects.toMatchObject({ code: "FORBIDDEN" });
    // The seller's list holds only their accounts, each with its state.
    const list = await seller.alwaysOn.list({});
    expect(list.items.map((i) => i.accountId).sort()).toEqual([...a.accounts.seller].sort());
    expect(list.items.find((i) => i.accountId === own)).toMatchObject({ optedIn: true, active: true, missing: [] });
    // seller2 has no digest: an admin is refused for their account too, with that reason, over tRPC.
    const refusal = await caller(a, "admin")
      .alwaysOn.setAccount({ accountId: a.accounts.seller2[0] as string, enabled: true })
      .then(
        () => null,
        (e: unknown) => e as TRPCError,
      );
    expect(refusal).toMatchObject({ cause: { publicCode: "ALWAYS_ON_REFUSED", details: { reasons: ["NO_DIGEST_CONFIGURED"] } } });
    // What the browser receives: the formatter's shape carries the code and the reasons.
    const shape = getErrorShape({
      config: appRouter._def._config,
      error: refusal as TRPCError,
      type: "mutation",
      path: "alwaysOn.setAccount",
      input: undefined,
      ctx: undefined,
    });
    expect(shape.data).toMatchObject({
      code: "UNPROCESSABLE_CONTENT",
      appCode: "ALWAYS_ON_REFUSED",
      details: { reasons: ["NO_DIGEST_CONFIGURED"] },
    });
    // Switching off is never refused.
    expect(await seller.alwaysOn.setAccount({ accountId: own, enabled: false })).toMatchObject({ optedIn: false, active: false });
  });

  it("another tenant's account answers 404 everywhere, and nothing changes", async () => {
    const foreign = b.accounts.seller[0] as string;
    expect((await call(alwaysOnGet, k.admin, { qs: `account_id=${foreign}` })).status).toBe(404);
    const r = await put({ account_id: foreign, enabled: true });
    expect(r).toMatchObject({ status: 404, json: { error: { code: "NOT_FOUND", field: "account_id" } } });
    expect((await put({ account_id: foreign, enabled: false })).status).toBe(404);
    await expect(caller(a, "admin").alwaysOn.setAccount({ accountId: foreign, enabled: false })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(caller(a, "admin").alwaysOn.status({ accountId: foreign })).rejects.toMatchObject({ code: "NOT_FOUND" });
    // b's own admin key sees b's account untouched, and b's tenant not opted in by a's writes.
    expect((await call(alwaysOnGet, k.otherAdmin, { qs: `account_id=${foreign}` })).json).toMatchObject({
      tenant: { enabled: false },
      opted_in: false,
    });
    expect(await t.db.alwaysOnOptIn.count({ where: { tenantId: b.id } })).toBe(0);
  });

  it("bad input → 400 naming the field; a key without admin scope → 403", async () => {
    expect((await put({ enabled: "yes" })).json.error).toMatchObject({ code: "BAD_REQUEST", field: "enabled" });
    expect((await put({ enabled: true, tenant_id: b.id })).status).toBe(400);
    expect((await put({ enabled: true }, k.ingest)).status).toBe(403);
  });

  it.each(["AlwaysOnOptIn", "DigestSettings"])(
    "the %s table unreadable (renamed) while a decision run's proposal is admitted → GATE_ERROR, never AUTO_EXECUTE",
    async (table) => {
      // An account with nothing executed yet (a recent execution lowers the next proposal's confidence).
      const account = a.accounts.admin[1] as string;
      await saveDigestSettings(t.db, a.admin.viewer, a.admin.id, DIGEST, systemClock);
      expect((await put({ account_id: account, enabled: true })).json).toMatchObject({ active: true });
      const usedBefore = await budgetUsed(account);
      await t.db.$executeRawUnsafe(`ALTER TABLE "${table}" RENAME TO "${table}_gone"`);
      try {
        const runId = await runDecisionNow(t.db, a.admin.viewer, account);
        const run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
        const intent = await t.db.actionIntent.findFirstOrThrow({
          where: { tenantId: a.id, correlationId: run.correlationId, actionType: T },
        });
        expect(intent).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "GATE_ERROR", status: "PENDING_APPROVAL" });
        await dismiss(intent.id);
      } finally {
        await t.db.$executeRawUnsafe(`ALTER TABLE "${table}_gone" RENAME TO "${table}"`);
      }
      expect(await budgetUsed(account)).toBe(usedBefore);
    },
  );

  it("10 concurrent enable/disable calls: a consistent state and one ALWAYS_ON_CHANGED per actual change", async () => {
    const account = a.accounts.admin[0] as string;
    await saveDigestSettings(t.db, a.admin.viewer, a.admin.id, DIGEST, systemClock);
    const before = (await changes(account)).length;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => put({ account_id: account, enabled: i % 3 !== 0 })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const entries = (await changes(account)).slice(before).map((e) => JSON.parse(e.payload) as { before: boolean; after: boolean });
    expect(entries.length).toBeGreaterThanOrEqual(1);
    // The entries replay into the stored state: each one a real change from the state the previous one left.
    let state = false;
    for (const e of entries) {
      expect(e.before).toBe(state);
      expect(e.after).toBe(!state);
      state = e.after;
    }
    const stored = await t.db.alwaysOnOptIn.findUniqueOrThrow({ where: { tenantId_accountKey: { tenantId: a.id, accountKey: account } } });
    expect(stored.enabled).toBe(state);
    expect((await call(alwaysOnGet, k.admin, { qs: `account_id=${account}` })).json.opted_in).toBe(state);
    expect((await verifyLedger(t.db, a.id)).ok).toBe(true);
  });
});
