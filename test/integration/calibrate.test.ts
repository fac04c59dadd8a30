import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as getCalibrationRoute } from "@/app/api/v1/learning/calibrations/[id]/route";
import { POST as postCalibration } from "@/app/api/v1/learning/calibrations/route";
import { systemClock } from "@/server/clock";
import { JOBS } from "@/server/jobs/registry";
import { claimCalibrationRun, ensureLearningState } from "@/server/repos/learning";
import type { Viewer } from "@/server/repos/scope";
import type { ApiKeyScope } from "@/server/schemas/common";
import { createApiKey } from "@/server/services/apiKeys";
import {
  type CalibrationProgress,
  calibrationStatus,
  handleCalibrationJob,
  listCalibrations,
  requestCalibration,
  runCalibration,
} from "@/server/services/learning/calibrate";
import { parseModel } from "@/server/services/learning/ranker";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { drainQueue } from "../helpers/gate";
import { type JudgedHistory, seedJudgedHistory } from "../helpers/learningHistory";

/**
 * Calibration (SPEC §4.5, §5.1 `POST /api/v1/learning/calibrations`) over a judged history made
 * through the gate and the review paths: sellers reject FLAG_FOR_REVIEW and take
 * CREATE_INTERNAL_TASK (as proposed, or edited). The candidate's provenance must count exactly
 * those decisions.
 */

const X = "FLAG_FOR_REVIEW";
const Y = "CREATE_INTERNAL_TASK";
const DAY = 86_400_000;

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let c: TestTenant;
let history: JudgedHistory;
const keys: Record<string, string> = {};

async function key(tenant: TestTenant, scopes: ApiKeyScope[]) {
  return (
    await createApiKey(t.db, { tenantId: tenant.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)
  ).key;
}

const system = (tenant: TestTenant): Viewer => ({ tenantId: tenant.id, actor: { type: "SYSTEM", id: "test" }, role: null, userId: null });

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  c = await makeTenant(t.db);
  keys.admin = await key(a, ["admin"]);
  keys.read = await key(a, ["read"]);
  keys.bAdmin = await key(b, ["admin"]);
  // Inside the default 180-day lookback of a calibration run now (the routes use the system clock).
  const start = new Date(Math.floor(systemClock.now().getTime() / DAY) * DAY - 20 * DAY);
  history = await seedJudgedHistory(t.db, a, {
    start,
    days: 6,
    kinds: [
      { actionType: X, verdict: "reject", perDay: 2 },
      { actionType: Y, verdict: "approve", perDay: 2 },
      { actionType: Y, verdict: "edit", perDay: 1 },
    ],
  });
  await seedJudgedHistory(t.db, b, { start, days: 1, kinds: [{ actionType: Y, verdict: "approve", perDay: 2 }], sellers: ["seller"] });
}, 180_000);
afterAll(() => t.cleanup());

function post(body: string | undefined, k: string = keys.admin as string) {
  return postCalibration(
    new Request("http://127.0.0.1/api/v1/learning/calibrations", {
      method: "POST",
      headers: { authorization: `Bearer ${k}`, "content-type": "application/json" },
      body,
    }),
  );
}

