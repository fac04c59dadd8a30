import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as metricsGet } from "@/app/api/metrics/route";
import { GET as connectorGet, PUT as connectorPut } from "@/app/api/v1/connectors/[name]/route";
import { GET as reliabilityGet } from "@/app/api/v1/reliability/connectors/route";
import { createCaller } from "@/server/api/root";
import { systemClock } from "@/server/clock";
import { DEFAULT_SLO } from "@/server/engine/slo";
import { createApiKey } from "@/server/services/apiKeys";
import { invokeWithResilience } from "@/server/services/resilience";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * Per-connector SLO targets (SPEC §4.7 "targets per connector"): the `slo` of a connector's
 * settings is validated at the edge, stored through the config write path, and is the target the
 * reliability read side (tRPC, REST, the charts' series) measures that connector's calls against —
 * read fresh, per tenant. Real calls through the wrapper to a local HTTP server make the samples.
 */

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let http: Server;
let url = "";
/** the next answers of the local connector: 500 while `failNext` > 0; `slowNext` answers wait 40 ms */
let failNext = 0;
let slowNext = 0;
const k = { aAdmin: "", aRead: "", bAdmin: "" };

beforeAll(async () => {
  t = await freshDb();
  // The REST handlers use the process's database (globalThis) and the system clock.
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  const key = async (tenantId: string, scopes: ("admin" | "read")[]) =>
    (await createApiKey(t.db, { tenantId, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)).key;
  k.aAdmin = await key(a.id, ["admin"]);
  k.aRead = await key(a.id, ["read"]);
  k.bAdmin = await key(b.id, ["admin"]);
  http = createServer((req, res) => {
    req.resume();
    req.on("end", async () => {
      if (slowNext > 0) {
        slowNext--;
        await new Promise((ok) => setTimeout(ok, 40));
      }
      res.statusCode = failNext > 0 ? 500 : 200;
      if (failNext > 0) failNext--;
      res.end("{}");
    });
  });
  http.keepAliveTimeout = 120_000;
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await new Promise((r) => http.close(r));
  await t.cleanup();
});

const as = (u: TestTenant["admin"]) => createCaller({ db: t.db, clock: systemClock, session: u.session });

async function rest(handler: typeof connectorPut, method: "GET" | "PUT", path: string, key: string, name: string | null, body?: unknown) {
  const req = new Request(`http://127.0.0.1/api/v1/${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const res = await handler(req, { params: Promise.resolve({ name: name ?? "" }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { field?: string } } };
}
const putConnector = (key: string, name: string, body: unknown) => rest(connectorPut, "PUT", `connectors/${name}`, key, name, body);
const getConnector = (key: string, name: string) => rest(connectorGet, "GET", `connectors/${name}`, key, name);
const reliability = async (key: string) => {
  const r = await rest(reliabilityGet as unknown as typeof connectorPut, "GET", "reliability/connectors", key, null);
  expect(r.status).toBe(200);
  return r.json as unknown as { connector: string; slo: Record<string, number>; alert: boolean; breached: string[]; calls: number }[];
};

/** `n` real webhook calls of a tenant through the wrapper (the first `errors` answered 500). */
async function calls(tenantId: string, n: number, errors = 0) {
  failNext = errors;
  for (let i = 0; i < n; i++) {
    const r = await invokeWithResilience(
      { db: t.db, clock: systemClock, instanceId: "slo", sleep: async () => undefined },
      { tenantId, connector: "webhook", operation: "test", idempotent: false },
      async (signal) => (await fetch(url, { method: "POST", body: "{}", signal })).status,
      (status) => (status < 400 ? { ok: true } : { ok: false, fault: false, error: `HTTP ${status}` }),
    );
    expect(r.kind).toBe("DONE");
  }
  expect(failNext).toBe(0);
}

describe(`per-connector SLO targets (${TEST_PROVIDER})`, () => {
  it("bad slo input is a 400 naming the field and writes nothing (REST and tRPC)", async () => {
    const head = async () => (await t.db.ledgerHead.findUnique({ where: { tenantId: a.id } }))?.seq ?? 0;
    const rows = () => t.db.connectorConfig.findMany({ where: { tenantId: a.id }, orderBy: { kind: "asc" } });
    const before = { head: await head(), rows: await rows() };
    const ok = { p99_ms: 500, error_rate: 0.01, window_seconds: 300 };
    const cases: [unknown, string][] = [
      [{ ...ok, p99_ms: 0 }, "slo.p99_ms"],
      [{ ...ok, p99_ms: 600_001 }, "slo.p99_ms"],
      [{ ...ok, p99_ms: 1.5 }, "slo.p99_ms"],
      [{ ...ok, error_rate: -0.01 }, "slo.error_rate"],
      [{ ...ok, error_rate: 1.5 }, "slo.error_rate"],
      [{ ...ok, error_rate: "5%" }, "slo.error_rate"],
      [{ ...ok, window_seconds: 59 }, "slo.window_seconds"],
      [{ ...ok, window_seconds: 86_401 }, "slo.window_seconds"],
      [{ p99_ms: 500, error_rate: 0.01 }, "slo.window_seconds"],
      [{ ...ok, min_samples: 0 }, "slo.min_samples"],
      [{ ...ok, window_minutes: 5 }, "slo"],
      ["fast", "slo"],
    ];
    for (const [slo, field] of cases) {
      const r = await putConnector(k.aAdmin, "webhook", { enabled: false, slo });
      expect(r.status, JSON.stringify(slo)).toBe(400);
      expect(r.json.error?.field, JSON.stringify(slo)).toBe(field);
    }
    await expect(as(a.admin).connectors.put({ name: "webhook", enabled: false, slo: { ...ok, error_rate: 2 } })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await head()).toBe(before.head);
    expect(await rows()).toEqual(before.rows);
    // A read key may not set a target.
    expect((await putConnector(k.aRead, "webhook", { enabled: false, slo: ok })).status).toBe(403);
  });

  it("REST round-trip: PUT slo → GET connectors/:name and reliability/connectors report it (the same field names); null → the default", async () => {
    const slo = { p99_ms: 750, error_rate: 0.02, window_seconds: 600, min_samples: 10 };
    const put = await putConnector(k.aAdmin, "crm", { enabled: false, slo, reason: "tighter for the pilot" });
    expect(put.status).toBe(200);
    expect(put.json.slo).toEqual(slo);
    expect((await getConnector(k.aRead, "crm")).json.slo).toEqual(slo);
    const crm = (await reliability(k.aRead)).find((c) => c.connector === "crm");
    // What reliability/connectors says can be written back as is.
    expect(crm?.slo).toEqual(slo);
    const change = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, type: "CONFIG_CHANGED" }, orderBy: { seq: "desc" } });
    expect(JSON.parse(change.payload)).toMatchObject({
      change: "connector_crm",
      before: null,
      after: { slo },
      reason: "tighter for the pilot",
    });
    // A PUT without slo keeps it; min_samples may be left out (then the default 20).
    expect((await putConnector(k.aAdmin, "crm", { enabled: false, max_concurrency: 4 })).json.slo).toEqual(slo);
    const noMin = { p99_ms: 900, error_rate: 0.03, window_seconds: 120 };
    expect((await putConnector(k.aAdmin, "crm", { enabled: false, slo: noMin })).json.slo).toEqual(noMin);
    expect((await reliability(k.aRead)).find((c) => c.connector === "crm")?.slo).toEqual({ ...noMin, min_samples: DEFAULT_SLO.minSamples });
    // null clears it: the default again, everywhere.
    expect((await putConnector(k.aAdmin, "crm", { enabled: false, slo: null })).json.slo).toBeNull();
    expect((await reliability(k.aRead)).find((c) => c.connector === "crm")?.slo).toEqual({
      p99_ms: DEFAULT_SLO.p99Ms,
      error_rate: DEFAULT_SLO.errorRate,
      window_seconds: DEFAULT_SLO.windowSeconds,
      min_samples: DEFAULT_SLO.minSamples,
    });
  });

  it("a connector with a tighter target alerts on the same calls the default target does not; the other tenant keeps the default", async () => {
    // 1 error in 25 calls: 4 % — within the default 5 %. Both tenants make the same calls.
    await calls(a.id, 25, 1);
    await calls(b.id, 25, 1);
    const view = async (tn: TestTenant) => (await as(tn.auditor).reliability.connectors()).find((c) => c.connector === "webhook");
    expect(await view(a)).toMatchObject({ calls: 25, errorRate: 0.04, alert: false, breached: [], slo: DEFAULT_SLO });

    // A tightens its webhook's error target to 1 %: the very next read alerts (nothing cached).
    const tight = { p99_ms: DEFAULT_SLO.p99Ms, error_rate: 0.01, window_seconds: 900 };
    expect((await putConnector(k.aAdmin, "webhook", { enabled: false, slo: tight })).status).toBe(200);
    expect(await view(a)).toMatchObject({
      calls: 25,
      alert: true,
      breached: ["ERROR_RATE"],
      slo: { p99Ms: 2000, errorRate: 0.01, windowSeconds: 900, minSamples: 20 },
    });
    const restA = (await reliability(k.aRead)).find((c) => c.connector === "webhook");
    expect(restA).toMatchObject({ alert: true, breached: ["ERROR_RATE"], slo: { error_rate: 0.01 } });
    // B made the same calls and has no target of its own: no alert there.
    expect(await view(b)).toMatchObject({ calls: 25, errorRate: 0.04, alert: false, slo: DEFAULT_SLO });
    expect((await reliability(k.bAdmin)).find((c) => c.connector === "webhook")).toMatchObject({ alert: false, slo: { error_rate: 0.05 } });

    // /api/metrics exports the same judgement per tenant, for Prometheus alerting.
    const scrape = async (key: string) =>
      (await metricsGet(new Request("http://127.0.0.1/api/metrics", { headers: { authorization: `Bearer ${key}` } }))).text();
    const aText = await scrape(k.aAdmin);
    expect(aText).toMatch(/^autopilot_connector_slo_alert\{connector="webhook"\} 1$/m);
    expect(aText).toMatch(/^autopilot_connector_slo_target_error_ratio\{connector="webhook"\} 0\.01$/m);
    expect(aText).toMatch(/^autopilot_connector_slo_error_ratio\{connector="webhook"\} 0\.04$/m);
    expect(aText).toMatch(/^autopilot_connector_slo_target_p99_seconds\{connector="webhook"\} 2$/m);
    // No calls, nothing to judge: an unused connector is absent.
    expect(aText).not.toMatch(/autopilot_connector_slo_alert\{connector="crm"\}/);
    const bText = await scrape(k.bAdmin);
    expect(bText).toMatch(/^autopilot_connector_slo_alert\{connector="webhook"\} 0$/m);
    expect(bText).toMatch(/^autopilot_connector_slo_target_error_ratio\{connector="webhook"\} 0\.05$/m);

    // The charts' series carry each connector's own target (B: the default).
    const seriesA = await as(a.auditor).reliability.series({ hours: 1 });
    expect(seriesA.connectors.find((c) => c.connector === "webhook")?.slo).toMatchObject({ errorRate: 0.01 });
    expect(seriesA.connectors.find((c) => c.connector === "crm")?.slo).toEqual(DEFAULT_SLO);
    expect((await as(b.auditor).reliability.series({ hours: 1 })).connectors.find((c) => c.connector === "webhook")?.slo).toEqual(
      DEFAULT_SLO,
    );

    // Latency: one call that takes ≥ 40 ms is the p99 of 26 (nearest rank); a 25 ms target is
    // breached by it, the default 2 s is not — once there are min_samples calls.
    slowNext = 1;
    await calls(a.id, 1);
    expect(slowNext).toBe(0);
    const latency = { p99_ms: 25, error_rate: 1, window_seconds: 900, min_samples: 27 };
    await as(a.admin).connectors.put({ name: "webhook", enabled: false, slo: latency });
    const few = await view(a);
    expect(few?.calls).toBe(26);
    expect(few?.p99Ms).toBeGreaterThanOrEqual(40);
    expect(few).toMatchObject({ alert: false, breached: [] });
    await as(a.admin).connectors.put({ name: "webhook", enabled: false, slo: { ...latency, min_samples: 26 } });
    // error_rate 1 never alerts on errors: only the latency target is breached.
    expect(await view(a)).toMatchObject({ alert: true, breached: ["P99"] });
    await as(a.admin).connectors.put({ name: "webhook", enabled: false, slo: null });
    expect(await view(a)).toMatchObject({ alert: false, breached: [], slo: DEFAULT_SLO });
  });

  it("tRPC: tenant B's target is B's alone; B's reads never show A's, and only admins write", async () => {
    const aSlo = { p99_ms: 300, error_rate: 0.005, window_seconds: 3600 };
    await as(a.admin).connectors.put({ name: "email", enabled: false, slo: aSlo });
    const bSlo = { p99_ms: 5000, error_rate: 0.2, window_seconds: 60, min_samples: 3 };
    const bPut = await as(b.admin).connectors.put({ name: "email", enabled: false, slo: bSlo });
    expect(bPut.slo).toEqual(bSlo);
    // A's target is untouched by B's write, and B's reads show only B's.
    expect((await as(a.auditor).connectors.get({ name: "email" })).slo).toEqual(aSlo);
    expect((await as(b.auditor).connectors.get({ name: "email" })).slo).toEqual(bSlo);
    expect((await as(b.auditor).connectors.list()).map((c) => c.slo)).not.toContainEqual(aSlo);
    expect((await as(b.auditor).reliability.connectors()).find((c) => c.connector === "email")?.slo).toEqual({
      p99Ms: 5000,
      errorRate: 0.2,
      windowSeconds: 60,
      minSamples: 3,
    });
    expect((await as(a.auditor).reliability.connectors()).find((c) => c.connector === "email")?.slo).toMatchObject({ p99Ms: 300 });
    // B's CONFIG_CHANGED is in B's ledger only.
    const aLedger = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "CONFIG_CHANGED" } });
    expect(aLedger.some((e) => e.payload.includes('"p99_ms":5000'))).toBe(false);
    await expect(as(a.auditor).connectors.put({ name: "email", enabled: false, slo: null })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(as(a.seller).connectors.put({ name: "email", enabled: false, slo: null })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect((await as(a.auditor).connectors.get({ name: "email" })).slo).toEqual(aSlo);
  });
});
