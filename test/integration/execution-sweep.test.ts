import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { verifyWebhookSignature } from "@/server/connectors/webhook";
import { createDb, type Db } from "@/server/db";
import { EXECUTION_LEASE_MS } from "@/server/engine/recovery";
import { JOBS, queueHandlers } from "@/server/jobs/registry";
import { setWebhook } from "@/server/services/connectors";
import { completeExecution, EXECUTE_APPROVED } from "@/server/services/executor";
import { runWorkerTick } from "@/server/services/jobQueue";
import { verifyLedger } from "@/server/services/ledger";
import { SAMPLE_RETENTION_MS, sweepExecutions } from "@/server/services/sweeper";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { clock, deps, intent, putKillSwitch, submitIntent } from "../helpers/gate";

/**
 * The bar (issue 7 item 6): "A process killed during a connector call leaves no execution
 * EXECUTING after the sweeper runs." A real child process approves an intent through
 * `approveIntent` (what REST and tRPC call); the receiver holds the connector call open; the test
 * SIGKILLs the process group mid-call; then the `executions-sweep` job runs with a clock past the
 * lease — alone, concurrently from several database clients, and again.
 */

let t: TestDb;
let a: TestTenant;
let http: Server;
let smtp: SMTPServer;
let webhookSecret: string;
let smtpPort: number;
const extraClients: Db[] = [];
const live = new Set<ChildProcess>();

interface Delivery {
  key: string | undefined;
  verified: boolean;
  executionId: string;
}
/** every request the webhook receiver saw; the first one per execution is held open for ever */
const deliveries: Delivery[] = [];
const held: ServerResponse[] = [];
let onDelivery: (() => void) | null = null;
/** SMTP messages whose DATA arrived; the first is never acknowledged */
let mailsSeen = 0;
let onMail: (() => void) | null = null;

