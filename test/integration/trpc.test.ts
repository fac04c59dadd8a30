import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as trpcGet, POST as trpcPost } from "@/app/api/trpc/[trpc]/route";
import { createCaller } from "@/server/api/root";
import type { SessionLike } from "@/server/auth/viewer";
import { fixedClock } from "@/server/clock";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const clock = fixedClock("2026-03-01T12:00:00Z");

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

const as = (session: SessionLike | null) => createCaller({ db: t.db, clock, session });

async function code(p: Promise<unknown>) {
  try {
    await p;
    return "OK";
  } catch (err) {
    if (err instanceof TRPCError) return err.code;
    throw err;
  }
}

describe(`tRPC procedure tiers on ${TEST_PROVIDER}`, () => {
  it("not signed in → UNAUTHORIZED on every tenant procedure", async () => {
    const anon = as(null);
    expect(await code(anon.me.whoami())).toBe("UNAUTHORIZED");
    expect(await code(anon.accounts.list({}))).toBe("UNAUTHORIZED");
    expect(await code(anon.ledger.list({}))).toBe("UNAUTHORIZED");
    expect(await code(anon.apiKeys.list())).toBe("UNAUTHORIZED");
  });

  it("signed in without the role → FORBIDDEN", async () => {
    expect(await code(as(a.seller.session).ledger.list({}))).toBe("FORBIDDEN");
    expect(await code(as(a.seller.session).ledger.verify())).toBe("FORBIDDEN");
    expect(await code(as(a.seller.session).apiKeys.list())).toBe("FORBIDDEN");
    expect(await code(as(a.auditor.session).apiKeys.create({ name: "x", scopes: ["read"] }))).toBe("FORBIDDEN");
    expect(await code(as(a.auditor.session).ledger.list({}))).toBe("OK");
  });

  it("a signed-in user with no membership is FORBIDDEN, and a forged activeTenantId grants nothing", async () => {
    const forged: SessionLike = { user: a.seller.session.user, session: { activeTenantId: b.id } };
    expect(await code(as(forged).accounts.list({}))).toBe("FORBIDDEN");
    const stranger = await t.db.user.create({ data: { email: "stranger@x.test", name: "Stranger" } });
    expect(await code(as({ user: { id: stranger.id, name: "S", email: "stranger@x.test" }, session: {} }).accounts.list({}))).toBe(
      "FORBIDDEN",
    );
  });

  it("whoami reports the tenant from the session", async () => {
    const me = await as(a.admin.session).me.whoami();
    expect(me).toMatchObject({ role: "ADMIN", tenant: { id: a.id, slug: a.slug } });
  });
});

