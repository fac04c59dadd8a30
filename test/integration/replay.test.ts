import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as replayPost } from "@/app/api/v1/executions/[id]/replay/route";
import { GET as previewGet } from "@/app/api/v1/executions/[id]/replay-preview/route";
import { POST as bulkPost } from "@/app/api/v1/executions/replay/route";
import { createCaller } from "@/server/api/root";
import { fixedClock } from "@/server/clock";
import { secretKeyFrom } from "@/server/connectors/secretBox";
import type { Db } from "@/server/db";
import { EXECUTION_LEASE_MS } from "@/server/engine/recovery";
import { JOBS } from "@/server/jobs/registry";
import { finishExecution, insertExecution } from "@/server/repos/executions";
import { inTransaction } from "@/server/repos/tx";
import type { ApiKeyScope } from "@/server/schemas/common";
import { createApiKey } from "@/server/services/apiKeys";
import { putKillSwitch } from "@/server/services/autonomyConfig";
import { putConnector, setWebhook } from "@/server/services/connectors";
import type { GateDeps } from "@/server/services/gate";
import { submitIntent } from "@/server/services/gate";
import { claimNext, enqueue } from "@/server/services/jobQueue";
import { verifyLedger } from "@/server/services/ledger";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { bulkReplay, bulkReplayPreview, REPLAY_EXECUTION, replayExecution, replayPreview } from "@/server/services/replay";
import { acquirePermit, DEFER_RETRY_SECONDS, releasePermit, resilienceDeps, settleSlotReleases } from "@/server/services/resilience";
import { approveIntent } from "@/server/services/reviews";
import { sweepExecutions } from "@/server/services/sweeper";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { FakeHubspot } from "../helpers/fakeHubspot";
import { intent } from "../helpers/gate";

/**
 * Replay (issue 12 item 3, SPEC §4.7 / §5.1): the preview names the call that would repeat and its
 * key; a replay is a new execution, queued with its job in the request and run by the queue (the
 * production `decisions` tick drains it here), whose tool call reaches a real webhook receiver on
 * 127.0.0.1 with the ORIGINAL Idempotency-Key; the original execution, its tool calls and the
 * intent stay byte-for-byte as they were; REPLAY_* entries are on the intent's correlation id; the
 * chain verifies.
 */

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let http: Server;
let base: string;
/** the receiver answers 500 while this is above 0 (and counts down) */
let failNext = 0;
/** the receiver holds each answer this long */
const holdMs = 0;
const deliveries: { path: string; key: string | undefined; executionId: unknown }[] = [];
const k: Record<string, string> = {};
const clock = fixedClock("2026-03-02T10:00:00Z");
const deps = (db: Db): GateDeps => ({ db, clock, connectors: { smtp: null } });
const caller = (u: TestTenant["admin"]) => createCaller({ db: t.db, clock, session: u.session });

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      deliveries.push({ path: req.url ?? "", key: req.headers["idempotency-key"] as string | undefined, executionId: body.execution_id });
      res.statusCode = failNext > 0 ? 500 : 200;
      if (failNext > 0) failNext--;
      setTimeout(() => res.end("ok"), holdMs);
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  await setWebhook(t.db, a.admin.viewer, { url: `${base}/a`, enabled: true }, clock);
  await setWebhook(t.db, b.admin.viewer, { url: `${base}/b`, enabled: true }, clock);
  const key = async (tenant: TestTenant, scopes: ApiKeyScope[]) =>
    (await createApiKey(t.db, { tenantId: tenant.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, clock)).key;
  k.admin = await key(a, ["admin"]);
  k.read = await key(a, ["read"]);
  k.bAdmin = await key(b, ["admin"]);
});
afterAll(async () => {
  await new Promise((r) => http.close(r));
  await t.cleanup();
});

/**
 * Approved executions (EXECUTE_APPROVED) and replays (REPLAY_EXECUTION) run on the durable queue:
 * drain it with the tick the `decisions` cron and scheduler call, under this test's clock.
 */
async function tickDecisions(connectors: GateDeps["connectors"] = { smtp: null }) {
  return JOBS.decisions.run({ db: t.db, clock, synthesizer: rulesSynthesizer, connectors, workerId: "w" });
}

/**
 * The REST routes run on the system clock — months after this test's — so the jobs they queue are
 * due by it. Draining with the system clock would mix two clocks in the breaker's failure window;
 * instead the queued replay jobs are made due on the test's clock, which then drives the queue.
 */
async function tickAfterRest() {
  await t.db.job.updateMany({ where: { kind: REPLAY_EXECUTION, status: "QUEUED" }, data: { runAt: clock.now() } });
  return tickDecisions();
}

const replayJobs = (executionId: string) => t.db.job.findMany({ where: { kind: REPLAY_EXECUTION, dedupeKey: `replay:${executionId}` } });

