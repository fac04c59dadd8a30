import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUT as streamPut } from "@/app/api/v1/audit/stream/route";
import { GET as downloadGet } from "@/app/api/v1/autonomy/audit/exports/[id]/download/route";
import { GET as exportGet } from "@/app/api/v1/autonomy/audit/exports/[id]/route";
import { POST as exportsPost } from "@/app/api/v1/autonomy/audit/exports/route";
import { GET as ledgerGet } from "@/app/api/v1/ledger/route";
import { POST as signalsPost } from "@/app/api/v1/signals/route";
import { appRouter, createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import { createDb, type Db } from "@/server/db";
import { OPERATIONS } from "@/server/http/openapi";
import { queueHandlers } from "@/server/jobs/registry";
import { createApiKey } from "@/server/services/apiKeys";
import { runAuditStreamTick } from "@/server/services/auditStream";
import { fireDueTriggers } from "@/server/services/decisions";
import { runWorkerTick } from "@/server/services/jobQueue";
import { verifyLedger } from "@/server/services/ledger";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { alwaysOn, autonomous } from "../helpers/gate";
import {
  type Allowance,
  describeLeaks,
  IsolationRecorder,
  ledgerHeads,
  ledgerWrittenSince,
  type Marker,
  tenantMarkers,
} from "../helpers/isolation";
import { arbitraryFromJsonSchema, jsonSchemaOf } from "../helpers/zodArbitrary";

/**
 * Tenant isolation (SPEC §4.7, issue 12 item 5): tenant B has its own full story (signals, a
 * decision, an execution, its outcome, an export, a SIEM stream); then tenant A's story runs —
 * signal → decision → execution → outcome → export → stream, over REST and the scheduler's jobs —
 * and every REST endpoint and tRPC procedure is called as A, all while the harness records every
 * SQL statement (bound values and returned rows, through createDb's `observe` hook), every ledger
 * row written, every request reaching the test's HTTP servers, every console line and every
 * answer A got. Nothing of B may appear in any of them. A read planted across tenants is caught.
 */

// Read by env() at the edge (the export download route): this file's own export directory.
const EXPORT_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-isolation-"));
process.env.EXPORT_DIR = EXPORT_DIR;

/**
 * Statements that span tenants by design; only their RESULT rows are exempt (their bound values
 * are still checked). Each is as narrow as its SQL allows.
 */
const ALLOWANCES: Allowance[] = [];

const ROUTES = import.meta.glob("/app/api/v1/**/route.ts");

/** Route exports the sweep does not call, each with why. */
const ROUTE_EXCLUSIONS: Record<string, string> = {
  // The OpenAPI document itself: static, generated from OPERATIONS, reads no database.
  "/app/api/v1/openapi.json/route.ts GET": "static document",
};

let t: TestDb;
let db: Db;
const rec = new IsolationRecorder();
let a: TestTenant;
let b: TestTenant;
let markers: Marker[];
const keys: Record<string, Record<"admin" | "ingest" | "read" | "approve", string>> = {};
const receivers: Record<string, string> = {};
/** tenant A's own objects, for the ids the sweep puts into inputs */
const own = { account: "", intent: "", execution: "", export: "" };

// biome-ignore lint/suspicious/noExplicitAny: route handlers differ only in their params' type
type Handler = (req: Request, route: { params: Promise<any> }) => Promise<Response>;

async function rest(
  handler: Handler,
  key: string,
  url: string,
  init: { method?: string; body?: unknown; params?: Record<string, string> } = {},
) {
  const res = await handler(
    new Request(`http://127.0.0.1${url}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
    { params: Promise.resolve(init.params ?? {}) },
  );
  const body = await res.text();
  rec.output(`${init.method ?? "GET"} ${url} → ${res.status}`, body);
  return { status: res.status, body };
}

/** What the scheduler and the worker do once the debounce window is due (as in story.test.ts). */
async function decideAfter(seconds: number) {
  const clock = fixedClock(new Date(Date.now() + seconds * 1000));
  const fired = await fireDueTriggers(db, clock);
  await runWorkerTick(
    db,
    queueHandlers({
      db,
      clock,
      synthesizer: rulesSynthesizer,
      connectors: { smtp: null },
      workerId: "w",
      exports: { dir: EXPORT_DIR, databaseUrl: t.url },
    }),
    { owner: "w", leaseSeconds: 120, maxJobs: 50, clock },
  );
  return fired;
}

type Entry = { seq: number; type: string; correlation_id: string; payload: Record<string, unknown> };

/**
 * One tenant's whole story through the product's own edges: a stream to its SIEM receiver, two
 * signals pushed over REST, the decision run by the scheduler's jobs, the autonomous execution
 * and its outcome, followed by correlation id over REST, an audit export requested, run by the
 * worker and downloaded, and the SIEM stream delivered.
 */
async function story(tenant: TestTenant) {
  const k = keys[tenant.id] as (typeof keys)[string];
  const account = tenant.accounts.seller[0] as string;
  expect(
    (await rest(streamPut, k.admin, "/api/v1/audit/stream", { method: "PUT", body: { url: receivers[tenant.id], enabled: true } })).status,
  ).toBe(200);
  const signal = async (severity: string) => {
    const res = await rest(signalsPost, k.ingest, "/api/v1/signals", {
      method: "POST",
      body: { account_id: account, signal_type: "SUPPORT_RISK_EMERGING", severity, evidence: { open_p1_tickets: 2 } },
    });
    expect(res.status).toBe(202);
    return (JSON.parse(res.body) as { signal_id: string }).signal_id;
  };
  const first = await signal("high");
  await signal("critical");
  expect((await decideAfter(150)).fired).toBeGreaterThanOrEqual(1);

  const received = JSON.parse((await rest(ledgerGet, k.read, "/api/v1/ledger?type=SIGNAL_RECEIVED&limit=50")).body).items as Entry[];
  const correlation = received.find((e) => e.payload.signal_id === first)?.correlation_id as string;
  const entries = JSON.parse(
    (await rest(ledgerGet, k.read, `/api/v1/ledger?correlation_id=${encodeURIComponent(correlation)}&limit=100`)).body,
  ).items as Entry[];
  const types = entries.map((e) => e.type);
  for (const step of ["TRIGGER_FIRED", "DECISION_SYNTHESIZED", "INTENT_PROPOSED", "EXECUTION_SUCCEEDED", "OUTCOME_RECORDED"])
    expect(types).toContain(step);

  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const requested = await rest(exportsPost, k.admin, "/api/v1/autonomy/audit/exports", {
    method: "POST",
    body: { from, to, format: "jsonl" },
  });
  expect(requested.status).toBe(202);
  const exportId = (JSON.parse(requested.body) as { export_id: string }).export_id;
  await decideAfter(0);
  const status = await rest(exportGet, k.admin, `/api/v1/autonomy/audit/exports/${exportId}`, { params: { id: exportId } });
  expect(JSON.parse(status.body)).toMatchObject({ status: "COMPLETED" });
  const download = await rest(downloadGet, k.admin, `/api/v1/autonomy/audit/exports/${exportId}/download`, { params: { id: exportId } });
  expect(download.status).toBe(200);
  expect(download.body).toContain(correlation);

  // The stream job for this tenant's stream. (The scheduler's form walks every tenant's due stream
  // by design and then serves each bound to its own tenant — that is the other tenant's story.)
  const streamed = await runAuditStreamTick({ db, clock: systemClock }, { tenantId: tenant.id });
  expect(streamed.streams.length > 0 && streamed.ok).toBe(true);
  return { account, exportId, correlation };
}

beforeAll(async () => {
  t = await freshDb();
  db = createDb(t.url, { observe: rec.observe });
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = db;
  b = await makeTenant(db);
  a = await makeTenant(db);
  for (const tenant of [a, b]) {
    const mk = async (scope: "admin" | "ingest" | "read" | "approve") =>
      (await createApiKey(db, { tenantId: tenant.id, name: scope, scopes: [scope], actor: { type: "SYSTEM", id: "t" } }, systemClock)).key;
    keys[tenant.id] = { admin: await mk("admin"), ingest: await mk("ingest"), read: await mk("read"), approve: await mk("approve") };
    receivers[tenant.id] = await rec.server();
    const account = tenant.accounts.seller[0] as string;
    // Contacts only this tenant has (the factory's `cN@example.test` are shared by both).
    await db.contact.create({
      data: { tenantId: tenant.id, accountId: account, name: "Ivan Ito", email: `ivan@${tenant.slug}.example`, title: "IT Director" },
    });
    await autonomous(db, tenant.admin.viewer, "FLAG_FOR_REVIEW", { maxPerDay: 5 });
    await alwaysOn(db, tenant.admin.viewer, [account]);
  }
  // B's full data set first, so that a leak has something to leak; its jobs are drained.
  await story(b);
  markers = await tenantMarkers(db, b.id, a.id);
}, 60_000);

afterAll(async () => {
  await rec.close();
  await db.$disconnect();
  await t.cleanup();
  fs.rmSync(EXPORT_DIR, { recursive: true, force: true });
});

describe(`tenant isolation on ${TEST_PROVIDER}`, () => {
  it("tenant A's story (signal → decision → execution → outcome → export → stream) touches nothing of tenant B", async () => {
    expect(markers.map((m) => m.label)).toEqual(
      expect.arrayContaining(["tenant id", "account id", "contact email", "user id", "user email", "API key prefix"]),
    );
    const heads = await ledgerHeads(db);
    rec.start();
    const { account, exportId } = await story(a);
    rec.stop();
    const written = await ledgerWrittenSince(db, heads);

    // The recording saw the story: statements bound to A, A's rows, A's ledger, A's stream and export.
    expect(rec.statements.filter((s) => s.args.includes(a.id)).length).toBeGreaterThan(50);
    expect(rec.statements.some((s) => s.rows?.some((r) => r.includes(account)))).toBe(true);
    expect(written.filter((e) => e.tenantId === a.id).map((e) => e.type)).toEqual(
      expect.arrayContaining(["SIGNAL_RECEIVED", "EXECUTION_SUCCEEDED", "OUTCOME_RECORDED", "EXPORT_REQUESTED"]),
    );
    expect(written.every((e) => e.tenantId === a.id)).toBe(true);
    expect(rec.requests.length).toBeGreaterThan(0);
    expect(rec.requests.every((r) => r.to === receivers[a.id] && r.body.includes(a.id))).toBe(true);
    expect(rec.outputs.some((o) => o.label.includes(`${exportId}/download → 200`))).toBe(true);

    expect(describeLeaks(rec.leaks(markers, { allowances: ALLOWANCES, ledger: written }))).toBe("");
    expect(await verifyLedger(db, a.id)).toMatchObject({ ok: true });
    expect(await verifyLedger(db, b.id)).toMatchObject({ ok: true });
  }, 60_000);

  it("a cross-tenant read planted in A's request is reported, naming the statement and B's value (and so are a log line and a request)", async () => {
    const { GET: accountGet } = (await import("@/app/api/v1/accounts/[id]/route")) as { GET: Handler };
    const bAccount = b.accounts.seller[0] as string;
    // The plant: a route wrapper whose extra read forgot the tenant filter — one lookup by a
    // guessed id, one list — around A's own, correctly scoped request.
    const leaky: Handler = async (req, route) => {
      await db.account.findUnique({ where: { id: bAccount }, select: { name: true } });
      await db.account.findMany({ where: { name: { contains: "account" } }, select: { id: true } });
      return accountGet(req, route);
    };
    rec.clear();
    rec.start();
    const res = await rest(leaky, keys[a.id]?.read as string, `/api/v1/accounts/${a.accounts.seller[0]}`, {
      params: { id: a.accounts.seller[0] },
    });
    console.warn(`planted: notified ${b.admin.email}`);
    await fetch(`${receivers[a.id]}/planted`, { method: "POST", body: JSON.stringify({ tenant: b.id }) });
    rec.stop();
    expect(res.status).toBe(200);

    const leaks = rec.leaks(markers, { allowances: ALLOWANCES });
    const report = describeLeaks(leaks);
    // The lookup names B's account in its bound values; the list returns B's rows.
    expect(leaks).toContainEqual(
      expect.objectContaining({
        channel: "sql-args",
        marker: { label: "account id", value: bAccount },
        where: expect.stringMatching(/FROM .*Account/),
      }),
    );
    expect(leaks).toContainEqual(
      expect.objectContaining({
        channel: "sql-rows",
        marker: { label: "account id", value: bAccount },
        where: expect.stringMatching(/LIKE/),
      }),
    );
    expect(leaks).toContainEqual(expect.objectContaining({ channel: "log", marker: { label: "user email", value: b.admin.email } }));
    expect(leaks).toContainEqual(expect.objectContaining({ channel: "http", marker: { label: "tenant id", value: b.id } }));
    expect(report).toContain(`tenant B's account id ${bAccount} in: SELECT`);
    // Nothing else: A's own request, scoped by tenant, is not reported.
    expect(
      leaks
        .filter((l) => l.channel.startsWith("sql"))
        .every((l) => /Account/.test(l.where) && !/tenantId/.test(l.where.split(" WHERE ")[1] ?? "")),
    ).toBe(true);
  });
});
