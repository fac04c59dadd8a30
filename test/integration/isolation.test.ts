import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ZodType } from "zod";
import { POST as approvalLinkPost } from "@/app/api/v1/approvals/[token]/route";
import { PUT as approvalSettingsPut } from "@/app/api/v1/approvals/settings/route";
import { PUT as streamPut } from "@/app/api/v1/audit/stream/route";
import { GET as downloadGet } from "@/app/api/v1/autonomy/audit/exports/[id]/download/route";
import { GET as exportGet } from "@/app/api/v1/autonomy/audit/exports/[id]/route";
import { POST as exportsPost } from "@/app/api/v1/autonomy/audit/exports/route";
import { GET as intentGet } from "@/app/api/v1/intents/[id]/route";
import { GET as ledgerGet } from "@/app/api/v1/ledger/route";
import { POST as signalsPost } from "@/app/api/v1/signals/route";
import { appRouter, createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import { createDb, type Db, type ObservedStatement } from "@/server/db";
import { connectorDepsFromEnv } from "@/server/http/deps";
import { OPERATIONS } from "@/server/http/openapi";
import { queueHandlers } from "@/server/jobs/registry";
import { createApiKey } from "@/server/services/apiKeys";
import { runAuditStreamTick } from "@/server/services/auditStream";
import { flushAllCallSamples } from "@/server/services/callSamples";
import { fireDueTriggers, RUN_DECISION } from "@/server/services/decisions";
import { enqueue, runWorkerTick } from "@/server/services/jobQueue";
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
 * decision, an execution, its outcome, an approval, an export, a SIEM stream); then tenant A's
 * story runs the same way, over REST, tRPC, one-time links and the scheduler's jobs —
 * and every REST endpoint and tRPC procedure is called as A, all while the harness records every
 * SQL statement (bound values and returned rows, through createDb's `observe` hook), every ledger
 * row written, every request reaching the test's HTTP servers, every console line and every
 * answer A got. Nothing of B may appear in any of them. A read planted across tenants is caught.
 */

// Read by env() at the edge (the export download route): this file's own export directory.
const EXPORT_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "autopilot-isolation-"));
process.env.EXPORT_DIR = EXPORT_DIR;
// One-time approval links are signed with a key derived from this and point at APP_URL.
process.env.CONNECTOR_SECRET_KEY ??= "isolation-test-connector-key";
process.env.APP_URL = "http://approvals.test";

/**
 * Statements that span tenants by design; only their RESULT rows are exempt (their bound values
 * are still checked). Each must be as narrow as its SQL allows and say why. None is needed today:
 * the statements of A's story not bound to A's tenant — the API key lookup by its unique prefix,
 * the scheduler's scan of due trigger windows and its claim of due jobs — return only what is
 * due or matches, and B has work queued for tomorrow (below), so a claim that ignored `runAt`
 * would return B's job and fail here.
 */
const ALLOWANCES: Allowance[] = [];

const ROUTES = import.meta.glob("/app/api/v1/**/route.ts");

/** Route exports the sweep does not call, each with why. */
const ROUTE_EXCLUSIONS: Record<string, string> = {
  // The OpenAPI document itself: static, generated from OPERATIONS, reads no database.
  "/app/api/v1/openapi.json/route.ts GET": "static document",
};

type Proc = { _def: { type: "query" | "mutation" | "subscription"; inputs: unknown[] } };

/**
 * Inputs for one endpoint or procedure, built from its own zod schema with `ids` put in: the
 * smallest valid one (required fields only) and a fuller valid one, both checked against the
 * schema (generated values that fail it — or no schema at all — leave one `undefined` input).
 */
function inputsFor(schema: ZodType | undefined, kind: keyof Ids, ids: Ids): unknown[] {
  if (!schema) return [undefined];
  const json = jsonSchemaOf(schema);
  const required = new Set(json.required ?? []);
  const candidates = fc.sample(arbitraryFromJsonSchema(json), { numRuns: 40, seed: 7 }).map((v) => withIds(v, kind, ids));
  const valid = (v: unknown) => schema.safeParse(v).success;
  const full = candidates.find(valid);
  const smallest = candidates
    .map((v) =>
      v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([k]) => required.has(k))) : v,
    )
    .find(valid);
  const found = [smallest, full].filter((v) => v !== undefined);
  return found.length ? found : [candidates[0]];
}