/** An approved outreach request whose webhook call ends as `fail` says, at `at`. */
async function outreach(tenant: TestTenant, at: string, how: "receiver-500" | "succeed" | "webhook-off") {
  clock.set(at);
  const r = await submitIntent(
    deps(t.db),
    tenant.admin.viewer,
    intent(tenant.accounts.seller[0] as string, {
      actionType: "REQUEST_RENEWAL_MEETING",
      riskLevel: "HIGH",
      parameters: { contact: "cfo@x.example" },
    }),
  );
  expect(r.status).toBe("PENDING_APPROVAL");
  const path = tenant === a ? "a" : "b";
  if (how === "receiver-500") failNext = 1;
  if (how === "webhook-off") await setWebhook(t.db, tenant.admin.viewer, { url: `${base}/${path}`, enabled: false }, clock);
  await approveIntent(deps(t.db), tenant.admin.viewer, r.actionIntentId, {});
  await tickDecisions();
  if (how === "webhook-off") await setWebhook(t.db, tenant.admin.viewer, { url: `${base}/${path}`, enabled: true }, clock);
  failNext = 0;
  const execution = await t.db.execution.findFirstOrThrow({ where: { intentId: r.actionIntentId, replayOf: null } });
  expect(execution.status).toBe(how === "succeed" ? "SUCCEEDED" : "FAILED");
  return { intentId: r.actionIntentId, executionId: execution.id };
}

async function rest(
  h: (req: Request, ctx: { params: Promise<{ id: string }> }) => Promise<Response>,
  key: string,
  id: string,
  body?: unknown,
) {
  const res = await h(
    new Request("http://127.0.0.1/x", {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
    { params: Promise.resolve({ id }) },
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string; field?: string } } };
}
const bulk = (key: string, body: unknown) => rest((req) => bulkPost(req), key, "", body);

/** Everything a replay must leave alone, as stored. */
async function snapshot(intentId: string, executionId: string) {
  return JSON.stringify([
    await t.db.actionIntent.findUniqueOrThrow({ where: { id: intentId } }),
    await t.db.execution.findUniqueOrThrow({ where: { id: executionId } }),
    await t.db.toolCall.findMany({ where: { executionId }, orderBy: { id: "asc" } }),
    await t.db.outcome.findMany({ where: { executionId }, orderBy: { id: "asc" } }),
  ]);
}

async function story(intentId: string) {
  const { correlationId } = await t.db.actionIntent.findUniqueOrThrow({ where: { id: intentId } });
  return t.db.ledgerEntry.findMany({ where: { tenantId: a.id, correlationId, type: { startsWith: "REPLAY_" } }, orderBy: { seq: "asc" } });
}

