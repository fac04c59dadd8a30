import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "@/server/api/root";
import { fixedClock } from "@/server/clock";
import { invokeWithResilience, type ResilienceDeps } from "@/server/services/resilience";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let http: Server;
let base: string;
/** what the local connector answers next (status) and how many requests reached it */
const status = 200;
let hits = 0;
const clock = fixedClock("2026-11-26T12:00:00Z");

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  http = createServer((req, res) => {
    hits++;
    req.resume();
    req.on("end", () => {
      res.statusCode = status;
      res.end("{}");
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => http.close(r));
  await t.cleanup();
});

const as = (s: TestTenant["admin"]["session"]) => createCaller({ db: t.db, clock, session: s });
const rdeps = (instanceId = "i1"): ResilienceDeps => ({ db: t.db, clock, instanceId, sleep: async () => undefined });

/** One real HTTP call through the wrapper; a 5xx is the connector's fault. */
const call = (tenantId: string, instanceId = "i1") =>
  invokeWithResilience(
    rdeps(instanceId),
    { tenantId, connector: "webhook", operation: "test", idempotent: false },
    async (signal) => {
      const res = await fetch(base, { method: "POST", body: "{}", signal });
      return { ok: res.ok, status: res.status };
    },
    (r) => (r.ok ? { ok: true } : { ok: false, fault: r.status >= 500, error: `HTTP ${r.status}` }),
  );

describe(`reliability read side and forced open (${TEST_PROVIDER})`, () => {
  it("reliability.connectors lists the four connectors CLOSED with no calls; force-open is ledgered and stops the very next call", async () => {
    const list = await as(a.auditor.session).reliability.connectors();
    expect(list.map((c) => [c.connector, c.state, c.inFlight, c.calls])).toEqual([
      ["internal", "CLOSED", 0, 0],
      ["webhook", "CLOSED", 0, 0],
      ["email", "CLOSED", 0, 0],
      ["crm", "CLOSED", 0, 0],
    ]);
    const before = hits;
    expect((await call(a.id)).kind).toBe("DONE");
    expect(hits).toBe(before + 1);

    const forced = await as(a.admin.session).reliability.setForcedOpen({ name: "webhook", forcedOpen: true, reason: "vendor incident" });
    expect(forced).toMatchObject({ connector: "webhook", state: "FORCED_OPEN", forcedReason: "vendor incident" });
    const refused = await call(a.id);
    expect(refused).toMatchObject({ kind: "FAIL_FAST", reason: "BREAKER_OPEN", state: "FORCED_OPEN" });
    expect(hits).toBe(before + 1);
    const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "CONNECTOR_STATE_CHANGED" } });
    expect(entries.map((e) => JSON.parse(e.payload))).toEqual([
      { connector: "webhook", from: "CLOSED", to: "FORCED_OPEN", reason: "vendor incident" },
    ]);

    await as(a.admin.session).reliability.setForcedOpen({ name: "webhook", forcedOpen: false, reason: "vendor recovered" });
    expect((await call(a.id)).kind).toBe("DONE");
    expect(hits).toBe(before + 2);
  });

  it("tenant B's force-open never touches tenant A, and B's procedures never show A's state or calls", async () => {
    await as(b.admin.session).reliability.setForcedOpen({ name: "crm", forcedOpen: true, reason: "B isolates its CRM" });
    const aView = await as(a.admin.session).reliability.connectors();
    expect(aView.find((c) => c.connector === "crm")?.state).toBe("CLOSED");
    const bView = await as(b.admin.session).reliability.connectors();
    expect(bView.find((c) => c.connector === "crm")?.state).toBe("FORCED_OPEN");
    // A made webhook calls above; B sees none of them.
    expect(aView.find((c) => c.connector === "webhook")?.calls).toBeGreaterThan(0);
    expect(bView.find((c) => c.connector === "webhook")?.calls).toBe(0);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id, type: "CONNECTOR_STATE_CHANGED", payload: { contains: "crm" } } })).toBe(
      0,
    );
  });

  it("a seller may not force a breaker; an auditor may read but not write", async () => {
    await expect(as(a.seller.session).reliability.setForcedOpen({ name: "crm", forcedOpen: true, reason: "x" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(as(a.auditor.session).reliability.setForcedOpen({ name: "crm", forcedOpen: true, reason: "x" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(as(a.seller.session).reliability.connectors()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
