import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as alertPost } from "@/app/api/v1/hooks/kill-switch/[token]/route";
import { GET as hookGet, POST as hookPost } from "@/app/api/v1/hooks/kill-switch/route";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import { linkKeyFrom, signLink } from "@/server/engine/links";
import { connectorDepsFromEnv } from "@/server/http/deps";
import { rotateAlertHook } from "@/server/services/alertHook";
import { createApiKey } from "@/server/services/apiKeys";
import { verifyLedger } from "@/server/services/ledger";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * The alert hook (SPEC §4.6) through the real route handlers: an alert turns the configured kill
 * switch on with its text as the reason, the very next autonomous intent is KILL_SWITCH_ACTIVE,
 * and a wrong, rotated, other-kind or other-tenant token changes nothing.
 */

// Read once by env() at the edge (lazily): the signing key and the origin of hook URLs.
process.env.CONNECTOR_SECRET_KEY ??= "alert-hook-test-connector-key";
process.env.APP_URL ??= "https://autopilot.example.test";

const T = "CREATE_INTERNAL_NOTE";
let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const keys: Record<string, string> = {};

const caller = (session: TestTenant["admin"]["session"]) => createCaller({ db: t.db, clock: systemClock, session });

function alert(token: string, body: BodyInit, headers: Record<string, string> = {}) {
  return alertPost(
    new Request("http://127.0.0.1/api/v1/hooks/kill-switch/x", { method: "POST", body, headers, duplex: "half" } as RequestInit),
    {
      params: Promise.resolve({ token }),
    },
  );
}

function api(handler: (req: Request) => Promise<Response>, key: string, method: string, body?: unknown) {
  return handler(
    new Request("http://127.0.0.1/api/v1/hooks/kill-switch", {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

async function probe(tenant: TestTenant) {
  const res = await intentsPost(
    new Request("http://127.0.0.1/api/v1/intents", {
      method: "POST",
      headers: { authorization: `Bearer ${keys[`${tenant.id}:ingest`]}`, "content-type": "application/json" },
      body: JSON.stringify({
        account_id: tenant.accounts.seller[0],
        action_type: T,
        confidence: 0.95,
        risk_level: "LOW",
        why: ["RENEWAL_WINDOW_ENTERED"],
        parameters: { title: `probe ${Math.random()}` },
      }),
    }),
  );
  expect(res.status).toBe(201);
  return (await res.json()) as { decision: string; reason: string };
}

const switches = async (tenant: TestTenant) => caller(tenant.admin.session).autonomy.killSwitches();
const tenantSwitch = async (tenant: TestTenant) => (await switches(tenant)).find((k) => k.scope === "TENANT");
const head = async (tenant: TestTenant) => (await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: tenant.id } })).seq;
const allOff = async (tenant: TestTenant) => {
  for (const k of await switches(tenant))
    if (k.enabled && k.scope !== "GLOBAL")
      await caller(tenant.admin.session).autonomy.setKillSwitch({
        scope: k.scope,
        key: k.key ?? undefined,
        enabled: false,
        reason: "test reset",
      });
};

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  for (const tenant of [a, b]) {
    for (const scope of ["admin", "ingest", "read"] as const)
      keys[`${tenant.id}:${scope}`] = (
        await createApiKey(t.db, { tenantId: tenant.id, name: scope, scopes: [scope], actor: { type: "SYSTEM", id: "test" } }, systemClock)
      ).key;
    const admin = caller(tenant.admin.session);
    await admin.autonomy.setAllowlist({ actionTypes: [T] });
    await admin.autonomy.setMode({ mode: "AUTO_EXECUTE" });
    await admin.autonomy.setBudget({ maxPerDay: 1000 });
  }
});
afterAll(() => t.cleanup());