function receive(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const raw = Buffer.concat(chunks).toString("utf8");
    const body = JSON.parse(raw) as { execution_id: string };
    const first = !deliveries.some((d) => d.executionId === body.execution_id);
    deliveries.push({
      key: req.headers["idempotency-key"] as string | undefined,
      verified: verifyWebhookSignature(
        webhookSecret,
        req.headers["x-autopilot-signature"],
        req.headers["x-autopilot-timestamp"],
        raw,
        Math.floor(Date.now() / 1000),
      ),
      executionId: body.execution_id,
    });
    onDelivery?.();
    // A receiver that dedupes on the idempotency key would answer the retry from its record; here
    // the first call hangs (the sender dies waiting) and the retry is answered.
    if (first) held.push(res);
    else res.end("ok");
  });
}

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  http = createServer(receive);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    onData(stream, _session, _cb) {
      // Read the message, never acknowledge it: the sender waits inside the SMTP call.
      stream.resume();
      stream.on("end", () => {
        mailsSeen++;
        onMail?.();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
  smtpPort = (smtp.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hooks/crm`;
  webhookSecret = (await setWebhook(t.db, a.admin.viewer, { url, enabled: true }, clock)).secret as string;
});
afterAll(async () => {
  for (const child of live) killGroup(child);
  for (const res of held) res.destroy();
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
  await new Promise((r) => smtp.close(() => r(null)));
  for (const c of extraClients) await c.$disconnect();
  await t.cleanup();
});

function killGroup(child: ChildProcess) {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
}

/** Approve `intentId` in a child process and SIGKILL it once its connector call has reached the receiver. */
async function approveAndKillMidCall(intentId: string, reached: "webhook" | "smtp") {
  const arrived = new Promise<void>((resolve) => {
    if (reached === "webhook") onDelivery = resolve;
    else onMail = resolve;
  });
  const child = spawn("./node_modules/.bin/tsx", ["test/helpers/approve-worker.ts"], {
    env: { ...process.env, DATABASE_URL: t.url, VIEWER: JSON.stringify(a.seller.viewer), INTENT_ID: intentId, SMTP_PORT: String(smtpPort) },
    stdio: ["ignore", "pipe", "pipe"],
    // its own process group, so the SIGKILL reaches the node process tsx starts, not just tsx
    detached: true,
  });
  live.add(child);
  const out: string[] = [];
  child.stdout?.setEncoding("utf8").on("data", (c: string) => out.push(c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => out.push(c));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => {
      live.delete(child);
      resolve(signal);
    }),
  );
  const early = exited.then(() => {
    throw new Error(`approve worker exited before its connector call arrived: ${out.join("")}`);
  });
  await Promise.race([arrived, early]);
  early.catch(() => {});
  onDelivery = null;
  onMail = null;
  killGroup(child);
  expect(await exited).toBe("SIGKILL");
}

const pastLease = () => fixedClock(new Date(Date.now() + EXECUTION_LEASE_MS + 60_000));
const sweepDeps = (db: Db, c = pastLease()) => ({ db, clock: c, connectors: { smtp: null } });

/**
 * Clients for `n` concurrent sweepers. On PostgreSQL each gets its own pool, as separate processes
 * would. On SQLite they share one: better-sqlite3 waits for a lock synchronously, so two clients in
 * one process would block each other's event loop (separate processes wait for each other fine).
 */
function sweeperClients(n: number): Db[] {
  if (TEST_PROVIDER !== "postgres") return Array.from({ length: n }, () => t.db);
  const out = Array.from({ length: n - 1 }, () => createDb(t.url));
  extraClients.push(...out);
  return [t.db, ...out];
}

async function stuckExecution(intentId: string) {
  const rows = await t.db.execution.findMany({ where: { tenantId: a.id, intentId } });
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ status: "EXECUTING", attempts: 1 });
  return rows[0] as NonNullable<(typeof rows)[number]>;
}

async function ledgerOf(executionId: string) {
  const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id }, orderBy: { seq: "asc" } });
  return entries
    .map((e) => ({ type: e.type, actor: e.actorId, payload: JSON.parse(e.payload) as Record<string, unknown> }))
    .filter((e) => e.payload.execution_id === executionId);
}

describe(`executions that cannot hang, on ${TEST_PROVIDER}`, () => {
  it("a webhook call killed mid-flight is retried once by the sweeper with the same idempotency key, under concurrent sweepers", async () => {
    const r = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(a.accounts.seller[0] as string, { actionType: "REQUEST_RENEWAL_MEETING", riskLevel: "HIGH" }),
    );
    expect(r.status).toBe("PENDING_APPROVAL");
    await approveAndKillMidCall(r.actionIntentId, "webhook");

    const execution = await stuckExecution(r.actionIntentId);
    const key = `${execution.id}:webhook`;
    expect(deliveries.filter((d) => d.executionId === execution.id)).toEqual([{ key, verified: true, executionId: execution.id }]);
    expect(await t.db.toolCall.findMany({ where: { executionId: execution.id } })).toMatchObject([
      { status: "STARTED", idempotencyKey: key },
    ]);

    // Within the lease nothing is touched: the original process may still be waiting on the call.
    const early = await sweepExecutions(sweepDeps(t.db, fixedClock(new Date(Date.now() + EXECUTION_LEASE_MS - 60_000))));
    expect(early).toMatchObject({ expired: 0, retried: [], failed: [] });
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: execution.id } })).toMatchObject({ status: "EXECUTING", attempts: 1 });

    // Past the lease, three sweepers at once: exactly one retries.
    const c = pastLease();
    const results = await Promise.all(sweeperClients(3).map((db) => sweepExecutions(sweepDeps(db, c))));
    expect(results.flatMap((x) => x.retried)).toEqual([{ executionId: execution.id, status: "SUCCEEDED" }]);
    expect(results.flatMap((x) => x.failed)).toEqual([]);
    expect(results.every((x) => x.ok)).toBe(true);

    const mine = deliveries.filter((d) => d.executionId === execution.id);
    expect(mine).toEqual([
      { key, verified: true, executionId: execution.id },
      { key, verified: true, executionId: execution.id },
    ]);
    expect(await t.db.execution.findUniqueOrThrow({ where: { id: execution.id } })).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
    expect(await t.db.actionIntent.findUniqueOrThrow({ where: { id: r.actionIntentId } })).toMatchObject({ status: "SUCCEEDED" });
    expect(await t.db.toolCall.findMany({ where: { executionId: execution.id } })).toMatchObject([
      { status: "SUCCEEDED", idempotencyKey: key },
    ]);
    expect((await t.db.outcome.findMany({ where: { executionId: execution.id } })).map((o) => o.label)).toEqual(["EXECUTION_SUCCEEDED"]);
    const ledger = await ledgerOf(execution.id);
    expect(ledger.map((e) => e.type)).toEqual(["EXECUTION_STARTED", "EXECUTION_STARTED", "EXECUTION_SUCCEEDED", "OUTCOME_RECORDED"]);
    expect(ledger[1]).toMatchObject({
      actor: "executions-sweep",
      payload: { retry: true, attempt: 2, reason: "LEASE_EXPIRED", idempotency_key: key },
    });

    // Run again (and through the registered job): nothing more happens.
    const again = await sweepExecutions(sweepDeps(t.db));
    expect(again).toMatchObject({ expired: 0, retried: [], failed: [], lost: 0 });
    const tick = await JOBS["executions-sweep"].run({ ...sweepDeps(t.db), synthesizer: undefined as never, workerId: "test" });
    expect(tick).toMatchObject({ ok: true, expired: 0 });
    expect(deliveries.filter((d) => d.executionId === execution.id)).toHaveLength(2);
    expect((await ledgerOf(execution.id)).length).toBe(4);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  }, 60_000);

  it("an email killed mid-send is not re-sent: FAILED with LEASE_EXPIRED, outcome and ledger written once", async () => {
    const r = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(a.accounts.seller[1] as string, {
        actionType: "SEND_EMAIL",
        riskLevel: "HIGH",
        parameters: { to: "cfo@acme.example", subject: "Renewal", body: "Two options." },
      }),
    );
    await approveAndKillMidCall(r.actionIntentId, "smtp");
    const execution = await stuckExecution(r.actionIntentId);
    expect(mailsSeen).toBe(1);

    const c = pastLease();
    const results = await Promise.all(sweeperClients(2).map((db) => sweepExecutions(sweepDeps(db, c))));
    expect(results.flatMap((x) => x.failed)).toEqual([execution.id]);
    expect(results.flatMap((x) => x.retried)).toEqual([]);

    const row = await t.db.execution.findUniqueOrThrow({ where: { id: execution.id } });
    expect(row.status).toBe("FAILED");
    expect(row.error).toMatch(/^LEASE_EXPIRED: .*cannot tell a retry from a new request/);
    expect(await t.db.actionIntent.findUniqueOrThrow({ where: { id: r.actionIntentId } })).toMatchObject({ status: "FAILED" });
    expect(await t.db.toolCall.findMany({ where: { executionId: execution.id } })).toMatchObject([{ status: "FAILED" }]);
    const outcomes = await t.db.outcome.findMany({ where: { executionId: execution.id } });
    expect(outcomes.map((o) => [o.label, JSON.parse(o.details).reason])).toEqual([["EXECUTION_FAILED", "LEASE_EXPIRED"]]);
    const ledger = await ledgerOf(execution.id);
    expect(ledger.map((e) => [e.type, e.payload.reason ?? null])).toEqual([
      ["EXECUTION_STARTED", null],
      ["EXECUTION_FAILED", "LEASE_EXPIRED"],
      ["OUTCOME_RECORDED", "LEASE_EXPIRED"],
    ]);
    expect(ledger[1]?.payload).toMatchObject({ refusal: "NOT_RETRY_SAFE", retryable: false, connector: "email" });

    expect(await sweepExecutions(sweepDeps(t.db))).toMatchObject({ expired: 0, failed: [] });
    expect(mailsSeen).toBe(1);

    // Had the original process been alive after all, its late finish records nothing more.
    const late = await completeExecution(
      sweepDeps(t.db),
      await t.db.actionIntent.findUniqueOrThrow({ where: { id: r.actionIntentId } }),
      execution,
      a.seller.viewer.actor,
    );
    expect(late).toEqual({ executionId: execution.id, status: "FAILED" });
    expect(await t.db.outcome.count({ where: { executionId: execution.id } })).toBe(1);
    expect((await ledgerOf(execution.id)).length).toBe(3);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  }, 60_000);

  it("a kill switch turned on while the call hung stops the retry: FAILED / LEASE_EXPIRED, nothing re-sent", async () => {
    const r = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(a.accounts.seller[2] as string, { actionType: "REQUEST_DISCOVERY_CALL", riskLevel: "HIGH" }),
    );
    await approveAndKillMidCall(r.actionIntentId, "webhook");
    const execution = await stuckExecution(r.actionIntentId);
    await putKillSwitch(t.db, a.admin.viewer, { scope: "CONNECTOR", key: "webhook", enabled: true, reason: "receiver down" }, clock);

    expect(await sweepExecutions(sweepDeps(t.db))).toMatchObject({ failed: [execution.id], retried: [] });
    expect(deliveries.filter((d) => d.executionId === execution.id)).toHaveLength(1);
    const ledger = await ledgerOf(execution.id);
    expect(ledger.find((e) => e.type === "EXECUTION_FAILED")?.payload).toMatchObject({
      reason: "LEASE_EXPIRED",
      refusal: "KILL_SWITCH_ACTIVE",
      kill_switch: { scope: "CONNECTOR", key: "webhook" },
    });
    await putKillSwitch(t.db, a.admin.viewer, { scope: "CONNECTOR", key: "webhook", enabled: false, reason: "back" }, clock);
  }, 60_000);

  it("an approved intent without its job is queued again by the sweeper past the lease, once under concurrent sweepers, and runs once", async () => {
    const r = await submitIntent(deps(t.db), a.admin.viewer, intent(a.accounts.seller[1] as string));
    expect(r.status).toBe("PENDING_APPROVAL");
    // An approval that lost its EXECUTE_APPROVED job (approved before approvals were queued, or
    // the job row removed): APPROVED, no job, no execution.
    const approvedAt = new Date();
    await t.db.actionIntent.update({ where: { id: r.actionIntentId }, data: { status: "APPROVED", updatedAt: approvedAt } });

    const at = (ms: number) => fixedClock(new Date(approvedAt.getTime() + ms));
    expect(await sweepExecutions(sweepDeps(t.db, at(EXECUTION_LEASE_MS - 60_000)))).toMatchObject({ queued: [] });
    expect(await t.db.job.count({ where: { tenantId: a.id, kind: EXECUTE_APPROVED, dedupeKey: `execute:${r.actionIntentId}` } })).toBe(0);

    const c = at(EXECUTION_LEASE_MS + 60_000);
    const results = await Promise.all(sweeperClients(3).map((db) => sweepExecutions(sweepDeps(db, c))));
    expect(results.every((x) => x.ok)).toBe(true);
    expect(results.flatMap((x) => x.queued)).toEqual([r.actionIntentId]);
    expect(await t.db.execution.count({ where: { intentId: r.actionIntentId } })).toBe(0);
    // The queue runs it, as it runs every approval.
    const drained = await runWorkerTick(t.db, queueHandlers({ ...sweepDeps(t.db, c), synthesizer: undefined as never, workerId: "test" }), {
      owner: "test",
      leaseSeconds: 60,
      maxJobs: 10,
      clock: c,
    });
    expect(drained.failed).toBe(0);
    expect(await t.db.job.findMany({ where: { tenantId: a.id, dedupeKey: `execute:${r.actionIntentId}` } })).toMatchObject([
      { status: "DONE", attempts: 1 },
    ]);
    expect(await t.db.execution.findMany({ where: { intentId: r.actionIntentId } })).toMatchObject([
      { status: "SUCCEEDED", approvalSource: "HUMAN", autoExecuted: false, attempts: 1 },
    ]);
    expect(await t.db.actionIntent.findUniqueOrThrow({ where: { id: r.actionIntentId } })).toMatchObject({ status: "SUCCEEDED" });
    const entries = (
      await t.db.ledgerEntry.findMany({
        where: {
          tenantId: a.id,
          correlationId: (await t.db.actionIntent.findUniqueOrThrow({ where: { id: r.actionIntentId } })).correlationId,
        },
        orderBy: { seq: "asc" },
      })
    ).map((e) => e.type);
    expect(entries.filter((e) => e.startsWith("EXECUTION_"))).toEqual(["EXECUTION_STARTED", "EXECUTION_SUCCEEDED"]);
    expect(await sweepExecutions(sweepDeps(t.db, c))).toMatchObject({ queued: [] });
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
  });

  it("the sweep deletes connector call samples older than the retention, of every tenant, and keeps the rest", async () => {
    const b = await makeTenant(t.db);
    const now = new Date();
    const old = new Date(now.getTime() - SAMPLE_RETENTION_MS - 60_000);
    const recent = new Date(now.getTime() - SAMPLE_RETENTION_MS + 60_000);
    const sample = (tenantId: string, connector: string, at: Date) => ({
      tenantId,
      connector,
      operation: "SEND_EMAIL",
      ok: true,
      outcome: "SUCCESS",
      durationMs: 5,
      at,
    });
    await t.db.connectorCallSample.createMany({
      data: [sample(a.id, "webhook", old), sample(b.id, "crm", old), sample(a.id, "webhook", recent), sample(b.id, "email", recent)],
    });
    const res = await sweepExecutions(sweepDeps(t.db, fixedClock(now)));
    expect(res.prunedSamples).toBe(2);
    // Only the rows planted here (earlier tests left samples of their own calls, all recent).
    const left = await t.db.connectorCallSample.findMany({
      where: { tenantId: { in: [a.id, b.id] }, at: { in: [old, recent] } },
      orderBy: { connector: "asc" },
    });
    expect(left.map((x) => [x.tenantId === a.id ? "a" : "b", x.connector, x.at.getTime()])).toEqual([
      ["b", "email", recent.getTime()],
      ["a", "webhook", recent.getTime()],
    ]);
  });

  it("after the sweeper, no execution is left EXECUTING", async () => {
    expect(await t.db.execution.count({ where: { status: "EXECUTING" } })).toBe(0);
    expect(await t.db.toolCall.count({ where: { status: "STARTED" } })).toBe(0);
  });
});
