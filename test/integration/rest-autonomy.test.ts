import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as allowGet, PUT as allowPut } from "@/app/api/v1/autonomy/allowlist/route";
import { GET as budgetGet, PUT as budgetPut } from "@/app/api/v1/autonomy/budget/route";
import { GET as configGet, PUT as configPut } from "@/app/api/v1/autonomy/config/route";
import { GET as killGet, PUT as killPut } from "@/app/api/v1/autonomy/kill-switches/route";
import { GET as explanationGet } from "@/app/api/v1/autonomy/ledger/explanation/route";
import { POST as approvePost } from "@/app/api/v1/intents/[id]/approve/route";
import { POST as rejectPost } from "@/app/api/v1/intents/[id]/reject/route";
import { GET as intentGet } from "@/app/api/v1/intents/[id]/route";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { systemClock } from "@/server/clock";
import type { ApiKeyScope } from "@/server/schemas/common";
import { createApiKey } from "@/server/services/apiKeys";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { drainQueue } from "../helpers/gate";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const k: Record<string, string> = {};

const key = async (tenant: TestTenant, scopes: ApiKeyScope[]) =>
  (await createApiKey(t.db, { tenantId: tenant.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock))
    .key;

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  k.ingest = await key(a, ["ingest"]);
  k.read = await key(a, ["read"]);
  k.approve = await key(a, ["approve"]);
  k.admin = await key(a, ["admin"]);
  k.bAdmin = await key(b, ["admin"]);
});
afterAll(() => t.cleanup());

// biome-ignore lint/suspicious/noExplicitAny: route handlers differ only in their params type
type Handler = (req: Request, ctx?: any) => Promise<Response>;
async function call(h: Handler, opts: { key?: string; method?: string; body?: unknown; raw?: string; qs?: string; id?: string } = {}) {
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const res = await h(
    new Request(`http://127.0.0.1/x${opts.qs ? `?${opts.qs}` : ""}`, {
      method: opts.method ?? (body ? "POST" : "GET"),
      headers: { ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), "content-type": "application/json" },
      body,
    }),
    { params: Promise.resolve({ id: opts.id ?? "" }) },
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string; field?: string } } };
}

const intentBody = (accountId: string, patch: Record<string, unknown> = {}) => ({
  account_id: accountId,
  action_type: "CREATE_INTERNAL_TASK",
  confidence: 0.9,
  risk_level: "LOW",
  why: ["RENEWAL_WINDOW_ENTERED"],
  parameters: { title: "Plan the renewal" },
  ...patch,
});