describe(`accounts scope on ${TEST_PROVIDER}`, () => {
  it("a seller sees only the accounts they own", async () => {
    const page = await as(a.seller.session).accounts.list({ limit: 50 });
    expect(page.items.map((x) => x.id).sort()).toEqual([...a.accounts.seller].sort());
    expect(await code(as(a.seller.session).accounts.get({ id: a.accounts.seller2[0] as string }))).toBe("NOT_FOUND");
    expect(await code(as(a.seller.session).accounts.activity({ id: a.accounts.admin[0] as string }))).toBe("NOT_FOUND");
  });

  it("admins and auditors see the whole tenant and nothing of another", async () => {
    for (const user of [a.admin, a.auditor]) {
      const page = await as(user.session).accounts.list({ limit: 50 });
      expect(page.items).toHaveLength(9);
      expect(page.items.every((x) => x.tenantId === a.id)).toBe(true);
    }
  });

  it("another tenant's ids are NOT_FOUND for every account procedure", async () => {
    const foreign = b.accounts.seller[0] as string;
    expect(await code(as(a.admin.session).accounts.get({ id: foreign }))).toBe("NOT_FOUND");
    expect(await code(as(a.admin.session).accounts.activity({ id: foreign }))).toBe("NOT_FOUND");
  });

  it("paginates newest first with an opaque cursor, without repeats or gaps", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await as(a.admin.session).accounts.list({ limit: 4, cursor });
      seen.push(...page.items.map((x) => x.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const all = await t.db.account.findMany({ where: { tenantId: a.id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    expect(seen).toEqual(all.map((x) => x.id));
  });

  it("a garbage cursor is BAD_REQUEST, not a server error", async () => {
    expect(await code(as(a.admin.session).accounts.list({ cursor: "not-a-cursor" }))).toBe("BAD_REQUEST");
    expect(await code(as(a.admin.session).ledger.list({ cursor: "bm9wZQ" }))).toBe("BAD_REQUEST");
  });
});

describe(`ledger and api keys on ${TEST_PROVIDER}`, () => {
  it("an admin creates a key (shown once, hashed at rest), lists and revokes it; all ledgered", async () => {
    const admin = as(a.admin.session);
    const { key, record } = await admin.apiKeys.create({ name: "crm sync", scopes: ["read", "ingest"] });
    expect(key).toMatch(/^apk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const row = await t.db.apiKey.findUniqueOrThrow({ where: { id: record.id } });
    // The secret part may itself contain "_", so take everything after the fixed-width prefix.
    const secret = key.slice("apk_".length + 12 + 1);
    expect(secret).toHaveLength(43);
    expect(row.secretHash).not.toContain(secret);
    expect(row.secretHash).toMatch(/^[0-9a-f]{64}$/);
    const list = await admin.apiKeys.list();
    expect(list.find((k) => k.id === record.id)).toMatchObject({ scopes: ["ingest", "read"], revokedAt: null });
    expect(JSON.stringify(list)).not.toContain(key);

    expect(await code(as(b.admin.session).apiKeys.revoke({ id: record.id }))).toBe("NOT_FOUND");
    await admin.apiKeys.revoke({ id: record.id });
    expect(await code(admin.apiKeys.revoke({ id: record.id }))).toBe("NOT_FOUND");

    const entries = await admin.ledger.list({ limit: 10 });
    expect(entries.items.slice(0, 2).map((e) => e.type)).toEqual(["API_KEY_REVOKED", "API_KEY_CREATED"]);
    expect(JSON.stringify(entries)).not.toContain(key);
    expect((await as(b.admin.session).apiKeys.list()).find((k) => k.id === record.id)).toBeUndefined();
  });

  it("the ledger is tenant-scoped and filterable", async () => {
    const mine = await as(a.auditor.session).ledger.list({ limit: 200 });
    expect(mine.items.length).toBeGreaterThan(0);
    expect(mine.items.every((e) => e.id && e.correlationId)).toBe(true);
    const theirs = await as(b.auditor.session).ledger.list({ limit: 200 });
    const mineIds = new Set(mine.items.map((e) => e.id));
    expect(theirs.items.some((e) => mineIds.has(e.id))).toBe(false);
    const filtered = await as(a.auditor.session).ledger.list({ type: "API_KEY_CREATED" });
    expect(filtered.items.every((e) => e.type === "API_KEY_CREATED")).toBe(true);
    expect(await as(a.auditor.session).ledger.verify()).toMatchObject({ ok: true });
  });

  it("rejects bad input with BAD_REQUEST and writes nothing", async () => {
    const before = await t.db.apiKey.count();
    expect(await code(as(a.admin.session).apiKeys.create({ name: "", scopes: ["read"] }))).toBe("BAD_REQUEST");
    expect(await code(as(a.admin.session).apiKeys.create({ name: "x", scopes: ["root" as "read"] }))).toBe("BAD_REQUEST");
    expect(await t.db.apiKey.count()).toBe(before);
  });
});

describe(`the tRPC HTTP route applies the boundary limits (${TEST_PROVIDER})`, () => {
  beforeAll(() => {
    // The route resolves the session through better-auth, which needs a secret and the database.
    process.env.BETTER_AUTH_SECRET ??= "test-secret-test-secret-test-secret";
    (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  });

  const post = (path: string, body: BodyInit) =>
    trpcPost(
      new Request(`http://127.0.0.1/api/trpc/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit),
    );

  it("a body over the cap → 413 before tRPC parses it", async () => {
    let pulled = 0;
    const fifty = new ReadableStream<Uint8Array>({
      pull(c) {
        if (++pulled > 50) return c.close();
        c.enqueue(new Uint8Array(1024 * 1024).fill(32));
      },
    });
    const res = await post("work.approve", fifty);
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(5);
  });

  it("2,500 levels of nesting or a reserved key → 400 BAD_REQUEST naming the field, even before sign-in is checked", async () => {
    const deep = `${'{"a":'.repeat(2500)}1${"}".repeat(2500)}`;
    const res = await post("work.approve", `{"json":{"id":"x","editedParameters":${deep}}}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { json: { message: string; data: { code: string; field: string | null } } } };
    expect(body.error.json.data.code).toBe("BAD_REQUEST");
    expect(body.error.json.data.field).toMatch(/^editedParameters(\.a)+$/);
    const reserved = await post("work.approve", '{"json":{"id":"x","editedParameters":{"constructor":"x"}}}');
    expect(((await reserved.json()) as typeof body).error.json.data.field).toBe("editedParameters.constructor");
  });

  it("queries over GET go through the same input limits", async () => {
    const input = encodeURIComponent(JSON.stringify({ json: { limit: 5, cursor: "e30", x: { constructor: 1 } } }));
    const res = await trpcGet(new Request(`http://127.0.0.1/api/trpc/ledger.list?input=${input}`));
    expect(res.status).toBe(400);
  });
});