/** Which kind of object an `id` of this path or procedure names. */
function idKind(where: string): keyof Ids {
  if (/export/i.test(where)) return "export";
  if (/execution|replay/i.test(where)) return "execution";
  if (/intent|approval|work|review/i.test(where)) return "intent";
  return "account";
}

const ID_FIELDS: Record<string, keyof Ids> = {
  account_id: "account",
  accountId: "account",
  action_intent_id: "intent",
  actionIntentId: "intent",
  intent_id: "intent",
  intentId: "intent",
  execution_id: "execution",
  executionId: "execution",
  export_id: "export",
  exportId: "export",
};

/** Put these ids where an input names an object (A's own, so calls reach A's rows rather than "not found"). */
function withIds(v: unknown, kind: keyof Ids, ids: Ids): unknown {
  if (!v || typeof v !== "object" || Array.isArray(v)) return v;
  const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  if ("id" in out) out.id = ids[kind];
  if (Array.isArray(out.ids)) out.ids = [ids[kind]];
  for (const [k, which] of Object.entries(ID_FIELDS)) if (k in out) out[k] = ids[which];
  // A generated cursor is junk by construction (cursors are opaque); the first page is the read.
  delete out.cursor;
  return out;
}

let t: TestDb;
let db: Db;
const rec = new IsolationRecorder();
let a: TestTenant;
let b: TestTenant;
let markers: Marker[];
const keys: Record<string, Record<"admin" | "ingest" | "read" | "approve", string>> = {};
const receivers: Record<string, string> = {};
interface Ids {
  account: string;
  intent: string;
  execution: string;
  export: string;
}
/** tenant A's own objects, for the ids the sweep puts into inputs; B's, for the hostile sweep */
const own: Ids = { account: "", intent: "", execution: "", export: "" };
const theirs: Ids = { account: "", intent: "", execution: "", export: "" };

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
      connectors: connectorDepsFromEnv(),
      workerId: "w",
      exports: { dir: EXPORT_DIR, databaseUrl: t.url, observe: rec.observe },
    }),
    { owner: "w", leaseSeconds: 120, maxJobs: 50, clock },
  );
  return fired;
}

type Entry = { seq: number; type: string; correlation_id: string; payload: Record<string, unknown> };
type SlackMessage = { text: string; blocks: { type: string; elements?: { url: string }[] }[] };

/** The approval messages this tenant's webhook received. */
function slackMessages(tenant: TestTenant): SlackMessage[] {
  return rec.received.filter((r) => r.to === receivers[tenant.id] && r.url === "/slack").map((r) => JSON.parse(r.body) as SlackMessage);
}

/**
 * One tenant's whole story through the product's own edges: a stream to its SIEM receiver and an
 * approval webhook, two signals pushed over REST, the decision run by the scheduler's jobs, the
 * autonomous execution and its outcome followed by correlation id over REST, the proposal that
 * waits announced to the webhook and approved through its one-time link, an audit export
 * requested, run by the worker and downloaded, and the SIEM stream delivered.
 */
