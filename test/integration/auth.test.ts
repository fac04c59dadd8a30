import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "@/server/api/root";
import { type Auth, createAuth } from "@/server/auth/auth";
import { CLIENT_IP_HEADER, type ClientIpConfig, clientAddress, EDGE_HEADER, resolveClientIp, withClientIp } from "@/server/auth/clientIp";
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
}, 180_000);
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

describe(`sign-in rate limit keys on an address the client cannot choose (${TEST_PROVIDER})`, () => {
  const EDGE = "edge-secret-edge-secret-edge";
  let limited: Auth;
  beforeAll(() => {
    limited = createAuth(t.db, {
      secret: "test-secret-test-secret-test-secret",
      baseURL: BASE,
      trustedOrigins: [BASE],
      databaseUrl: t.url,
      signInPerMinute: 3,
    });
  });

  /** Through the same wrapper the auth route uses, then better-auth's real handler. */
  async function attempt(cfg: ClientIpConfig, headers: Record<string, string>) {
    const req = new Request(`${BASE}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: BASE, ...headers },
      body: JSON.stringify({ email: "admin@demo.test", password: "wrong-password" }),
    });
    return (await limited.handler(await withClientIp(req, cfg))).status;
  }

  it("no proxy: rotating X-Forwarded-For does not buy fresh attempts — the stamped peer address is the key", async () => {
    const cfg = { trustedProxyHops: 0, edgeSecret: EDGE };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(await attempt(cfg, { "x-forwarded-for": `198.18.0.${i}`, [CLIENT_IP_HEADER]: "203.0.113.7", [EDGE_HEADER]: EDGE }));
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    // Another peer has its own bucket.
    expect(await attempt(cfg, { [CLIENT_IP_HEADER]: "203.0.113.8", [EDGE_HEADER]: EDGE })).toBe(401);
  });

  it("a forged stamp (wrong secret) is ignored: rotating the client-IP header does not escape the limit", async () => {
    const cfg = { trustedProxyHops: 0, edgeSecret: EDGE };
    const forged = (i: number) => ({
      [CLIENT_IP_HEADER]: `198.19.0.${i}`,
      [EDGE_HEADER]: "guessed-guessed-guessed-gu",
      "x-forwarded-for": `198.19.1.${i}`,
    });
    expect(resolveClientIp(new Headers(forged(1)), cfg)).toBeNull();
    // Unresolvable requests share one bucket (better-auth's fallback), so the limit still bites.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await attempt(cfg, forged(i)));
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
  });

  it("behind one trusted proxy: the address the proxy appended is the key, a client-sent prefix is not", async () => {
    const cfg = { trustedProxyHops: 1 };
    const spoofed: number[] = [];
    for (let i = 0; i < 5; i++) spoofed.push(await attempt(cfg, { "x-forwarded-for": `10.0.0.${i}, 192.0.2.50` }));
    expect(spoofed).toEqual([401, 401, 401, 429, 429]);
    // Distinct real clients (as the proxy saw them) are distinct buckets.
    for (let i = 0; i < 3; i++) expect(await attempt(cfg, { "x-forwarded-for": `192.0.2.${60 + i}` })).toBe(401);
  });

  it("clientAddress walks the forwarded chain from the right, one entry per trusted proxy", () => {
    expect(clientAddress("6.6.6.6", "192.0.2.1", 0)).toBe("192.0.2.1");
    expect(clientAddress("6.6.6.6, 198.51.100.4", "10.0.0.2", 1)).toBe("198.51.100.4");
    expect(clientAddress("6.6.6.6, 198.51.100.4, 10.0.0.3", "10.0.0.2", 2)).toBe("198.51.100.4");
    expect(clientAddress(null, "10.0.0.2", 1)).toBeNull();
  });
});