describe(`REST intents on ${TEST_PROVIDER}`, () => {
  it("auth: no key 401, wrong scope 403", async () => {
    expect((await call(intentsPost, { body: intentBody(a.accounts.seller[0] as string) })).status).toBe(401);
    expect((await call(intentsPost, { key: k.read, body: intentBody(a.accounts.seller[0] as string) })).status).toBe(403);
    expect((await call(approvePost, { key: k.ingest, body: { actor: "x" }, id: "x" })).status).toBe(403);
  });

  it("POST runs the gate and answers the SPEC shape; a repeated idempotency key returns the same intent", async () => {
    const body = intentBody(a.accounts.seller[0] as string, { idempotency_key: "ext-1" });
    const first = await call(intentsPost, { key: k.ingest, body });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({
      decision: "REQUIRE_APPROVAL",
      reason: "ACTION_TYPE_NOT_ALLOWLISTED",
      status: "PENDING_APPROVAL",
      execution_id: null,
      duplicate: false,
    });
    expect(first.json.policy_version).toMatch(/^autopilot-policy/);
    expect(first.json.explanation).toEqual(expect.any(String));
    const again = await call(intentsPost, { key: k.ingest, body });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ action_intent_id: first.json.action_intent_id, duplicate: true });
    const got = await call(intentGet, { key: k.read, id: first.json.action_intent_id as string });
    expect(got.json).toMatchObject({
      id: first.json.action_intent_id,
      status: "PENDING_APPROVAL",
      policy_result: { reason: "ACTION_TYPE_NOT_ALLOWLISTED" },
      parameters: { title: "Plan the renewal" },
    });
  });

  it("an unknown action type is BLOCKED on the record", async () => {
    const r = await call(intentsPost, { key: k.ingest, body: intentBody(a.accounts.seller[0] as string, { action_type: "WIRE_MONEY" }) });
    expect(r.json).toMatchObject({ decision: "BLOCK", reason: "UNKNOWN_ACTION_TYPE", status: "BLOCKED" });
  });

  it.each([
    ["malformed JSON", "{", "body"],
    ["confidence as text", { confidence: "high" }, "confidence"],
    ["confidence above 1", { confidence: 1.5 }, "confidence"],
    ["empty why", { why: [] }, "why"],
    ["lower-case action type", { action_type: "send_email" }, "action_type"],
    ["bad risk level", { risk_level: "EXTREME" }, "risk_level"],
    ["tenant_id in body", { tenant_id: "x" }, ""],
  ])("400 for %s, naming %s, nothing written", async (_l, patch, field) => {
    const before = await t.db.actionIntent.count();
    const r =
      typeof patch === "string"
        ? await call(intentsPost, { key: k.ingest, raw: patch })
        : await call(intentsPost, { key: k.ingest, body: intentBody(a.accounts.seller[0] as string, patch) });
    expect(r.status).toBe(400);
    if (field) expect(r.json.error?.field).toBe(field);
    expect(await t.db.actionIntent.count()).toBe(before);
  });

  it("another tenant's account or intent is 404, never 403", async () => {
    const r = await call(intentsPost, { key: k.ingest, body: intentBody(b.accounts.seller[0] as string) });
    expect(r).toMatchObject({ status: 404, json: { error: { field: "account_id" } } });
    const mine = await call(intentsPost, { key: k.ingest, body: intentBody(a.accounts.seller[1] as string) });
    const id = mine.json.action_intent_id as string;
    for (const h of [intentGet]) expect((await call(h, { key: k.bAdmin, id })).status).toBe(404);
    expect((await call(approvePost, { key: k.bAdmin, id, body: { actor: "eve" } })).status).toBe(404);
    expect((await call(rejectPost, { key: k.bAdmin, id, body: { actor: "eve", reason: "no" } })).status).toBe(404);
    expect((await call(explanationGet, { key: k.bAdmin, qs: `action_intent_id=${id}` })).status).toBe(404);
    expect((await t.db.actionIntent.findUniqueOrThrow({ where: { id } })).status).toBe("PENDING_APPROVAL");
  });

  it("approve and reject from an integration; reject needs a reason", async () => {
    const p1 = await call(intentsPost, { key: k.ingest, body: intentBody(a.accounts.seller[1] as string) });
    const p2 = await call(intentsPost, { key: k.ingest, body: intentBody(a.accounts.seller[1] as string) });
    const ok = await call(approvePost, {
      key: k.approve,
      id: p1.json.action_intent_id as string,
      body: { actor: "slack:U123", reason: "looks right" },
    });
    // Approval queues the execution (EXECUTE_APPROVED); the production worker runs it.
    expect(ok.json).toMatchObject({ status: "APPROVED", edited: false, execution_id: null });
    await drainQueue(t.db);
    const executed = await call(intentGet, { key: k.read, id: p1.json.action_intent_id as string });
    expect(executed.json).toMatchObject({ status: "SUCCEEDED", executions: [{ status: "SUCCEEDED", approval_source: "HUMAN" }] });
    const executionId = (executed.json.executions as { id: string }[])[0]?.id;
    expect(
      (await call(rejectPost, { key: k.approve, id: p2.json.action_intent_id as string, body: { actor: "slack:U123" } })).json.error?.field,
    ).toBe("reason");
    const rej = await call(rejectPost, {
      key: k.approve,
      id: p2.json.action_intent_id as string,
      body: { actor: "slack:U123", reason: "wrong contact" },
    });
    expect(rej.json).toMatchObject({ status: "REJECTED" });
    const exp = await call(explanationGet, { key: k.read, qs: `execution_id=${executionId}` });
    expect(exp.json).toMatchObject({
      approval_source: "HUMAN",
      auto_executed: false,
      why: { policy_decision: "REQUIRE_APPROVAL" },
      which_policy: { policy_clause: expect.any(String) },
    });
    expect((await call(explanationGet, { key: k.read })).status).toBe(400);
  });
});