describe(`replay on ${TEST_PROVIDER}`, () => {
  let first: { intentId: string; executionId: string };

  it("the preview shows the call that would repeat, with the idempotency key the tool would see, and writes nothing", async () => {
    first = await outreach(a, "2026-03-02T10:00:00Z", "receiver-500");
    const originalKey = `${first.executionId}:webhook`;
    expect(deliveries.at(-1)).toMatchObject({ path: "/a", key: originalKey });
    const ledgerBefore = await t.db.ledgerEntry.count({ where: { tenantId: a.id } });
    const executionsBefore = await t.db.execution.count();

    const p = await caller(a.admin).executions.replayPreview({ executionId: first.executionId });
    expect(p).toMatchObject({
      executionId: first.executionId,
      actionIntentId: first.intentId,
      status: "FAILED",
      refusal: null,
      killSwitch: null,
    });
    expect(p.sideEffects).toEqual([
      expect.objectContaining({
        connector: "webhook",
        idempotency_key: originalKey,
        would_repeat: true,
        dedupes: true,
        sends: true,
        previous_status: "FAILED",
      }),
    ]);

    const r = await rest(previewGet, k.admin as string, first.executionId);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      execution_id: first.executionId,
      replayable: true,
      side_effects: [{ connector: "webhook", idempotency_key: originalKey, would_repeat: true }],
    });
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id } })).toBe(ledgerBefore);
    expect(await t.db.execution.count()).toBe(executionsBefore);
  });

  it("a replay is queued as a new execution with its job; the queue runs it: the receiver sees the original Idempotency-Key; the original is unchanged; REPLAY_* are on the story", async () => {
    const before = await snapshot(first.intentId, first.executionId);
    const sent = deliveries.length;
    clock.set("2026-03-02T11:00:00Z");

    const r = await caller(a.admin).executions.replay({ executionId: first.executionId, replayReason: "the receiver was down" });
    expect(r).toMatchObject({ replayOf: first.executionId, status: "QUEUED" });
    expect(r.executionId).not.toBe(first.executionId);

    // The request sent nothing: it created the execution QUEUED, one job for it, and REPLAY_REQUESTED.
    expect(deliveries.length).toBe(sent);
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } })).toMatchObject({
      intentId: first.intentId,
      replayOf: first.executionId,
      status: "QUEUED",
      finishedAt: null,
    });
    const jobs = await replayJobs(r.executionId);
    expect(jobs).toEqual([expect.objectContaining({ tenantId: a.id, status: "QUEUED", attempts: 0 })]);
    expect(JSON.parse(jobs[0]?.payload as string)).toMatchObject({ executionId: r.executionId, actor: { type: "USER", id: a.admin.id } });
    expect((await story(first.intentId)).map((e) => e.type)).toEqual(["REPLAY_REQUESTED"]);
    // The preview of the new execution is how a REST caller follows it: not replayable while queued.
    expect((await rest(previewGet, k.admin as string, r.executionId)).json).toMatchObject({ status: "QUEUED", replayable: false });

    const tick = await tickDecisions();
    expect(tick.queue).toMatchObject({ claimed: 1, completed: 1, failed: 0 });

    // Exactly one more delivery, carrying the ORIGINAL call's key (the body names the new execution).
    expect(deliveries.length).toBe(sent + 1);
    expect(deliveries.at(-1)).toEqual({ path: "/a", key: `${first.executionId}:webhook`, executionId: r.executionId });

    const replay = await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } });
    expect(replay).toMatchObject({
      intentId: first.intentId,
      replayOf: first.executionId,
      replayReason: "the receiver was down",
      requestedBy: a.admin.email,
      nonReplayKey: null,
      status: "SUCCEEDED",
    });
    // The replay's own row keeps a unique key of its own.
    expect(await t.db.toolCall.findMany({ where: { executionId: r.executionId } })).toEqual([
      expect.objectContaining({ connector: "webhook", idempotencyKey: `${r.executionId}:webhook`, status: "SUCCEEDED" }),
    ]);
    expect(await snapshot(first.intentId, first.executionId)).toBe(before);
    expect(await replayJobs(r.executionId)).toEqual([expect.objectContaining({ status: "DONE", attempts: 1 })]);

    const entries = await story(first.intentId);
    expect(entries.map((e) => e.type)).toEqual(["REPLAY_REQUESTED", "REPLAY_STARTED", "REPLAY_COMPLETED"]);
    // The job writes as the person who asked for the replay, not as the worker.
    expect(entries.every((e) => e.actorType === "USER" && e.actorId === a.admin.id)).toBe(true);
    expect(JSON.parse(entries[0]?.payload as string)).toMatchObject({
      action_intent_id: first.intentId,
      original_execution_id: first.executionId,
      execution_id: r.executionId,
      replay_reason: "the receiver was down",
      requested_by: a.admin.email,
    });
    expect(JSON.parse(entries[1]?.payload as string)).toMatchObject({ execution_id: r.executionId });
    expect(JSON.parse(entries[2]?.payload as string)).toMatchObject({ execution_id: r.executionId });
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });

    // After a replay, the preview counts the replay's call too: the key has succeeded once.
    const again = await caller(a.admin).executions.replayPreview({ executionId: first.executionId });
    expect(again.sideEffects[0]).toMatchObject({ idempotency_key: `${first.executionId}:webhook`, previous_status: "SUCCEEDED" });
    // A second tick finds nothing to do: the job is DONE, nothing is sent twice.
    expect((await tickDecisions()).queue.claimed).toBe(0);
    expect(deliveries.length).toBe(sent + 1);
  });

  it("a replay of a replay still sends the original execution's key", async () => {
    const [replay] = await t.db.execution.findMany({ where: { replayOf: first.executionId } });
    const r = await rest(replayPost, k.admin as string, replay?.id as string, { replay_reason: "again", requested_by: "ops@example.test" });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ execution_id: expect.any(String), replay_of: replay?.id, status: "QUEUED" });
    await tickAfterRest();
    expect(deliveries.at(-1)).toMatchObject({ key: `${first.executionId}:webhook`, executionId: r.json.execution_id });
    const row = await t.db.execution.findUniqueOrThrow({ where: { id: r.json.execution_id as string } });
    expect(row).toMatchObject({ requestedBy: "ops@example.test", replayReason: "again", status: "SUCCEEDED" });
    // REST API keys are the actor of a replay they request, on every entry the job writes too.
    const mine = (await story(first.intentId)).filter((e) => e.payload.includes(r.json.execution_id as string));
    expect(mine.map((e) => [e.type, e.actorType])).toEqual([
      ["REPLAY_REQUESTED", "API_KEY"],
      ["REPLAY_STARTED", "API_KEY"],
      ["REPLAY_COMPLETED", "API_KEY"],
    ]);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("a replay that fails again is ledgered REPLAY_FAILED with its execution and error; REST answers 201 QUEUED", async () => {
    const x = await outreach(a, "2026-03-02T12:00:00Z", "receiver-500");
    const r = await rest(replayPost, k.admin as string, x.executionId, { replay_reason: "retry", requested_by: "ops@example.test" });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ replay_of: x.executionId, status: "QUEUED" });
    failNext = 1;
    const tick = await tickAfterRest();
    // The job did its work (the execution's failure is the result, not a job failure to retry).
    expect(tick.queue).toMatchObject({ completed: 1, failed: 0, retried: 0 });
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: r.json.execution_id as string } })).toMatchObject({ status: "FAILED" });
    const entries = await story(x.intentId);
    expect(entries.map((e) => e.type)).toEqual(["REPLAY_REQUESTED", "REPLAY_STARTED", "REPLAY_FAILED"]);
    expect(JSON.parse(entries[2]?.payload as string)).toMatchObject({
      execution_id: r.json.execution_id,
      error: expect.stringContaining("HTTP 500"),
    });
    expect((await t.db.actionIntent.findUniqueOrThrow({ where: { id: x.intentId } })).status).toBe("FAILED");
  });

  it("only a finished execution can be replayed, and not while another execution of the intent runs (409)", async () => {
    const x = await outreach(a, "2026-03-02T13:00:00Z", "receiver-500");
    const running = await inTransaction(t.db, (tx) =>
      insertExecution(
        tx,
        { tenantId: a.id, intentId: x.intentId, approvalSource: "HUMAN", autoExecuted: false, replayOf: x.executionId },
        clock.now(),
      ),
    );
    await expect(caller(a.admin).executions.replay({ executionId: running.id, replayReason: "r" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    const pre = await caller(a.admin).executions.replayPreview({ executionId: running.id });
    expect(pre.refusal).toBe("NOT_TERMINAL");
    const r = await rest(replayPost, k.admin as string, x.executionId, { replay_reason: "r", requested_by: "ops" });
    expect(r.status).toBe(409);
    expect(r.json.error).toMatchObject({ code: "REPLAY_IN_PROGRESS" });
    // A refused request leaves no trace: no new execution, no job, no REPLAY_* entry.
    expect(await t.db.execution.count({ where: { intentId: x.intentId } })).toBe(2);
    expect(await t.db.job.count({ where: { kind: REPLAY_EXECUTION, status: { not: "DONE" } } })).toBe(0);
    expect(await story(x.intentId)).toEqual([]);
    await inTransaction(t.db, (tx) => finishExecution(tx, a.id, running.id, { status: "FAILED", error: "test cleanup" }, clock.now()));
  });

  it("concurrent duplicate replay requests (a double click, a retried POST): one execution and one job; the rest are 409 while it is queued", async () => {
    const x = await outreach(a, "2026-03-02T13:30:00Z", "receiver-500");
    const sent = deliveries.length;
    const body = { replay_reason: "double click", requested_by: "ops" };
    const results = await Promise.allSettled([
      ...Array.from({ length: 3 }, () => caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "double click" })),
      ...Array.from({ length: 3 }, () =>
        rest(replayPost, k.admin as string, x.executionId, body).then((r) => {
          if (r.status !== 201) throw Object.assign(new Error(JSON.stringify(r.json)), { status: r.status, body: r.json });
          return r;
        }),
      ),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r): r is PromiseRejectedResult => r.status === "rejected")) {
      const reason = r.reason as { code?: string; message: string; status?: number; body?: { error?: { code: string } } };
      if (reason.status !== undefined) {
        expect(reason.status).toBe(409);
        expect(reason.body?.error?.code).toBe("REPLAY_IN_PROGRESS");
      } else expect(reason).toMatchObject({ code: "CONFLICT", message: expect.stringContaining("still queued") });
    }
    expect(await t.db.execution.count({ where: { replayOf: x.executionId } })).toBe(1);
    const [queued] = await t.db.execution.findMany({ where: { replayOf: x.executionId } });
    expect(queued?.status).toBe("QUEUED");
    expect(await replayJobs(queued?.id as string)).toHaveLength(1);
    expect(await t.db.job.count({ where: { tenantId: a.id, kind: REPLAY_EXECUTION, status: "QUEUED" } })).toBe(1);
    expect(deliveries.length).toBe(sent);

    // Two workers draining at once: the job is leased to one of them, the call made once.
    await Promise.all([tickAfterRest(), tickAfterRest()]);
    expect(deliveries.length).toBe(sent + 1);
    expect((await story(x.intentId)).map((e) => e.type)).toEqual(["REPLAY_REQUESTED", "REPLAY_STARTED", "REPLAY_COMPLETED"]);
    // Finished, the intent can be replayed again.
    const again = await caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "once more" });
    expect(again.status).toBe("QUEUED");
    await tickDecisions();
    expect(deliveries.length).toBe(sent + 2);
  });

  it("a kill switch refuses the replay: 409, REPLAY_FAILED with execution_id null, nothing sent", async () => {
    const x = await outreach(a, "2026-03-02T14:00:00Z", "receiver-500");
    await putKillSwitch(t.db, a.admin.viewer, { scope: "CONNECTOR", key: "webhook", enabled: true, reason: "receiver is flapping" }, clock);
    const sent = deliveries.length;
    try {
      const p = await rest(previewGet, k.admin as string, x.executionId);
      expect(p.json).toMatchObject({
        replayable: false,
        kill_switch: { scope: "CONNECTOR", key: "webhook", reason: "receiver is flapping" },
      });
      const r = await rest(replayPost, k.admin as string, x.executionId, { replay_reason: "r", requested_by: "ops" });
      expect(r.status).toBe(409);
      expect(r.json.error).toMatchObject({ code: "KILL_SWITCH_ACTIVE" });
      await expect(caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "r" })).rejects.toMatchObject({
        code: "CONFLICT",
      });
    } finally {
      await putKillSwitch(t.db, a.admin.viewer, { scope: "CONNECTOR", key: "webhook", enabled: false, reason: "stable again" }, clock);
    }
    expect(deliveries.length).toBe(sent);
    expect(await t.db.execution.count({ where: { intentId: x.intentId } })).toBe(1);
    const entries = await story(x.intentId);
    expect(entries.map((e) => e.type)).toEqual(["REPLAY_REQUESTED", "REPLAY_FAILED", "REPLAY_REQUESTED", "REPLAY_FAILED"]);
    expect(JSON.parse(entries[1]?.payload as string)).toMatchObject({
      execution_id: null,
      error: expect.stringContaining("receiver is flapping"),
      kill_switch: { scope: "CONNECTOR", key: "webhook" },
    });
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("a kill switch turned on between the request and the queue's drain: the replay ends FAILED with its reason, REPLAY_FAILED, nothing sent", async () => {
    const x = await outreach(a, "2026-03-02T14:30:00Z", "receiver-500");
    const before = await snapshot(x.intentId, x.executionId);
    const r = await rest(replayPost, k.admin as string, x.executionId, { replay_reason: "r", requested_by: "ops" });
    expect(r.status).toBe(201);
    expect(r.json.status).toBe("QUEUED");
    const replayId = r.json.execution_id as string;
    await putKillSwitch(t.db, a.admin.viewer, { scope: "CONNECTOR", key: "webhook", enabled: true, reason: "vendor incident" }, clock);
    const sent = deliveries.length;
    try {
      const tick = await tickAfterRest();
      expect(tick.queue).toMatchObject({ completed: 1, failed: 0 });
    } finally {
      await putKillSwitch(t.db, a.admin.viewer, { scope: "CONNECTOR", key: "webhook", enabled: false, reason: "over" }, clock);
    }
    expect(deliveries.length).toBe(sent);
    const row = await t.db.execution.findUniqueOrThrow({ where: { id: replayId } });
    expect(row).toMatchObject({ status: "FAILED", error: expect.stringContaining("vendor incident"), finishedAt: expect.any(Date) });
    expect(await t.db.toolCall.count({ where: { executionId: replayId } })).toBe(0);
    expect(await replayJobs(replayId)).toEqual([expect.objectContaining({ status: "DONE" })]);
    expect(await snapshot(x.intentId, x.executionId)).toBe(before);
    const entries = await story(x.intentId);
    // Never started: no REPLAY_STARTED.
    expect(entries.map((e) => e.type)).toEqual(["REPLAY_REQUESTED", "REPLAY_FAILED"]);
    expect(JSON.parse(entries[1]?.payload as string)).toMatchObject({
      execution_id: replayId,
      original_execution_id: x.executionId,
      error: expect.stringContaining("vendor incident"),
      kill_switch: { scope: "CONNECTOR", key: "webhook" },
    });
    expect(entries[1]).toMatchObject({ actorType: "API_KEY" });
    // The refused replay is a failed execution like any other: listed, and replayable once the switch is off.
    expect((await caller(a.admin).executions.failed()).items.map((i) => i.executionId)).toContain(replayId);
    const again = await caller(a.admin).executions.replay({ executionId: replayId, replayReason: "switch is off" });
    await tickDecisions();
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: again.executionId } })).toMatchObject({ status: "SUCCEEDED" });
    expect(deliveries.slice(sent).map((d) => d.key)).toEqual([`${x.executionId}:webhook`]);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("backpressure: over the connector's cap the replay job is deferred without spending an attempt, the execution stays QUEUED; it runs once a slot frees", async () => {
    const cfg = { db: t.db, clock, secretKey: null, smtpConfigured: false };
    const x = await outreach(a, "2026-03-02T14:45:00Z", "receiver-500");
    await putConnector(cfg, a.admin.viewer, "webhook", { enabled: true, maxConcurrency: 1 });
    // Another call holds the only slot.
    const held = await acquirePermit(resilienceDeps({ db: t.db, clock }), {
      tenantId: a.id,
      connector: "webhook",
      operation: "REQUEST_RENEWAL_MEETING",
      idempotent: false,
    });
    expect(held.kind).toBe("PERMIT");
    const sent = deliveries.length;
    try {
      const r = await caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "busy" });
      const tick = await tickDecisions();
      expect(tick.queue).toMatchObject({ claimed: 1, retried: 1, failed: 0 });
      expect(deliveries.length).toBe(sent);
      expect(await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } })).toMatchObject({ status: "QUEUED" });
      expect(await replayJobs(r.executionId)).toEqual([
        expect.objectContaining({ status: "QUEUED", attempts: 0, lastError: expect.stringContaining("CONCURRENCY_LIMIT") }),
      ]);
      expect((await story(x.intentId)).map((e) => e.type)).toEqual(["REPLAY_REQUESTED"]);
      // Still waiting, so still pending: a second replay of the intent is refused.
      await expect(caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "again" })).rejects.toMatchObject({
        code: "CONFLICT",
      });

      if (held.kind === "PERMIT") await releasePermit(resilienceDeps({ db: t.db, clock }), held);
      clock.advance(DEFER_RETRY_SECONDS * 1000);
      await tickDecisions();
      expect(deliveries.slice(sent).map((d) => d.key)).toEqual([`${x.executionId}:webhook`]);
      expect(await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } })).toMatchObject({ status: "SUCCEEDED" });
      expect(await replayJobs(r.executionId)).toEqual([expect.objectContaining({ status: "DONE", attempts: 1 })]);
      expect((await story(x.intentId)).map((e) => e.type)).toEqual(["REPLAY_REQUESTED", "REPLAY_STARTED", "REPLAY_COMPLETED"]);
    } finally {
      await putConnector(cfg, a.admin.viewer, "webhook", { enabled: true, maxConcurrency: null });
    }
    await settleSlotReleases(); // a finished call releases its slot off its path
    expect(await t.db.connectorSlot.count({ where: { tenantId: a.id, holder: { not: null } } })).toBe(0);
  });

  it("a queued replay is not a stalled execution: the sweeper leaves it however long it waits; a replay whose job gave up ends FAILED with REPLAY_FAILED", async () => {
    const x = await outreach(a, "2026-03-02T16:00:00Z", "receiver-500");
    const r = await caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "r" });
    const sweep = () => sweepExecutions({ db: t.db, clock, connectors: { smtp: null } });

    // Far past the execution lease: a QUEUED row is neither retried nor failed as LEASE_EXPIRED.
    clock.advance(EXECUTION_LEASE_MS * 3);
    const quiet = await sweep();
    expect(quiet.retried.map((e) => e.executionId)).not.toContain(r.executionId);
    expect(quiet.failed).not.toContain(r.executionId);
    expect(quiet.strandedReplays).toEqual([]);
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } })).toMatchObject({ status: "QUEUED" });

    // A worker is killed on every attempt: each claim's lease runs out, until the attempts are spent.
    const sent = deliveries.length;
    const [job] = await replayJobs(r.executionId);
    for (let i = 0; i < (job?.maxAttempts ?? 0); i++) {
      const claimed = await claimNext(t.db, { owner: `doomed-${i}`, leaseSeconds: 30, kinds: [REPLAY_EXECUTION] }, clock);
      expect(claimed?.id).toBe(job?.id);
      clock.advance(31_000);
    }
    // The next drain finds the final lease expired and fails the job; nothing started the replay.
    await tickDecisions();
    expect(await replayJobs(r.executionId)).toEqual([expect.objectContaining({ status: "FAILED" })]);
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } })).toMatchObject({ status: "QUEUED" });

    const [one, two] = await Promise.all([sweep(), sweep()]);
    expect([...(one?.strandedReplays ?? []), ...(two?.strandedReplays ?? [])]).toEqual([r.executionId]);
    expect(deliveries.length).toBe(sent);
    const row = await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } });
    expect(row).toMatchObject({ status: "FAILED", error: expect.stringMatching(/^REPLAY_JOB_FAILED: .*its job failed/) });
    const entries = await story(x.intentId);
    expect(entries.map((e) => e.type)).toEqual(["REPLAY_REQUESTED", "REPLAY_FAILED"]);
    expect(entries[1]).toMatchObject({ actorType: "SYSTEM", actorId: "executions-sweep" });
    expect(JSON.parse(entries[1]?.payload as string)).toMatchObject({
      execution_id: r.executionId,
      original_execution_id: x.executionId,
      reason: "REPLAY_JOB_FAILED",
    });
    // It no longer blocks the intent: a new replay is accepted.
    expect((await caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "after the outage" })).status).toBe(
      "QUEUED",
    );
    await tickDecisions();
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("another tenant's execution is 404 on every door; sellers and read keys are refused; B's failures never show in A's list", async () => {
    const mine = await outreach(b, "2026-03-02T15:00:00Z", "receiver-500");
    const sent = deliveries.length;
    await expect(caller(b.admin).executions.replayPreview({ executionId: first.executionId })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(caller(b.admin).executions.replay({ executionId: first.executionId, replayReason: "r" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect((await rest(previewGet, k.bAdmin as string, first.executionId)).status).toBe(404);
    expect((await rest(replayPost, k.bAdmin as string, first.executionId, { replay_reason: "r", requested_by: "x" })).status).toBe(404);
    await expect(caller(a.seller).executions.replayPreview({ executionId: first.executionId })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(caller(a.seller).executions.failed()).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect((await rest(previewGet, k.read as string, first.executionId)).status).toBe(403);
    expect(deliveries.length).toBe(sent);

    const aIds = (await caller(a.admin).executions.failed()).items.map((i) => i.executionId);
    const bIds = (await caller(b.admin).executions.failed()).items.map((i) => i.executionId);
    expect(aIds).toContain(first.executionId);
    expect(aIds).not.toContain(mine.executionId);
    expect(bIds).toEqual([mine.executionId]);
    // B's bulk preview of all time sees only B's failure.
    const bb = await bulk(k.bAdmin as string, {
      from: "2026-01-01T00:00:00Z",
      to: "2027-01-01T00:00:00Z",
      replay_reason: "r",
      requested_by: "x",
      dry_run: true,
    });
    expect((bb.json.items as { execution_id: string }[]).map((i) => i.execution_id)).toEqual([mine.executionId]);
  });

  it("a replay job runs only in its own tenant: one in B's queue naming A's execution fails and touches nothing of A", async () => {
    const x = await outreach(a, "2026-03-02T15:30:00Z", "receiver-500");
    const r = await caller(a.admin).executions.replay({ executionId: x.executionId, replayReason: "r" });
    // B cannot see A's queued replay either.
    expect((await rest(previewGet, k.bAdmin as string, r.executionId)).status).toBe(404);
    await expect(caller(b.admin).executions.replay({ executionId: r.executionId, replayReason: "r" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    // A job in B's queue (tenant from the job row, never from its payload) naming A's execution: run first.
    const forged = await enqueue(
      t.db,
      { tenantId: b.id, kind: REPLAY_EXECUTION, payload: { executionId: r.executionId, actor: b.admin.viewer.actor }, dedupeKey: "forged" },
      clock,
    );
    await t.db.job.update({ where: { id: forged.job.id }, data: { runAt: new Date(clock.now().getTime() - 60_000) } });
    const sent = deliveries.length;
    await tickDecisions();
    expect(await t.db.job.findUniqueOrThrow({ where: { id: forged.job.id } })).toMatchObject({
      status: "FAILED",
      attempts: 1,
      lastError: expect.stringContaining("no replay execution"),
    });
    // A's own job ran A's replay, once, as A's admin, on A's receiver; B's ledger got nothing.
    expect(deliveries.slice(sent)).toEqual([{ path: "/a", key: `${x.executionId}:webhook`, executionId: r.executionId }]);
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId } })).toMatchObject({ tenantId: a.id, status: "SUCCEEDED" });
    expect((await story(x.intentId)).every((e) => e.actorId === a.admin.id)).toBe(true);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: b.id, type: { startsWith: "REPLAY_" } } })).toBe(0);
  });

  it("bad ids and bodies are 4xx naming the field", async () => {
    const missing = await rest(replayPost, k.admin as string, first.executionId, { requested_by: "x" });
    expect(missing.status).toBe(400);
    expect(missing.json.error?.field).toBe("replay_reason");
    const extra = await rest(replayPost, k.admin as string, first.executionId, { replay_reason: "r", requested_by: "x", tenant_id: b.id });
    expect(extra.status).toBe(400);
    expect((await rest(replayPost, k.admin as string, first.executionId, "{not json")).status).toBe(400);
    expect((await rest(previewGet, k.admin as string, "x".repeat(65))).json.error?.field).toBe("id");
    expect((await rest(previewGet, k.admin as string, "no-such-execution")).status).toBe(404);
    const backwards = await bulk(k.admin as string, {
      from: "2026-03-03T00:00:00Z",
      to: "2026-03-02T00:00:00Z",
      replay_reason: "r",
      requested_by: "x",
    });
    expect(backwards.status).toBe(422);
    expect(backwards.json.error?.field).toBe("to");
    const badDate = await bulk(k.admin as string, { from: "yesterday", to: "2026-03-02T00:00:00Z", replay_reason: "r", requested_by: "x" });
    expect(badDate.json.error?.field).toBe("from");
    await expect(caller(a.admin).executions.replay({ executionId: first.executionId, replayReason: "  " })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });

  it("a replay a dead process left EXECUTING is finished by the sweeper: the original key, REPLAY_COMPLETED on the story", async () => {
    const x = await outreach(a, "2026-03-08T09:00:00Z", "receiver-500");
    // What a process killed right after REPLAY_STARTED leaves behind: the replay's row, EXECUTING, no call made.
    const stuck = await inTransaction(t.db, (tx) =>
      insertExecution(
        tx,
        {
          tenantId: a.id,
          intentId: x.intentId,
          approvalSource: "HUMAN",
          autoExecuted: false,
          replayOf: x.executionId,
          replayReason: "r",
          requestedBy: "ops",
        },
        clock.now(),
      ),
    );
    clock.advance(EXECUTION_LEASE_MS + 1000);
    const sent = deliveries.length;
    const out = await sweepExecutions({ db: t.db, clock, connectors: { smtp: null } });
    expect(out.retried).toContainEqual({ executionId: stuck.id, status: "SUCCEEDED" });
    expect(deliveries.slice(sent)).toEqual([{ path: "/a", key: `${x.executionId}:webhook`, executionId: stuck.id }]);
    const ended = (await story(x.intentId)).filter((e) => e.type === "REPLAY_COMPLETED");
    expect(ended.map((e) => JSON.parse(e.payload))).toEqual([
      { action_intent_id: x.intentId, original_execution_id: x.executionId, execution_id: stuck.id },
    ]);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("bulk: only the range's failed executions (per intent the latest), previewed first, capped per request", async () => {
    // 2026-03-05: two failures and one success in range; one failure the day after, out of range.
    const f1 = await outreach(a, "2026-03-05T09:00:00Z", "webhook-off");
    const f2 = await outreach(a, "2026-03-05T10:00:00Z", "webhook-off");
    await outreach(a, "2026-03-05T11:00:00Z", "succeed");
    const late = await outreach(a, "2026-03-06T09:00:00Z", "webhook-off");
    const range = { from: "2026-03-05T00:00:00Z", to: "2026-03-06T00:00:00Z" };

    const listed = await caller(a.admin).executions.failed({ ...range, limit: 1 });
    expect(listed.items.map((i) => i.executionId)).toEqual([f2.executionId]);
    expect(listed.items[0]).toMatchObject({ actionType: "REQUEST_RENEWAL_MEETING", connector: "webhook", accountName: expect.any(String) });
    const page2 = await caller(a.admin).executions.failed({ ...range, limit: 1, cursor: listed.nextCursor ?? undefined });
    expect(page2.items.map((i) => i.executionId)).toEqual([f1.executionId]);
    expect(page2.nextCursor).toBeNull();

    const executionsBefore = await t.db.execution.count();
    const dry = await bulk(k.admin as string, { ...range, replay_reason: "outage on the 5th", requested_by: "ops", dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({ dry_run: true, cap: 100, truncated: false });
    expect(dry.json.items).toEqual([
      expect.objectContaining({
        execution_id: f2.executionId,
        side_effects: [expect.objectContaining({ idempotency_key: `${f2.executionId}:webhook`, would_repeat: true })],
      }),
      expect.objectContaining({ execution_id: f1.executionId }),
    ]);
    expect(await t.db.execution.count()).toBe(executionsBefore);

    // A cap of one: the newest failure only, and the answer says more matched.
    const capped = await bulkReplayPreview(t.db, a.admin.viewer, { from: new Date(range.from), to: new Date(range.to) }, 1);
    expect(capped).toMatchObject({ cap: 1, truncated: true });
    expect(capped.items.map((i) => i.executionId)).toEqual([f2.executionId]);
    clock.set("2026-03-07T09:00:00Z");
    const one = await bulkReplay(
      deps(t.db),
      a.admin.viewer,
      { from: new Date(range.from), to: new Date(range.to), replayReason: "outage", requestedBy: "ops" },
      1,
    );
    expect(one).toMatchObject({ cap: 1, truncated: true, items: [{ replayOf: f2.executionId, status: "QUEUED", error: null }] });

    // The rest through REST, before the queue ran: f2's latest execution is its queued replay, so
    // only f1 is taken; nothing is sent in either request.
    const sent = deliveries.length;
    const run = await bulk(k.admin as string, { ...range, replay_reason: "outage on the 5th", requested_by: "ops" });
    expect(run.status).toBe(200);
    expect(run.json).toMatchObject({
      dry_run: false,
      truncated: false,
      items: [{ replay_of: f1.executionId, status: "QUEUED", error: null }],
    });
    expect(deliveries.length).toBe(sent);
    const queuedIds = [one.items[0]?.executionId, (run.json.items as { execution_id: string }[])[0]?.execution_id];
    expect(await t.db.execution.count({ where: { id: { in: queuedIds as string[] }, status: "QUEUED" } })).toBe(2);
    expect(await t.db.job.count({ where: { kind: REPLAY_EXECUTION, dedupeKey: { in: queuedIds.map((id) => `replay:${id}`) } } })).toBe(2);
    const listedNow = await caller(a.admin).executions.failed(range);
    expect(listedNow.items.find((i) => i.executionId === f1.executionId)?.laterExecution).toMatchObject({ status: "QUEUED" });

    await tickAfterRest();
    expect(
      deliveries
        .slice(sent)
        .map((d) => d.key)
        .sort(),
    ).toEqual([`${f1.executionId}:webhook`, `${f2.executionId}:webhook`].sort());
    expect(await t.db.execution.count({ where: { intentId: late.intentId } })).toBe(1);
    expect(
      (await caller(a.admin).executions.failed(range)).items.find((i) => i.executionId === f1.executionId)?.laterExecution,
    ).toMatchObject({ status: "SUCCEEDED" });

    // Nothing left to replay in the range.
    expect((await bulk(k.admin as string, { ...range, replay_reason: "r", requested_by: "ops", dry_run: true })).json.items).toEqual([]);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });
});

describe(`replay of CRM writes on ${TEST_PROVIDER}`, () => {
  let c: TestTenant;
  let f: FakeHubspot;
  const token = `pat-na1-${randomUUID()}`;
  const secretKey = secretKeyFrom("replay-test-connector-key");
  const crmDeps = () => ({ db: t.db, clock, connectors: { smtp: null, secretKey } });
  const setCrm = (tok: string) =>
    putConnector({ db: t.db, clock, secretKey, smtpConfigured: false }, c.admin.viewer, "crm", {
      enabled: true,
      baseUrl: f.url,
      token: tok,
    });
  const patches = () => f.writes().filter((w) => w.status === 200);

  beforeAll(async () => {
    c = await makeTenant(t.db);
    f = await new FakeHubspot({ token, now: () => clock.now().getTime() }).start();
    const company = f.add("companies", { name: "Acme" });
    await t.db.account.update({ where: { id: c.accounts.seller[0] as string }, data: { externalId: company } });
    // A wrong token first: the original write is refused by the CRM (401).
    await setCrm("pat-na1-wrong");
  });
  afterAll(() => f.stop());

  it("a failed CRM write is sent again with the original key; once the key succeeded, a replay sends nothing", async () => {
    clock.set("2026-03-10T09:00:00Z");
    const r = await submitIntent(
      crmDeps(),
      c.admin.viewer,
      intent(c.accounts.seller[0] as string, {
        actionType: "UPDATE_ACCOUNT_FIELDS",
        riskLevel: "MEDIUM",
        parameters: { fields: { industry: "Fintech" } },
      }),
    );
    await approveIntent(crmDeps(), c.admin.viewer, r.actionIntentId, {});
    await tickDecisions(crmDeps().connectors);
    const original = await t.db.execution.findFirstOrThrow({ where: { intentId: r.actionIntentId } });
    expect(original.status).toBe("FAILED");
    expect(patches()).toEqual([]);

    const failed = await replayPreview(t.db, c.admin.viewer, original.id);
    expect(failed.sideEffects).toEqual([
      expect.objectContaining({ connector: "crm", idempotency_key: `${original.id}:crm`, would_repeat: true, dedupes: false, sends: true }),
    ]);

    await setCrm(token);
    const first = await replayExecution(crmDeps(), c.admin.viewer, original.id, { replayReason: "token fixed", requestedBy: "ops" });
    expect(first.status).toBe("QUEUED");
    expect(patches()).toEqual([]);
    await tickDecisions(crmDeps().connectors);
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: first.executionId } })).toMatchObject({ status: "SUCCEEDED" });
    expect(patches().map((w) => w.idempotencyKey)).toEqual([`${original.id}:crm`]);

    const done = await replayPreview(t.db, c.admin.viewer, original.id);
    expect(done.sideEffects[0]).toMatchObject({ would_repeat: false, dedupes: true, sends: false, previous_status: "SUCCEEDED" });
    const second = await replayExecution(crmDeps(), c.admin.viewer, original.id, { replayReason: "again", requestedBy: "ops" });
    await tickDecisions(crmDeps().connectors);
    expect(patches()).toHaveLength(1);
    const row = await t.db.execution.findUniqueOrThrow({ where: { id: second.executionId } });
    expect(row.status).toBe("SUCCEEDED");
    expect(JSON.parse(row.outcome as string)).toMatchObject({ deduplicated: true });
    expect(await verifyLedger(t.db, c.id)).toMatchObject({ ok: true });
  });
});