async function story(tenant: TestTenant) {
  const k = keys[tenant.id] as (typeof keys)[string];
  const account = tenant.accounts.seller[0] as string;
  expect(
    (await rest(streamPut, k.admin, "/api/v1/audit/stream", { method: "PUT", body: { url: receivers[tenant.id], enabled: true } })).status,
  ).toBe(200);
  // Approvals are announced to the tenant's webhook (Slack-style, with one-time links).
  await createCaller({ db, clock: systemClock, session: tenant.admin.session }).autonomy.setWebhook({
    url: `${receivers[tenant.id]}/slack`,
    enabled: true,
  });
  const notify = await rest(approvalSettingsPut, k.admin, "/api/v1/approvals/settings", { method: "PUT", body: { notify_webhook: true } });
  expect(notify.status).toBe(200);
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

  // The proposal that waits for a person was announced (by the job the run queued); the person
  // approves through the message's link, and the worker runs what was approved.
  await decideAfter(200);
  const waiting = entries.find((e) => e.type === "INTENT_PROPOSED" && e.payload.action_type === "SEND_EMAIL")?.payload
    .action_intent_id as string;
  const announced = slackMessages(tenant).find((m) => m.text.includes("SEND_EMAIL"));
  const approveUrl = announced?.blocks.find((x) => x.type === "actions")?.elements?.[0]?.url as string;
  const token = new URL(approveUrl).pathname.replace("/approve/", "");
  const approved = await rest(approvalLinkPost, "", `/api/v1/approvals/${token}`, {
    method: "POST",
    body: { decision: "approve" },
    params: { token },
  });
  expect(approved.status).toBe(200);
  await decideAfter(250);
  expect(JSON.parse((await rest(intentGet, k.read, `/api/v1/intents/${waiting}`, { params: { id: waiting } })).body).status).not.toBe(
    "PENDING_APPROVAL",
  );

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
  // CSV too: on SQLite its lines are built by SQL and reach the harness as one value per page.
  const csv = await rest(exportsPost, k.admin, "/api/v1/autonomy/audit/exports", { method: "POST", body: { from, to, format: "csv" } });
  expect(csv.status).toBe(202);
  const csvId = (JSON.parse(csv.body) as { export_id: string }).export_id;
  await decideAfter(0);
  const csvFile = await rest(downloadGet, k.admin, `/api/v1/autonomy/audit/exports/${csvId}/download`, { params: { id: csvId } });
  expect(csvFile.status).toBe(200);
  expect(csvFile.body).toContain(correlation);

  // The stream job for this tenant's stream. (The scheduler's form walks every tenant's due stream
  // by design and then serves each bound to its own tenant — that is the other tenant's story.)
  const streamed = await runAuditStreamTick({ db, clock: systemClock }, { tenantId: tenant.id });
  expect(streamed.streams.length > 0 && streamed.ok).toBe(true);
  return { account, exportId, correlation };
}

/**
 * Every REST operation (checked against the route files) and every tRPC procedure (enumerated
 * from appRouter), called as tenant A — the op's own key scope; an admin and a seller session —
 * with inputs built from their zod schemas and `ids` put where they name an object.
 */
