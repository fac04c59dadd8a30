import { getErrorShape, TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter, createCaller } from "@/server/api/root";
import type { SessionLike } from "@/server/auth/viewer";
import { fixedClock } from "@/server/clock";
import { runCalibration } from "@/server/services/learning/calibrate";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { seedJudgedHistory } from "../helpers/learningHistory";

/**
 * The learning page's tRPC surface (issue 9 item 8) over the real services: a judged history made
 * through the gate and the review paths, a calibration requested through `learning.calibrate` and
 * run by the calibration job's own function, the shadow gate refusing and then passing a
 * promotion, a rollback — and the tiers and tenant scope of every procedure.
 */

const X = "FLAG_FOR_REVIEW";
const Y = "CREATE_INTERNAL_TASK";
const DAY = 86_400_000;
const T0 = Date.parse("2026-03-02T00:00:00Z");
const at = (d: number) => new Date(T0 + d * DAY);

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const clock = fixedClock(at(0));
const as = (session: SessionLike) => createCaller({ db: t.db, clock, session });

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    if (err instanceof TRPCError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}
const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return "OK";
  } catch (err) {
    if (err instanceof TRPCError) return err.code;
    throw err;
  }
};

/**
 * Sellers reject X and approve Y, while the rules rank X higher (its confidence is higher): the
 * rules' top-2 agreement per owner-day is 0 and a model that learned the sellers' taste reaches 1.
 */
const judged = (start: Date, days: number) =>
  seedJudgedHistory(t.db, a, {
    start,
    days,
    kinds: [
      { actionType: X, verdict: "reject", perDay: 2, confidence: 0.9 },
      { actionType: Y, verdict: "approve", perDay: 2, confidence: 0.6 },
    ],
  });

let runId: string;
let candidateId: string;

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  await judged(at(0), 4);
}, 180_000);
afterAll(() => t.cleanup());