async function status(id: string, k: string = keys.admin as string) {
  const res = await getCalibrationRoute(
    new Request(`http://127.0.0.1/api/v1/learning/calibrations/${id}`, { headers: { authorization: `Bearer ${k}` } }),
    { params: Promise.resolve({ id }) },
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const ledgerOf = (tenantId: string, correlationId: string) =>
  t.db.ledgerEntry.findMany({ where: { tenantId, type: "CALIBRATION_COMPLETED", correlationId }, orderBy: { seq: "asc" } });

const jobDeps = () => ({ db: t.db, clock: systemClock, synthesizer: rulesSynthesizer, connectors: { smtp: null }, workerId: "test" });

describe(`calibration on ${TEST_PROVIDER}`, () => {
  it("the history is what the helper says: 24 rejected X, 24 approved Y and 12 edited Y over two sellers", () => {
    expect(history.counts).toEqual({ reject: 24, approve: 24, edit: 12 });
    expect(new Set(history.intents.map((i) => i.ownerId)).size).toBe(2);
  });

  it("the calibrate job requests one for a due tenant with enough rows only, runs it, and is quiet the next day", async () => {
    const res = (await JOBS.calibrate.run(jobDeps())) as { ok: boolean; requested: string[]; queue: { completed: number } };
    expect(res.ok).toBe(true);
    expect(res.requested).toHaveLength(1); // b (2 rows) and c (none) are not due: too little data
    const [runId] = res.requested as [string];
    const run = await calibrationStatus(t.db, system(a), runId);
    expect(run).toMatchObject({ status: "COMPLETED", progress: 1 });
    const row = await t.db.calibrationRun.findUniqueOrThrow({ where: { id: runId } });
    expect(row).toMatchObject({ tenantId: a.id, actorType: "SYSTEM", actorId: "calibrate" });
    const again = (await JOBS.calibrate.run(jobDeps())) as { requested: string[] };
    expect(again.requested).toEqual([]);
  });

  it("POST → 202, the queue runs it, and the candidate's provenance counts exactly the sellers' decisions", async () => {
    const res = await post(undefined);
    const body = (await res.json()) as { job_id: string; status: string };
    expect(res.status, JSON.stringify(body)).toBe(202);
    expect(body.status).toBe("QUEUED");
    expect((await status(body.job_id)).body).toMatchObject({ job_id: body.job_id, status: "QUEUED", progress: 0, weights_id: null });

    // One at a time per tenant: a second request names the queued one.
    const second = await post("{}");
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining(body.job_id),
    });

    await drainQueue(t.db);
    const done = (await status(body.job_id)).body;
    expect(done).toMatchObject({ status: "COMPLETED", phase: "REGISTERING", progress: 1, rows_total: 60, rows_done: 60, error: null });
    expect(done.finished_at).toEqual(expect.any(String));

    const weights = await t.db.rankingWeights.findUniqueOrThrow({ where: { id: done.weights_id as string } });
    expect(weights).toMatchObject({ tenantId: a.id, status: "CANDIDATE", version: 2, featuresVersion: "f1" });
    const p = JSON.parse(weights.provenance);
    expect(p.decisions).toEqual({ approved: 24, edited: 12, rejected: 24, expired: 0, no_response: 0, negative_response: 0, responded: 0 });
    expect(p).toMatchObject({ job_id: body.job_id, rows: 60, positives: 36, negatives: 24, features_version: "f1", seed: 0, lambda: 1 });
    expect(p.train_rows + p.holdout_rows).toBe(60);
    expect(p.holdout_rows).toBeGreaterThan(0);
    expect(new Date(p.trained_to).getTime() - new Date(p.trained_from).getTime()).toBe(180 * DAY);
    expect(p.metrics).toMatchObject({ rows: p.holdout_rows, log_loss: expect.any(Number), brier: expect.any(Number) });
    expect(p.baseline).toMatchObject({ kind: "RULES", metrics: { rows: p.holdout_rows } });
    expect(p.reliability).toHaveLength(10);
    expect(p.reliability.reduce((s: number, bin: { count: number }) => s + bin.count, 0)).toBe(p.holdout_rows);
    expect(typeof p.converged).toBe("boolean");

    // It learned what the sellers did: Y is worth doing, X is not.
    const model = parseModel(weights.model);
    expect(model?.coefficients[`action=${Y}`]).toBeGreaterThan(model?.coefficients[`action=${X}`] ?? 0);

    const [entry, ...more] = await ledgerOf(a.id, body.job_id);
    expect(more).toEqual([]);
    expect(JSON.parse(entry?.payload ?? "{}")).toMatchObject({
      job_id: body.job_id,
      ok: true,
      weights_id: weights.id,
      version: 2,
      rows: 60,
      positives: 36,
      negatives: 24,
      metrics: p.metrics,
      baseline: p.baseline,
    });

    // A re-delivered job for a finished run does nothing.
    expect(await runCalibration(t.db, systemClock, a.id, body.job_id)).toMatchObject({ status: "NOTHING_TO_DO" });
    expect(await t.db.rankingWeights.count({ where: { tenantId: a.id } })).toBe(2);
  });

  it("same data and seed → the same model JSON; progress is written phase by phase up to 1", async () => {
    const models: string[] = [];
    const seen: CalibrationProgress[][] = [];
    for (let i = 0; i < 2; i++) {
      const { jobId } = await requestCalibration(t.db, systemClock, a.admin.viewer, { seed: 7 });
      const progress: CalibrationProgress[] = [];
      const res = await runCalibration(t.db, systemClock, a.id, jobId, { onProgress: (p) => progress.push(p) });
      expect(res.status).toBe("COMPLETED");
      seen.push(progress);
      models.push((await t.db.rankingWeights.findUniqueOrThrow({ where: { id: res.weightsId as string } })).model);
      const row = await t.db.calibrationRun.findUniqueOrThrow({ where: { id: jobId } });
      expect(row).toMatchObject({ status: "COMPLETED", seed: 7, actorType: "USER", actorId: a.admin.id, progress: 1 });
    }
    expect(models[1]).toBe(models[0]);
    const phases = [...new Set(seen[0]?.map((p) => p.phase))];
    expect(phases).toEqual(["LOADING", "FITTING", "EVALUATING", "REGISTERING"]);
    const values = seen[0]?.map((p) => p.progress) ?? [];
    expect(values).toEqual([...values].sort((x, y) => x - y));
    expect(values.at(-1)).toBe(1);
    expect(seen[0]?.at(-1)).toMatchObject({ rowsTotal: 60, rowsDone: 60 });
  });

  it("a different seed holds out other rows (still a candidate with the same decision counts)", async () => {
    const { jobId } = await requestCalibration(t.db, systemClock, a.admin.viewer, { seed: 12345 });
    const res = await runCalibration(t.db, systemClock, a.id, jobId);
    const w = await t.db.rankingWeights.findUniqueOrThrow({ where: { id: res.weightsId as string } });
    expect(JSON.parse(w.provenance).decisions).toMatchObject({ approved: 24, edited: 12, rejected: 24 });
    expect(JSON.parse(w.provenance).seed).toBe(12345);
  });

  it("with an ACTIVE version the baseline is that version, scored on the same holdout", async () => {
    const first = await t.db.rankingWeights.findFirstOrThrow({ where: { tenantId: a.id, version: 1 } });
    await t.db.learningState.update({ where: { tenantId: a.id }, data: { activeId: first.id } });
    try {
      const { jobId } = await requestCalibration(t.db, systemClock, a.admin.viewer);
      const res = await runCalibration(t.db, systemClock, a.id, jobId);
      const p = JSON.parse((await t.db.rankingWeights.findUniqueOrThrow({ where: { id: res.weightsId as string } })).provenance);
      expect(p.baseline).toMatchObject({
        kind: "ACTIVE",
        weights_id: first.id,
        version: 1,
        scope: "TENANT",
        metrics: { rows: p.holdout_rows, log_loss: expect.any(Number) },
        rules_metrics: { rows: p.holdout_rows },
      });
    } finally {
      await t.db.learningState.update({ where: { tenantId: a.id }, data: { activeId: null } });
    }
  });

  it("a re-delivered job after a crash mid-run re-claims the run and starts over: one candidate", async () => {
    const { jobId } = await requestCalibration(t.db, systemClock, a.admin.viewer);
    // A worker claimed it and died in FITTING.
    expect(await claimCalibrationRun(t.db, a.id, jobId, new Date(systemClock.now().getTime() - 60_000))).toBe(true);
    await t.db.calibrationRun.update({ where: { id: jobId }, data: { phase: "FITTING", progress: 0.7 } });
    const before = await t.db.rankingWeights.count({ where: { tenantId: a.id } });
    await drainQueue(t.db);
    expect((await status(jobId)).body).toMatchObject({ status: "COMPLETED", progress: 1 });
    expect(await t.db.rankingWeights.count({ where: { tenantId: a.id } })).toBe(before + 1);
    expect(await ledgerOf(a.id, jobId)).toHaveLength(1);
  });

  it("too few labelled rows → FAILED with the reason, ledgered ok: false; the tenant may ask again", async () => {
    const res = await post("", keys.bAdmin);
    const { job_id } = (await res.json()) as { job_id: string };
    expect(res.status).toBe(202);
    await drainQueue(t.db);
    const s = await status(job_id, keys.bAdmin);
    expect(s.body).toMatchObject({ status: "FAILED", weights_id: null, error: expect.stringContaining("at least 50") });
    expect(await t.db.rankingWeights.count({ where: { tenantId: b.id } })).toBe(0);
    const [entry] = await ledgerOf(b.id, job_id);
    expect(JSON.parse(entry?.payload ?? "{}")).toMatchObject({ job_id, ok: false, rows: 2, error: s.body.error });
    expect((await post("{}", keys.bAdmin)).status).toBe(202);
    await drainQueue(t.db);
  });

  it("an unexpected error is retried by the queue; the last attempt marks the run FAILED, ledgered, and frees the tenant", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const { jobId } = await requestCalibration(t.db, systemClock, system(c));
      // Fault injection: reading the tenant's intents fails (a driver error); everything else works.
      const failing = new Proxy(t.db, {
        get(target, prop) {
          if (prop === "actionIntent") return new Proxy({}, { get: () => () => Promise.reject(new Error("connection reset")) });
          const v = Reflect.get(target, prop);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
      const job = (attempt: number) => ({ db: failing, clock: systemClock, job: { tenantId: c.id, attempt, maxAttempts: 3 } });
      await expect(handleCalibrationJob({ runId: jobId }, job(1))).rejects.toThrow("connection reset");
      expect((await calibrationStatus(t.db, system(c), jobId)).status).toBe("RUNNING");
      expect(await ledgerOf(c.id, jobId)).toEqual([]);
      await expect(handleCalibrationJob({ runId: jobId }, job(3))).rejects.toThrow("connection reset");
      const run = await calibrationStatus(t.db, system(c), jobId);
      expect(run).toMatchObject({ status: "FAILED", error: expect.stringMatching(/stopped after 3 attempts \(error id /) });
      expect(run.error).not.toContain("connection reset");
      const [entry] = await ledgerOf(c.id, jobId);
      expect(JSON.parse(entry?.payload ?? "{}")).toMatchObject({ job_id: jobId, ok: false, rows: 0, error: run.error });
      await expect(handleCalibrationJob({}, job(1))).rejects.toMatchObject({ permanent: true });
    } finally {
      log.mockRestore();
    }
  });

  it("concurrent requests: exactly one wins, the others are 409 naming it", async () => {
    // The pointer row exists already (as it does for any tenant once learning has run), so
    // nothing but the request's own lock can serialise the check.
    await ensureLearningState(t.db, c.id, systemClock.now());
    const jobsBefore = await t.db.job.count({ where: { tenantId: c.id, kind: "CALIBRATE" } });
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => requestCalibration(t.db, systemClock, system(c))));
    const won = settled.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<{ jobId: string }>).value.jobId;
    for (const r of settled.filter((x) => x.status === "rejected"))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT", message: expect.stringContaining(winner) });
    expect(await t.db.calibrationRun.count({ where: { tenantId: c.id, status: "QUEUED" } })).toBe(1);
    expect(await t.db.job.count({ where: { tenantId: c.id, kind: "CALIBRATE" } })).toBe(jobsBefore + 1);
    await drainQueue(t.db);
    expect((await listCalibrations(t.db, system(c), 10)).map((r) => r.status)).toEqual(["FAILED", "FAILED"]);
  });

  it("another tenant's calibration answers 404, like a missing one; scopes and bodies are checked", async () => {
    const [mine] = await listCalibrations(t.db, system(a), 1);
    expect((await status(mine?.id as string)).status).toBe(200);
    expect((await status(mine?.id as string, keys.bAdmin)).status).toBe(404);
    expect((await status("no-such-calibration")).status).toBe(404);
    await expect(calibrationStatus(t.db, system(b), mine?.id as string)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await status(mine?.id as string, keys.read)).status).toBe(403);
    expect((await post("{}", keys.read)).status).toBe(403);
    for (const bad of ['{"seed":"x"}', '{"seed":-1}', '{"seed":1.5}', '{"tenant_id":"x"}', "null", "[1]", "{nope"]) {
      const res = await post(bad);
      expect(res.status, bad).toBe(400);
    }
    expect(await t.db.calibrationRun.count({ where: { tenantId: a.id, status: { in: ["QUEUED", "RUNNING"] } } })).toBe(0);
  });
});