describe(`alert hook (${TEST_PROVIDER})`, () => {
  it("an alert turns the tenant switch on with its text; the next autonomous intent is KILL_SWITCH_ACTIVE; a wrong token changes nothing", async () => {
    await allOff(a);
    const { url, token } = await caller(a.admin.session).hooks.rotate({ scope: "TENANT" });
    expect(url).toBe(`https://autopilot.example.test/api/v1/hooks/kill-switch/${token}`);
    // Warm the gate cache with an autonomous evaluation first.
    expect(await probe(a)).toMatchObject({ decision: "AUTO_EXECUTE" });

    // Wrong tokens: a flipped signature character, a random one, garbage. 404, nothing written.
    const before = await head(a);
    const flipped = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    for (const bad of [flipped, `${token.split(".")[0]}.${"A".repeat(43)}`, "nope", ""]) {
      const res = await alert(bad, JSON.stringify({ text: "should not land" }));
      expect(res.status).toBe(404);
    }
    expect(await head(a)).toBe(before);
    expect((await tenantSwitch(a))?.enabled ?? false).toBe(false);
    expect(await probe(a)).toMatchObject({ decision: "AUTO_EXECUTE" });

    const res = await alert(token, JSON.stringify({ text: "  Error rate 12% on send-email\n(prod)  " }), {
      "content-type": "application/json",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, scope: "TENANT", key: null, already_on: false });
    expect(await tenantSwitch(a)).toMatchObject({ enabled: true, reason: "Error rate 12% on send-email (prod)" });
    expect(await probe(a)).toMatchObject({ reason: "KILL_SWITCH_ACTIVE" });

    const hookId = token.split(".")[0];
    const entry = await t.db.ledgerEntry.findFirstOrThrow({
      where: { tenantId: a.id, type: "KILL_SWITCH_CHANGED" },
      orderBy: { seq: "desc" },
    });
    expect(entry).toMatchObject({ actorType: "SYSTEM", actorId: `alert-hook:${hookId}` });
    expect(JSON.parse(entry.payload)).toMatchObject({
      scope: "TENANT",
      before: false,
      after: true,
      reason: "Error rate 12% on send-email (prod)",
    });
    const status = await caller(a.admin.session).hooks.alertHook();
    expect(status).toMatchObject({ exists: true, scope: "TENANT", key: null, lastUsedAt: expect.any(Date) });
    expect(JSON.stringify(status)).not.toContain(token.split(".")[1]);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("a switch already on stays as the person set it: 200 already_on, their reason kept, no new entry", async () => {
    await allOff(a);
    const { token } = await caller(a.admin.session).hooks.rotate({ scope: "TENANT" });
    await caller(a.admin.session).autonomy.setKillSwitch({ scope: "TENANT", enabled: true, reason: "planned maintenance" });
    const before = await head(a);
    const res = await alert(token, "CPU high");
    expect(await res.json()).toMatchObject({ ok: true, already_on: true });
    expect(await tenantSwitch(a)).toMatchObject({ enabled: true, reason: "planned maintenance", updatedBy: a.admin.id });
    expect(await head(a)).toBe(before);
  });

  it("rotating stops the old URL at once; the new one works; the ledger records the change, never the token", async () => {
    await allOff(a);
    const first = await caller(a.admin.session).hooks.rotate({ scope: "TENANT" });
    const second = await caller(a.admin.session).hooks.rotate({ scope: "CONNECTOR", key: "internal" });
    expect(second.token).not.toBe(first.token);
    const before = await head(a);
    expect((await alert(first.token, "old url")).status).toBe(404);
    expect(await head(a)).toBe(before);
    expect((await switches(a)).some((k) => k.enabled)).toBe(false);

    expect((await alert(second.token, "webhook receiver down")).status).toBe(200);
    expect((await switches(a)).find((k) => k.scope === "CONNECTOR" && k.key === "internal")).toMatchObject({
      enabled: true,
      reason: "webhook receiver down",
    });
    // CREATE_INTERNAL_NOTE executes through the internal connector: stopped.
    expect(await probe(a)).toMatchObject({ reason: "KILL_SWITCH_ACTIVE" });
    expect((await tenantSwitch(a))?.enabled ?? false).toBe(false);

    const changes = await t.db.ledgerEntry.findMany({
      where: { tenantId: a.id, type: "CONFIG_CHANGED", payload: { contains: "alert_hook" } },
    });
    expect(changes.length).toBeGreaterThanOrEqual(2);
    for (const c of changes) for (const tok of [first.token, second.token]) expect(c.payload).not.toContain(tok.split(".")[1]);
    expect(JSON.parse(changes.at(-1)?.payload ?? "{}")).toMatchObject({
      change: "alert_hook",
      before: { scope: "TENANT", key: null },
      after: { scope: "CONNECTOR", key: "internal", rotated: true },
    });
  });

  it("a token of tenant A never touches tenant B", async () => {
    await allOff(a);
    await allOff(b);
    const tokenA = (await caller(a.admin.session).hooks.rotate({ scope: "TENANT" })).token;
    await caller(b.admin.session).hooks.rotate({ scope: "TENANT" });
    const beforeB = await head(b);
    expect((await alert(tokenA, "tenant A paging")).status).toBe(200);
    expect(await tenantSwitch(a)).toMatchObject({ enabled: true });
    expect((await tenantSwitch(b))?.enabled ?? false).toBe(false);
    expect(await head(b)).toBe(beforeB);
    expect(await probe(b)).toMatchObject({ decision: "AUTO_EXECUTE" });
    // B's admin sees B's hook only; B's API key sees B's hook only.
    const bStatus = await api(hookGet, keys[`${b.id}:admin`] as string, "GET");
    expect(await bStatus.json()).toMatchObject({ exists: true, scope: "TENANT" });
    expect((await caller(b.admin.session).hooks.alertHook()).exists).toBe(true);
  });

  it("a token signed for the approval kind is not a hook token", async () => {
    await allOff(a);
    const { token } = await caller(a.admin.session).hooks.rotate({ scope: "TENANT" });
    const id = token.split(".")[0] as string;
    const secret = connectorDepsFromEnv().secretKey;
    if (!secret) throw new Error("the test sets CONNECTOR_SECRET_KEY");
    const approval = signLink(linkKeyFrom(secret), "approval", id);
    expect(approval).not.toBe(token);
    const before = await head(a);
    expect((await alert(approval, "forged")).status).toBe(404);
    expect(await head(a)).toBe(before);
    expect((await tenantSwitch(a))?.enabled ?? false).toBe(false);
  });

  it("only an admin creates or rotates: seller and auditor are refused, a read key is 403", async () => {
    for (const user of [a.seller, a.auditor]) {
      await expect(caller(user.session).hooks.rotate({ scope: "TENANT" })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller(user.session).hooks.alertHook()).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect((await api(hookPost, keys[`${a.id}:read`] as string, "POST", { scope: "TENANT" })).status).toBe(403);
    expect((await api(hookPost, keys[`${a.id}:ingest`] as string, "POST", { scope: "TENANT" })).status).toBe(403);
  });

  it("REST create: 201 with url and token once; bad scope and keys are 400 naming the field", async () => {
    const key = keys[`${a.id}:admin`] as string;
    const res = await api(hookPost, key, "POST", { scope: "ACTION_TYPE", key: T });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { url: string; token: string; scope: string; key: string };
    expect(body).toMatchObject({ scope: "ACTION_TYPE", key: T, url: expect.stringContaining(body.token) });
    const status = (await (await api(hookGet, key, "GET")).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ exists: true, scope: "ACTION_TYPE", key: T, created_by: expect.any(String) });
    expect(JSON.stringify(status)).not.toContain(body.token.split(".")[1]);

    for (const [input, field] of [
      [{ scope: "GLOBAL" }, "scope"],
      [{ scope: "ACTION_TYPE" }, "key"],
      [{ scope: "ACTION_TYPE", key: "NOT_A_TYPE" }, "key"],
      [{ scope: "CONNECTOR", key: "fax" }, "key"],
      [{ scope: "TENANT", key: "x" }, "key"],
      [{ scope: "TENANT", token: "mine" }, "body"],
    ] as const) {
      const bad = await api(hookPost, key, "POST", input);
      expect(bad.status, JSON.stringify(input)).toBe(400);
      const err = ((await bad.json()) as { error: { field?: string } }).error;
      if (field !== "body") expect(err.field, JSON.stringify(input)).toBe(field);
    }
    // The ACTION_TYPE hook still stands: the bad requests wrote nothing.
    expect(await caller(a.admin.session).hooks.alertHook()).toMatchObject({ scope: "ACTION_TYPE", key: T });
  });

  it("an ACTION_TYPE hook stops that type; an oversized alert body is 413 and changes nothing", async () => {
    await allOff(a);
    const { token } = await caller(a.admin.session).hooks.rotate({ scope: "ACTION_TYPE", key: T });
    const before = await head(a);
    expect((await alert(token, "x".repeat(2 * 1024 * 1024))).status).toBe(413);
    expect(await head(a)).toBe(before);
    expect((await switches(a)).some((k) => k.enabled)).toBe(false);
    const res = await alert(
      token,
      JSON.stringify({
        receiver: "autopilot",
        status: "firing",
        commonAnnotations: { summary: "Bounce rate over 8% (token=sk_live_abcdefghijklmnop1234)" },
      }),
    );
    expect(res.status).toBe(200);
    const on = (await switches(a)).find((k) => k.scope === "ACTION_TYPE" && k.key === T);
    expect(on?.enabled).toBe(true);
    expect(on?.reason).toContain("Bounce rate over 8%");
    expect(on?.reason).not.toContain("sk_live_abcdefghijklmnop1234");
    expect(await probe(a)).toMatchObject({ reason: "KILL_SWITCH_ACTIVE" });
  });

  it("without a signing key the hook cannot be made (422 naming why)", async () => {
    await expect(
      rotateAlertHook(t.db, { secretKey: null, publicUrl: "https://x.test" }, a.admin.viewer, { scope: "TENANT" }, fixedClock(new Date())),
    ).rejects.toMatchObject({ code: "UNPROCESSABLE", publicCode: "NO_SIGNING_KEY", message: expect.stringContaining("signing key") });
  });
});