async function sweep(ids: Ids) {
  const ops = OPERATIONS.map((op) => ({ ...op, file: `/app${op.path.replace(/\{(\w+)\}/g, "[$1]")}/route.ts` }));
  // Every route module's exported method is an operation (or excluded with a reason) ...
  const listed = new Set([...ops.map((o) => `${o.file} ${o.method.toUpperCase()}`), ...Object.keys(ROUTE_EXCLUSIONS)]);
  for (const [file, load] of Object.entries(ROUTES)) {
    const mod = (await load()) as Record<string, unknown>;
    for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE"])
      if (typeof mod[m] === "function") expect(listed, `${m} ${file}`).toContain(`${file} ${m}`);
  }
  const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, Proc>);
  const calledRoutes = new Set<string>();
  const calledProcedures = new Set<string>();
  let passedValidation = 0;
  let calls = 0;

  // ... and each is called, with inputs built from its own zod schemas and the given ids.
  for (const op of ops) {
    const load = ROUTES[op.file];
    if (!load) throw new Error(`no route module for ${op.path}`);
    const handler = ((await load()) as Record<string, Handler>)[op.method.toUpperCase()] as Handler;
    const kind = idKind(op.path);
    const key = (keys[a.id] as Record<string, string>)[op.scopes[0] ?? "admin"] ?? (keys[a.id]?.admin as string);
    const queries = inputsFor(op.query, kind, ids);
    const bodies = op.method === "get" ? [undefined] : inputsFor(op.body, kind, ids);
    for (let i = 0; i < Math.max(queries.length, bodies.length); i++) {
      const params: Record<string, string> = {};
      let url = op.path;
      for (const [, name] of op.path.matchAll(/\{(\w+)\}/g)) {
        const value = name === "name" ? "webhook" : name === "token" ? "not-a-token" : ids[kind];
        params[name as string] = value;
        url = url.replace(`{${name}}`, value);
      }
      const query = queries[i % queries.length];
      if (query && typeof query === "object")
        url += `?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]))}`;
      const body = bodies[i % bodies.length];
      const res = await rest(handler, key, url, { method: op.method.toUpperCase(), body, params });
      calls++;
      if (res.status !== 400 && res.status < 500) passedValidation++;
      expect(res.status, `${op.method} ${url}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
    }
    calledRoutes.add(`${op.file} ${op.method.toUpperCase()}`);
  }
  // An admin reaches every procedure; a seller takes the owner-filtered paths.
  const callers = [a.admin, a.seller].map((u) => createCaller({ db, clock: systemClock, session: u.session }));
  for (const [name, proc] of procedures) {
    const kind = idKind(name);
    for (const input of inputsFor(proc._def.inputs[0] as ZodType | undefined, kind, ids)) {
      for (const caller of callers) {
        const fn = name.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], caller) as (
          input?: unknown,
        ) => Promise<unknown>;
        calls++;
        try {
          rec.output(`tRPC ${name}`, await fn(input));
          passedValidation++;
        } catch (err) {
          const e = err as { code?: string; message?: string };
          rec.output(`tRPC ${name} → ${e.code}`, e.message);
          expect(e.code, `${name}: ${e.message}`).not.toBe("INTERNAL_SERVER_ERROR");
          if (e.code !== "BAD_REQUEST") passedValidation++;
        }
      }
    }
    calledProcedures.add(name);
  }

  return { ops, procedures, calledRoutes, calledProcedures, calls, passedValidation };
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
  const bStory = await story(b);
  // Work of B's that is not due during A's story.
  await enqueue(
    db,
    { tenantId: b.id, kind: RUN_DECISION, payload: { runId: "tomorrow" }, dedupeKey: "isolation:tomorrow" },
    fixedClock(new Date(Date.now() + 86_400_000)),
  );
  theirs.account = bStory.account;
  theirs.export = bStory.exportId;
  theirs.intent = (await db.actionIntent.findFirstOrThrow({ where: { tenantId: b.id, actionType: "SEND_EMAIL" } })).id;
  theirs.execution = (await db.execution.findFirstOrThrow({ where: { tenantId: b.id } })).id;
  markers = await tenantMarkers(db, b.id, a.id);
}, 60_000);

afterAll(async () => {
  await rec.close();
  await db.$disconnect();
  await t.cleanup();
  fs.rmSync(EXPORT_DIR, { recursive: true, force: true });
});

describe(`tenant isolation on ${TEST_PROVIDER}`, () => {
  it("tenant A's story (signal → decision → execution → outcome, an approval announced and approved by link, export, stream) touches nothing of tenant B", async () => {
    expect(markers.map((m) => m.label)).toEqual(
      expect.arrayContaining(["tenant id", "account id", "contact email", "user id", "user email", "API key prefix"]),
    );
    const heads = await ledgerHeads(db);
    // Call samples buffered by the setup (B's calls too) are written now, not by a timer mid-recording.
    await flushAllCallSamples();
    rec.start();
    const { account, exportId, correlation } = await story(a);
    rec.stop();
    const written = await ledgerWrittenSince(db, heads);

    // The recording saw the story: statements bound to A, A's rows, A's ledger, A's stream and export.
    expect(rec.statements.filter((s) => s.args.includes(a.id)).length).toBeGreaterThan(50);
    expect(rec.statements.some((s) => s.rows?.some((r) => r.includes(account)))).toBe(true);
    // The exports' scans (the plain driver, not Prisma) are recorded too, with what they read: the
    // JSON lines' rows and the CSV's (on SQLite one Buffer of a page's lines) carry A's entries.
    const scans = rec.statements.filter((s) => /FROM "LedgerEntry" WHERE "tenantId" = \?.* LIMIT \?|^FETCH /.test(s.sql));
    const carries = (s: ObservedStatement) =>
      s.rows?.some((r) => r.some((v) => (Buffer.isBuffer(v) ? v.toString("utf8") : String(v)).includes(correlation))) ?? false;
    expect(scans.filter(carries).length).toBeGreaterThanOrEqual(2);
    expect(written.filter((e) => e.tenantId === a.id).map((e) => e.type)).toEqual(
      expect.arrayContaining(["SIGNAL_RECEIVED", "EXECUTION_SUCCEEDED", "OUTCOME_RECORDED", "EXPORT_REQUESTED"]),
    );
    expect(written.every((e) => e.tenantId === a.id)).toBe(true);
    expect(rec.requests.length).toBeGreaterThan(0);
    // Outbound: the approval message and the SIEM stream, both to A's own receiver only.
    expect(rec.requests.every((r) => r.to === receivers[a.id])).toBe(true);
    expect(rec.requests.some((r) => r.url === "/slack")).toBe(true);
    expect(rec.requests.some((r) => r.url !== "/slack" && r.body.includes(a.id))).toBe(true);
    expect(rec.outputs.some((o) => o.label.includes(`${exportId}/download → 200`))).toBe(true);

    expect(describeLeaks(rec.leaks(markers, { allowances: ALLOWANCES, ledger: written }))).toBe("");
    expect(await verifyLedger(db, a.id)).toMatchObject({ ok: true });
    expect(await verifyLedger(db, b.id)).toMatchObject({ ok: true });

    // A's own objects, for the sweep below.
    own.account = account;
    own.export = exportId;
    own.intent = (await db.actionIntent.findFirstOrThrow({ where: { tenantId: a.id, actionType: "SEND_EMAIL" } })).id;
    own.execution = (await db.execution.findFirstOrThrow({ where: { tenantId: a.id } })).id;
  }, 60_000);

  it("every REST endpoint and tRPC procedure, called as tenant A with A's ids, touches nothing of tenant B (none forgotten)", async () => {
    expect(own.intent, "the story above ran").not.toBe("");
    const heads = await ledgerHeads(db);
    rec.clear();
    // Call samples buffered by the setup (B's calls too) are written now, not by a timer mid-recording.
    await flushAllCallSamples();
    rec.start();
    const { ops, procedures, calledRoutes, calledProcedures, calls, passedValidation } = await sweep(own);
    rec.stop();

    expect([...calledRoutes].sort()).toEqual(ops.map((o) => `${o.file} ${o.method.toUpperCase()}`).sort());
    expect([...calledProcedures].sort()).toEqual(procedures.map(([p]) => p).sort());
    // Most calls reach the services (past input validation), so the recording covers real reads.
    expect(passedValidation / calls).toBeGreaterThan(0.8);
    const written = await ledgerWrittenSince(db, heads);
    expect(written.every((e) => e.tenantId === a.id)).toBe(true);
    expect(describeLeaks(rec.leaks(markers, { allowances: ALLOWANCES, ledger: written }))).toBe("");
  }, 120_000);

  it("B's ids put into A's requests: the harness names every statement that carries them, and no statement returns B's rows, nothing answers or writes them", async () => {
    const heads = await ledgerHeads(db);
    rec.clear();
    // Call samples buffered by the setup (B's calls too) are written now, not by a timer mid-recording.
    await flushAllCallSamples();
    rec.start();
    const { calls, passedValidation } = await sweep(theirs);
    rec.stop();
    const hostile = new Set(Object.values(theirs));
    const leaks = rec.leaks(markers, { allowances: ALLOWANCES, ledger: await ledgerWrittenSince(db, heads) });
    // The ids A sent are reported where they were bound (a lookup scoped by A's tenant id as well) ...
    const named = leaks.filter((l) => l.channel === "sql-args");
    expect(named.length).toBeGreaterThan(10);
    expect(named.every((l) => hostile.has(l.marker.value))).toBe(true);
    // ... but the product scopes every read and write by tenant: none of B's rows came back, and
    // no answer (not even an error echoing the id), ledger row, request or log line carries them.
    expect(describeLeaks(leaks.filter((l) => l.channel !== "sql-args"))).toBe("");
    expect(passedValidation / calls).toBeGreaterThan(0.8);
  }, 120_000);

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
    // Call samples buffered by the setup (B's calls too) are written now, not by a timer mid-recording.
    await flushAllCallSamples();
    rec.start();
    const mine = a.accounts.seller[0] as string;
    const res = await rest(leaky, keys[a.id]?.read as string, `/api/v1/accounts/${mine}`, { params: { id: mine } });
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
