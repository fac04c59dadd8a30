import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as health } from "@/app/api/health/route";
import { GET as getAccount, PUT as putAccount } from "@/app/api/v1/accounts/[id]/route";
import { GET as listAccounts } from "@/app/api/v1/accounts/route";
import { GET as listLedger } from "@/app/api/v1/ledger/route";
import { systemClock } from "@/server/clock";
import type { ApiKeyScope } from "@/server/schemas/common";
import { createApiKey } from "@/server/services/apiKeys";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const keys: Record<string, string> = {};

async function key(tenant: TestTenant, scopes: ApiKeyScope[]) {
  const res = await createApiKey(
    t.db,
    { tenantId: tenant.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } },
    systemClock,
  );
  return res.key;
}

beforeAll(async () => {
  t = await freshDb();
  // The route modules use the process-wide client; point it at this file's database.
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  keys.read = await key(a, ["read"]);
  keys.ingest = await key(a, ["ingest"]);
  keys.admin = await key(a, ["admin"]);
  keys.approve = await key(a, ["approve"]);
  keys.bRead = await key(b, ["read"]);
});
afterAll(() => t.cleanup());

function req(path: string, init: { key?: string; method?: string; body?: string; headers?: Record<string, string> } = {}) {
  return new Request(`http://127.0.0.1${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
      ...(init.body ? { "content-type": "application/json" } : {}),
      ...init.headers,
    },
    body: init.body,
  });
}
const params = (id: string) => ({ params: Promise.resolve({ id }) });

async function json(res: Response) {
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { error?: { code: string; field?: string; message: string } },
  };
}

describe(`REST v1 auth on ${TEST_PROVIDER}`, () => {
  it("no key, a malformed key, an unknown key or a revoked key → 401 with the error shape", async () => {
    const revoked = await key(a, ["read"]);
    const prefix = revoked.split("_")[1] as string;
    await t.db.apiKey.update({ where: { prefix }, data: { revokedAt: new Date() } });
    const variants = [undefined, "nope", `apk_AAAAAAAAAAAA_${"x".repeat(43)}`, revoked, `${keys.read}x`];
    for (const k of variants) {
      const r = await json(await listAccounts(req("/api/v1/accounts", { key: k })));
      expect(r.status).toBe(401);
      expect(r.body.error?.code).toBe("UNAUTHORIZED");
    }
    const basic = await listAccounts(req("/api/v1/accounts", { headers: { authorization: `Basic ${keys.read}` } }));
    expect(basic.status).toBe(401);
  });

  it("wrong scope → 403; admin implies the others", async () => {
    expect((await listAccounts(req("/api/v1/accounts", { key: keys.ingest }))).status).toBe(403);
    expect((await listLedger(req("/api/v1/ledger", { key: keys.approve }))).status).toBe(403);
    expect(
      (await putAccount(req("/x", { key: keys.read, method: "PUT", body: "{}" }), params(a.accounts.seller[0] as string))).status,
    ).toBe(403);
    expect((await listAccounts(req("/api/v1/accounts", { key: keys.admin }))).status).toBe(200);
  });

  it("records when a key was last used", async () => {
    const prefix = keys.read?.split("_")[1] as string;
    expect((await t.db.apiKey.findUniqueOrThrow({ where: { prefix } })).lastUsedAt).not.toBeNull();
  });
});

describe(`REST v1 reads on ${TEST_PROVIDER}`, () => {
  it("lists the key's tenant's accounts, snake_case, newest first, paginated", async () => {
    const first = await json(await listAccounts(req("/api/v1/accounts?limit=5", { key: keys.read })));
    expect(first.status).toBe(200);
    const items = first.body.items as { id: string; arr_cents: number; owner: unknown; heat: unknown }[];
    expect(items).toHaveLength(5);
    expect(items[0]).toHaveProperty("arr_cents");
    expect(items[0]).toHaveProperty("heat.tier");
    const second = await json(await listAccounts(req(`/api/v1/accounts?limit=5&cursor=${first.body.next_cursor}`, { key: keys.read })));
    const all = [...items, ...(second.body.items as { id: string }[])].map((x) => x.id);
    expect(new Set(all).size).toBe(9);
    expect(second.body.next_cursor).toBeNull();
    expect(all.every((id) => [...a.accounts.seller, ...a.accounts.seller2, ...a.accounts.admin].includes(id))).toBe(true);
  });

  it("another tenant's account id → 404, never 403", async () => {
    const r = await json(await getAccount(req("/x", { key: keys.read }), params(b.accounts.seller[0] as string)));
    expect(r.status).toBe(404);
    expect(r.body.error?.code).toBe("NOT_FOUND");
    const put = await putAccount(
      req("/x", { key: keys.admin, method: "PUT", body: '{"name":"stolen"}' }),
      params(b.accounts.seller[0] as string),
    );
    expect(put.status).toBe(404);
    expect((await t.db.account.findUniqueOrThrow({ where: { id: b.accounts.seller[0] as string } })).name).not.toBe("stolen");
  });

  it("gets one account with contacts and opportunities", async () => {
    const r = await json(await getAccount(req("/x", { key: keys.read }), params(a.accounts.seller[0] as string)));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: a.accounts.seller[0],
      contacts: [expect.objectContaining({ name: expect.any(String) })],
      opportunities: [],
    });
  });

  it("lists only the key's tenant's ledger, with filters", async () => {
    const r = await json(await listLedger(req("/api/v1/ledger?type=API_KEY_CREATED&limit=100", { key: keys.read })));
    expect(r.status).toBe(200);
    const items = r.body.items as { type: string; correlation_id: string; payload: { api_key_id: string } }[];
    expect(items.length).toBe(5); // read, ingest, admin, approve, revoked-in-test
    expect(items.every((e) => e.type === "API_KEY_CREATED" && e.correlation_id)).toBe(true);
    const bKeys = await t.db.apiKey.findMany({ where: { tenantId: b.id } });
    expect(items.some((e) => bKeys.some((k) => k.id === e.payload.api_key_id))).toBe(false);
    expect(JSON.stringify(r.body)).not.toMatch(/apk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}/);
  });

  it("health answers without a key", async () => {
    const r = await json(await health());
    expect(r).toEqual({ status: 200, body: { ok: true, db: "up", version: expect.any(String) } });
  });
});

describe(`REST v1 writes and bad input on ${TEST_PROVIDER}`, () => {
  it("PUT updates CRM fields and ledgers before/after", async () => {
    const id = a.accounts.seller[1] as string;
    const r = await json(
      await putAccount(
        req("/x", { key: keys.ingest, method: "PUT", body: JSON.stringify({ posture: "AT_RISK", arr_cents: 1200000 }) }),
        params(id),
      ),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ posture: "AT_RISK", arr_cents: 1200000 });
    const entry = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, accountId: id, type: "ACCOUNT_UPDATED" } });
    expect(JSON.parse(entry.payload)).toMatchObject({ changed: { posture: { before: "OK", after: "AT_RISK" } } });
  });

  it.each([
    ["malformed JSON", "{not json", "body"],
    ["wrong type", '{"arr_cents":"lots"}', "arr_cents"],
    ["unknown enum", '{"posture":"ON_FIRE"}', "posture"],
    ["unknown field", '{"tenant_id":"x"}', ""],
    ["empty name", '{"name":""}', "name"],
    ["owner from another tenant", "__OWNER__", "owner_id"],
  ])("PUT with %s → 400 naming the field, nothing written", async (_label, body, field) => {
    const id = a.accounts.seller[2] as string;
    const payload = body === "__OWNER__" ? JSON.stringify({ owner_id: b.seller.id }) : body;
    const before = await t.db.account.findUniqueOrThrow({ where: { id } });
    const head = await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } });
    const r = await json(await putAccount(req("/x", { key: keys.admin, method: "PUT", body: payload }), params(id)));
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe("BAD_REQUEST");
    if (field) expect(r.body.error?.field).toBe(field);
    expect(await t.db.account.findUniqueOrThrow({ where: { id } })).toEqual(before);
    expect((await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq).toBe(head.seq);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=abc", "limit"],
    ["limit=1000", "limit"],
    ["cursor=%%%", "cursor"],
    ["type=NOT_A_TYPE", "type"],
    ["from=yesterday", "from"],
  ])("GET /ledger?%s → 400 naming %s", async (qs, field) => {
    const r = await json(await listLedger(req(`/api/v1/ledger?${qs}`, { key: keys.read })));
    expect(r.status).toBe(400);
    expect(r.body.error?.field).toBe(field);
  });

  it("fuzz: no body or query string makes any endpoint answer 5xx", async () => {
    const id = a.accounts.admin[0] as string;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.object().map((o) => JSON.stringify(o)),
        ),
        fc.dictionary(fc.constantFrom("limit", "cursor", "type", "from", "to", "account_id", "lifecycle", "posture", "q"), fc.string()),
        async (body, query) => {
          const qs = new URLSearchParams(query).toString();
          const responses = [
            await putAccount(req("/x", { key: keys.admin, method: "PUT", body }), params(id)),
            await listLedger(req(`/api/v1/ledger?${qs}`, { key: keys.read })),
            await listAccounts(req(`/api/v1/accounts?${qs}`, { key: keys.read })),
            await getAccount(req("/x", { key: keys.read }), params(body.slice(0, 80) || "x")),
          ];
          for (const res of responses) {
            expect(res.status).toBeLessThan(500);
            if (res.status >= 400)
              expect((await res.json()).error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
          }
        },
      ),
      { numRuns: 150 },
    );
    expect(await t.db.ledgerEntry.count({ where: { tenantId: b.id, type: "ACCOUNT_UPDATED" } })).toBe(0);
  });
});