describe(`REST autonomy configuration on ${TEST_PROVIDER}`, () => {
  it("config: upsert, list, stale if_match → 409", async () => {
    const put = await call(configPut, { key: k.admin, method: "PUT", body: { action_type: "FLAG_FOR_REVIEW", mode: "AUTO_EXECUTE" } });
    expect(put.json).toMatchObject({ action_type: "FLAG_FOR_REVIEW", mode: "AUTO_EXECUTE" });
    const stale = "2000-01-01T00:00:00.000Z";
    expect(
      (await call(configPut, { key: k.admin, method: "PUT", body: { action_type: "FLAG_FOR_REVIEW", mode: "DISABLED", if_match: stale } }))
        .status,
    ).toBe(409);
    const fresh = await call(configPut, {
      key: k.admin,
      method: "PUT",
      body: { action_type: "FLAG_FOR_REVIEW", mode: "PROPOSE_ONLY", if_match: put.json.updated_at },
    });
    expect(fresh.status).toBe(200);
    const list = await call(configGet, { key: k.read });
    expect(list.json.items).toEqual([expect.objectContaining({ action_type: "FLAG_FOR_REVIEW", mode: "PROPOSE_ONLY", account_id: null })]);
    expect((await call(configPut, { key: k.read, method: "PUT", body: { mode: "AUTO_EXECUTE" } })).status).toBe(403);
    expect((await call(configPut, { key: k.admin, method: "PUT", body: { mode: "TURBO" } })).json.error?.field).toBe("mode");
  });

  it("allowlist: replace; never-autonomous types → 422 naming the entry", async () => {
    expect(
      (await call(allowPut, { key: k.admin, method: "PUT", body: { action_types: ["FLAG_FOR_REVIEW", "CREATE_INTERNAL_NOTE"] } })).json,
    ).toMatchObject({
      action_types: ["CREATE_INTERNAL_NOTE", "FLAG_FOR_REVIEW"],
    });
    const bad = await call(allowPut, { key: k.admin, method: "PUT", body: { action_types: ["FLAG_FOR_REVIEW", "SEND_EMAIL"] } });
    expect(bad).toMatchObject({ status: 422, json: { error: { field: "action_types.1" } } });
    expect((await call(allowGet, { key: k.admin })).json.action_types).toEqual(["CREATE_INTERNAL_NOTE", "FLAG_FOR_REVIEW"]);
  });

  it("budget: PUT then GET with consumed_today / remaining_today / date_key (UTC)", async () => {
    const account = a.accounts.seller[2] as string;
    await call(budgetPut, {
      key: k.admin,
      method: "PUT",
      body: { account_id: account, max_autonomous_per_day: 4, max_per_action_type: { FLAG_FOR_REVIEW: 2 } },
    });
    const g = await call(budgetGet, { key: k.read, qs: `account_id=${account}` });
    expect(g.json).toMatchObject({
      account_id: account,
      max_autonomous_per_day: 4,
      max_per_action_type: { FLAG_FOR_REVIEW: 2 },
      consumed_today: 0,
      remaining_today: 4,
    });
    expect(g.json.date_key).toBe(new Date().toISOString().slice(0, 10));
    expect((await call(budgetGet, { key: k.bAdmin, qs: `account_id=${account}` })).status).toBe(404);
    expect((await call(budgetPut, { key: k.admin, method: "PUT", body: { max_autonomous_per_day: -1 } })).json.error?.field).toBe(
      "max_autonomous_per_day",
    );
  });

  it("kill switches: tenant toggle with reason; GLOBAL is 403; short reason 400", async () => {
    const on = await call(killPut, { key: k.admin, method: "PUT", body: { scope: "TENANT", enabled: true, reason: "CRM outage" } });
    expect(on.json).toMatchObject({ scope: "TENANT", enabled: true, reason: "CRM outage" });
    expect((await call(killGet, { key: k.admin })).json.items).toEqual([expect.objectContaining({ scope: "TENANT", enabled: true })]);
    expect((await call(killGet, { key: k.bAdmin })).json.items).toEqual([]);
    expect(
      (await call(killPut, { key: k.admin, method: "PUT", body: { scope: "GLOBAL", enabled: true, reason: "everything" } })).status,
    ).toBe(403);
    expect(
      (await call(killPut, { key: k.admin, method: "PUT", body: { scope: "TENANT", enabled: false, reason: "" } })).json.error?.field,
    ).toBe("reason");
    await call(killPut, { key: k.admin, method: "PUT", body: { scope: "TENANT", enabled: false, reason: "CRM back" } });
  });

  it("fuzz: no body or query makes any autonomy endpoint answer 5xx", async () => {
    const handlers: [Handler, string][] = [
      [intentsPost, "POST"],
      [configPut, "PUT"],
      [allowPut, "PUT"],
      [budgetPut, "PUT"],
      [killPut, "PUT"],
      [approvePost, "POST"],
      [rejectPost, "POST"],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.object().map((o) => JSON.stringify(o)),
        ),
        fc.string({ maxLength: 30 }),
        async (raw, qs) => {
          for (const [h, method] of handlers) {
            const r = await call(h, { key: k.admin, method, raw, id: qs || "x" });
            expect(r.status).toBeLessThan(500);
          }
          for (const h of [configGet, budgetGet, explanationGet, intentGet] as Handler[]) {
            const r = await call(h, {
              key: k.admin,
              qs: `account_id=${encodeURIComponent(qs)}&execution_id=${encodeURIComponent(qs)}`,
              id: qs || "x",
            });
            expect(r.status).toBeLessThan(500);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