describe(`learning tRPC on ${TEST_PROVIDER}`, () => {
  it("an admin reads the empty registry, the settings and the normalisation gap, and saves settings with a reason", async () => {
    clock.set(at(4));
    const admin = as(a.admin.session);
    const weights = await admin.learning.weights();
    expect(weights).toMatchObject({ items: [], active_id: null, guard: null, settings_problem: null });
    expect(await admin.learning.calibrations({})).toEqual([]);
    expect(await admin.learning.history({ days: 30 })).toMatchObject({ items: [], truncated: false });
    expect(await admin.learning.normalization()).toMatchObject({ gap: expect.any(Number), items: expect.any(Array) });

    const saved = await admin.learning.saveSettings({
      shadow: { k: 2, min_sample: 8, window_days: 30, min_lift: 0.05 },
      guard: { min_sample: 8, tolerance: 0.05, window_days: 7 },
      calibration: { min_rows: 20 },
      reason: "a small workspace: smaller samples",
    });
    expect(saved.settings).toMatchObject({ shadow: { k: 2, min_sample: 8, min_lift: 0.05 }, calibration: { min_rows: 20 } });
    expect((await admin.learning.settings()).settings.shadow.min_sample).toBe(8);
    const entry = await t.db.ledgerEntry.findFirst({ where: { tenantId: a.id, type: "CONFIG_CHANGED" }, orderBy: { seq: "desc" } });
    expect(JSON.parse(entry?.payload ?? "{}")).toMatchObject({ change: "learning_settings", reason: "a small workspace: smaller samples" });
    expect(await code(admin.learning.saveSettings({ reason: "no" }))).toBe("BAD_REQUEST");
  });

  it("calibrate → a run polled through `calibration` to COMPLETED; the candidate is listed with its typed provenance", async () => {
    clock.set(at(4.5));
    const admin = as(a.admin.session);
    const started = await admin.learning.calibrate({});
    runId = started.jobId;
    expect(started.status).toBe("QUEUED");
    expect(await admin.learning.calibration({ id: runId })).toMatchObject({ id: runId, status: "QUEUED", progress: 0 });
    // one at a time: the page shows this message inline
    const twice = await failure(admin.learning.calibrate({}));
    expect(twice.code).toBe("CONFLICT");
    expect(twice.message).toContain(runId);

    expect(await runCalibration(t.db, clock, a.id, runId)).toMatchObject({ status: "COMPLETED" });
    const done = await admin.learning.calibration({ id: runId });
    expect(done).toMatchObject({ status: "COMPLETED", phase: "REGISTERING", progress: 1, rowsTotal: 32, error: null });
    candidateId = done.weightsId as string;
    expect((await admin.learning.calibrations({ limit: 5 })).map((r) => r.id)).toEqual([runId]);

    const weights = await admin.learning.weights();
    expect(weights.items).toHaveLength(1);
    const [v] = weights.items;
    expect(v).toMatchObject({ id: candidateId, version: 1, status: "CANDIDATE", scope: "TENANT", shadow: null });
    expect(v?.provenance).toMatchObject({
      job_id: runId,
      rows: 32,
      features_version: "f1",
      seed: 0,
      decisions: { approved: 16, rejected: 16, edited: 0, expired: 0 },
      baseline: { kind: "RULES" },
      metrics: { log_loss: expect.any(Number), brier: expect.any(Number) },
    });
    expect(v?.provenance?.reliability).toHaveLength(10);
  });

  it("a promote the shadow gate refuses is CONFLICT with appCode SHADOW_GATE_NOT_PASSED and the numbers", async () => {
    clock.set(at(4.6));
    const err = await failure(as(a.admin.session).learning.promote({ id: candidateId, reason: "looks better offline" }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toBe("Shadow gate not passed: only 0 decided proposals in the last 30 days, 8 needed");
    // what the client receives: the formatter's shape carries the contract's own code
    const shape = getErrorShape({
      config: appRouter._def._config,
      error: err,
      type: "mutation",
      path: "learning.promote",
      input: undefined,
      ctx: undefined,
    });
    expect(shape.data).toMatchObject({ code: "CONFLICT", appCode: "SHADOW_GATE_NOT_PASSED" });
    expect((await as(a.admin.session).learning.weights()).active_id).toBeNull();
  });

  it("after live decisions the promote passes; history charts it; rollback is one call and the version stays listed", async () => {
    await judged(at(5), 2);
    clock.set(at(7));
    const admin = as(a.admin.session);
    const promoted = await admin.learning.promote({ id: candidateId, reason: "passed the shadow gate" });
    expect(promoted).toMatchObject({ weights_id: candidateId, version: 1, previous_id: null, shadow: { passed: true, sample: 16 } });
    const weights = await admin.learning.weights();
    expect(weights).toMatchObject({ active_id: candidateId, active_scope: "TENANT", guard: { weights_id: candidateId } });
    expect(weights.items[0]).toMatchObject({ status: "ACTIVE", shadow: { passed: true, sample: 16, min_sample: 8 } });

    const history = await admin.learning.history({ days: 30 });
    expect(history.items).toEqual([
      expect.objectContaining({ kind: "SHADOW", version_id: candidateId, version: 1, passed: true, sample: 16, value: 1 }),
    ]);

    const rolled = await admin.learning.rollback({ reason: "checking the rollback path" });
    expect(rolled).toMatchObject({ weights_id: candidateId, restored_id: null, automatic: false });
    const after = await admin.learning.weights();
    expect(after.active_id).toBeNull();
    expect(after.items).toEqual([expect.objectContaining({ id: candidateId, status: "RETIRED" })]);
    expect(await code(admin.learning.rollback({ reason: "nothing is active now" }))).toBe("CONFLICT");
  });

  it("auditors read every number and change nothing; sellers get nothing", async () => {
    const auditor = as(a.auditor.session);
    expect((await auditor.learning.weights()).items).toHaveLength(1);
    expect(await auditor.learning.calibration({ id: runId })).toMatchObject({ status: "COMPLETED" });
    expect(await code(auditor.learning.calibrations({}))).toBe("OK");
    expect(await code(auditor.learning.settings())).toBe("OK");
    expect(await code(auditor.learning.normalization())).toBe("OK");
    expect(await code(auditor.learning.history({}))).toBe("OK");
    expect(await code(auditor.learning.calibrate({}))).toBe("FORBIDDEN");
    expect(await code(auditor.learning.promote({ id: candidateId, reason: "auditor tries" }))).toBe("FORBIDDEN");
    expect(await code(auditor.learning.rollback({ reason: "auditor tries" }))).toBe("FORBIDDEN");
    expect(await code(auditor.learning.saveSettings({ reason: "auditor tries" }))).toBe("FORBIDDEN");

    const seller = as(a.seller.session);
    for (const call of [
      seller.learning.weights(),
      seller.learning.calibrations({}),
      seller.learning.calibration({ id: runId }),
      seller.learning.calibrate({}),
      seller.learning.promote({ id: candidateId, reason: "seller tries" }),
      seller.learning.rollback({ reason: "seller tries" }),
      seller.learning.settings(),
      seller.learning.saveSettings({ reason: "seller tries" }),
      seller.learning.normalization(),
      seller.learning.history({}),
    ])
      expect(await code(call)).toBe("FORBIDDEN");
  });

  it("another tenant's admin sees none of A's versions, runs or evaluations, and cannot move A's pointer", async () => {
    const other = as(b.admin.session);
    expect((await other.learning.weights()).items).toEqual([]);
    expect(await other.learning.calibrations({})).toEqual([]);
    expect((await other.learning.history({ days: 30 })).items).toEqual([]);
    expect(await code(other.learning.calibration({ id: runId }))).toBe("NOT_FOUND");
    expect(await code(other.learning.promote({ id: candidateId, reason: "not mine" }))).toBe("NOT_FOUND");
    expect(await code(other.learning.rollback({ reason: "not mine" }))).toBe("CONFLICT");
    await other.learning.saveSettings({ shadow: { min_sample: 500 }, reason: "B's own settings" });
    expect((await as(a.admin.session).learning.settings()).settings.shadow.min_sample).toBe(8);
    const aVersion = await t.db.rankingWeights.findUniqueOrThrow({ where: { id: candidateId } });
    expect(aVersion.status).toBe("RETIRED");
  });
});
