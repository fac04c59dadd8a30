import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "@/server/api/root";
import { type Auth, createAuth } from "@/server/auth/auth";
import { systemClock } from "@/server/clock";
import { verifyLedger } from "@/server/services/ledger";
import { seedDemo } from "@/server/services/seed";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";

const BASE = "http://127.0.0.1:3999";
let t: TestDb;
let auth: Auth;

beforeAll(async () => {
  t = await freshDb();
  await seedDemo(t.db, { password: "correct-horse", clock: systemClock });
  auth = createAuth(t.db, {
    secret: "test-secret-test-secret-test-secret",
    baseURL: BASE,
    trustedOrigins: [BASE],
    databaseUrl: t.url,
    signInPerMinute: 1000,
  });
});
afterAll(() => t.cleanup());

async function signIn(email: string, password: string) {
  return auth.handler(
    new Request(`${BASE}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: BASE },
      body: JSON.stringify({ email, password }),
    }),
  );
}

function cookieOf(res: Response) {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

describe(`sign-in with better-auth on ${TEST_PROVIDER}`, () => {
  it("the seed stores scrypt hashes, never the password", async () => {
    const creds = await t.db.authAccount.findMany({ where: { providerId: "credential" } });
    expect(creds.length).toBe(6);
    for (const c of creds) expect(c.password).not.toContain("correct-horse");
  });

  it.each([
    ["admin@demo.test", "ADMIN", "demo"],
    ["seller@demo.test", "SELLER", "demo"],
    ["auditor@demo.test", "AUDITOR", "demo"],
    ["admin@globex.test", "ADMIN", "globex"],
  ])("%s signs in and gets a session for their tenant and role", async (email, role, slug) => {
    const res = await signIn(email, "correct-horse");
    expect(res.status).toBe(200);
    const cookie = cookieOf(res);
    expect(cookie).toContain("session_token");
    const session = await auth.api.getSession({ headers: new Headers({ cookie }) });
    expect(session?.user.email).toBe(email);
    const me = await createCaller({ db: t.db, clock: systemClock, session }).me.whoami();
    expect(me).toMatchObject({ role, tenant: { slug } });
  });

  it("wrong password → 401 and no session", async () => {
    const res = await signIn("admin@demo.test", "wrong-password");
    expect(res.status).toBe(401);
    expect(cookieOf(res)).not.toContain("session_token=");
  });

  it("self-service sign-up is disabled", async () => {
    const res = await auth.handler(
      new Request(`${BASE}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE },
        body: JSON.stringify({ email: "new@demo.test", password: "whatever123", name: "New" }),
      }),
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await t.db.user.count({ where: { email: "new@demo.test" } })).toBe(0);
  });

  it("sign-in is ledgered as SIGN_IN without secrets, and the chain still verifies", async () => {
    const demo = await t.db.tenant.findUniqueOrThrow({ where: { slug: "demo" } });
    const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: demo.id, type: "SIGN_IN" } });
    expect(entries.length).toBeGreaterThanOrEqual(3);
    for (const e of entries) expect(e.payload).not.toContain("correct-horse");
    expect(await verifyLedger(t.db, demo.id)).toMatchObject({ ok: true });
  });

  it("sign-out ends the session", async () => {
    const cookie = cookieOf(await signIn("seller@demo.test", "correct-horse"));
    const out = await auth.handler(new Request(`${BASE}/api/auth/sign-out`, { method: "POST", headers: { cookie, origin: BASE } }));
    expect(out.status).toBe(200);
    expect(await auth.api.getSession({ headers: new Headers({ cookie }) })).toBeNull();
  });

  it("globex and demo never see each other's accounts", async () => {
    const demoSession = await auth.api.getSession({
      headers: new Headers({ cookie: cookieOf(await signIn("admin@demo.test", "correct-horse")) }),
    });
    const globexSession = await auth.api.getSession({
      headers: new Headers({ cookie: cookieOf(await signIn("admin@globex.test", "correct-horse")) }),
    });
    const demo = createCaller({ db: t.db, clock: systemClock, session: demoSession });
    const globex = createCaller({ db: t.db, clock: systemClock, session: globexSession });
    const demoIds = (await demo.accounts.list({ limit: 200 })).items.map((x) => x.id);
    const globexIds = (await globex.accounts.list({ limit: 200 })).items.map((x) => x.id);
    expect(demoIds).toHaveLength(50);
    expect(globexIds).toHaveLength(12);
    await expect(globex.accounts.get({ id: demoIds[0] as string })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("the seed is idempotent", async () => {
    const res = await seedDemo(t.db, { password: "x-x-x-x-x", clock: systemClock });
    expect(res.created).toBe(false);
    expect(await t.db.tenant.count()).toBe(2);
  });
});
