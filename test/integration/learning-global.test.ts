import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { AppError } from "@/server/errors";
import { GLOBAL, learningState } from "@/server/repos/learning";
import { requestCalibration, runCalibration } from "@/server/services/learning/calibrate";
import { publishGlobal, rollbackGlobal } from "@/server/services/learning/global";
import { activeRanker } from "@/server/services/learning/ranker";
import { listWeightsView, promoteWeights, saveLearningSettingsFor } from "@/server/services/learning/registry";
import { runShadowTick } from "@/server/services/learning/shadow";
import { verifyLedger } from "@/server/services/ledger";
import { nextActions } from "@/server/services/nextActions";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { intent, submitIntent } from "../helpers/gate";
import { seedJudgedHistory } from "../helpers/learningHistory";

/**
 * The GLOBAL ranking scope's write path (SPEC §4.5 "per tenant with GLOBAL fallback", issue 9
 * item 3): an operator publishes one tenant's version — past its own shadow gate — as the GLOBAL
 * ACTIVE ranking, and tenants without ACTIVE weights of their own rank with it on their very
 * next request; a rollback returns them to the rules ranking. Candidates come from the real
 * calibration on a judged history made through the gate and the review service.
 *
 * Tenant A has its own ACTIVE weights (c1: its sellers took flags and refused tasks), then its
 * sellers change their minds; c2, calibrated on the new behaviour, beats c1 in shadow and is
 * published. B and C have no weights: they rank with c2's GLOBAL copy (tasks first) while A keeps
 * c1 (flags first).
 *
 * The CLI at the end runs on the system clock, so the story is laid out on days counted back
 * from today: day 0 is twenty days ago.
 */

const run = promisify(execFile);
const X = "FLAG_FOR_REVIEW";
const Y = "CREATE_INTERNAL_TASK";
const DAY = 86_400_000;
const base = Math.floor(Date.now() / DAY) * DAY - 20 * DAY;
const day = (n: number, hour = 8) => new Date(base + n * DAY + hour * 3_600_000);
const clock = fixedClock(day(0));
const OPERATOR = { type: "SYSTEM" as const, id: "test-operator" };

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let c: TestTenant;

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  c = await makeTenant(t.db);
}, 60_000);
afterAll(() => t.cleanup());

/** Sellers' days: each seller-day of two flags and two tasks is one top-2 group; the rules put tasks first. */
function judged(tn: TestTenant, from: number, days: number, taken: "flags" | "tasks") {
  return seedJudgedHistory(t.db, tn, {
    start: day(from, 9),
    days,
    kinds: [
      { actionType: X, verdict: taken === "flags" ? "approve" : "reject", perDay: 2, confidence: 0.6 },
      { actionType: Y, verdict: taken === "tasks" ? "approve" : "reject", perDay: 2, confidence: 0.9 },
    ],
  });
}

async function calibrate(tn: TestTenant) {
  const { jobId } = await requestCalibration(t.db, clock, tn.admin.viewer);
  const res = await runCalibration(t.db, clock, tn.id, jobId);
  expect(res).toMatchObject({ status: "COMPLETED" });
  const row = await t.db.rankingWeights.findUniqueOrThrow({ where: { id: res.weightsId as string } });
  return { id: row.id, version: row.version };
}

/** An open proposal of each type, same confidence: the rules alone would not separate them. */
async function openProposals(tn: TestTenant) {
  const deps = { db: t.db, clock, connectors: { smtp: null } };
  for (const actionType of [X, Y]) {
    const r = await submitIntent(
      deps,
      tn.seller.viewer,
      intent(tn.accounts.seller[0] as string, {
        actionType,
        confidence: 0.7,
        parameters: { title: `open ${actionType}` },
        source: "DECISION",
        signalTypes: ["USAGE_DROP"],
        trigger: "TIME_RITUAL_DAILY_BRIEF",
      }),
    );
    expect(r.status).toBe("PENDING_APPROVAL");
  }
}

const feed = (tn: TestTenant) => nextActions(t.db, tn.admin.viewer, { limit: 50 });
const globalRows = () => t.db.rankingWeights.findMany({ where: { tenantId: GLOBAL }, orderBy: { version: "asc" } });
async function globalEntries(tenantId: string, type: string) {
  const rows = await t.db.ledgerEntry.findMany({ where: { tenantId, type }, orderBy: { seq: "asc" } });
  return rows.map((r) => ({ ...r, body: JSON.parse(r.payload) as Record<string, unknown> })).filter((r) => r.body.scope === "GLOBAL");
}

async function code(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.publicCode ?? err.code;
    throw err;
  }
  return "OK";
}

describe(`the GLOBAL ranking scope on ${TEST_PROVIDER}`, () => {
  let c1: { id: string; version: number };
  let c2: { id: string; version: number };
  let published: Awaited<ReturnType<typeof publishGlobal>>;

  it("A ranks with its own ACTIVE weights; B and C by the rules", async () => {
    clock.set(day(0, 7));
    await saveLearningSettingsFor(
      t.db,
      clock,
      a.admin.viewer,
      {
        shadow: { k: 2, min_sample: 8, window_days: 30, min_lift: 0.05 },
        // A's sellers change their minds below; the guard would (rightly) roll c1 back, but this
        // story is about the GLOBAL scope, so A's own ACTIVE weights stay.
        guard: { window_days: 7, min_sample: 8, tolerance: 1 },
        calibration: { min_rows: 10, lookback_days: 30 },
      },
      "small test sample",
    );
    await judged(a, 0, 4, "flags");
    clock.set(day(4));
    c1 = await calibrate(a);
    await judged(a, 5, 2, "flags");
    clock.set(day(7));
    await promoteWeights(t.db, clock, a.admin.viewer, c1.id, "beats the rules in shadow");
    expect(await activeRanker(t.db, a.id)).toMatchObject({ weightsId: c1.id, scope: "TENANT" });
    for (const tn of [b, c]) expect(await activeRanker(t.db, tn.id)).toMatchObject({ weightsId: null, scope: null });
  }, 120_000);

  it("refuses to publish a candidate that has not passed its shadow gate; nothing changes", async () => {
    await judged(a, 8, 4, "tasks");
    clock.set(day(12, 7));
    // Calibrated on the new behaviour only.
    await saveLearningSettingsFor(t.db, clock, a.admin.viewer, { calibration: { lookback_days: 4 } }, "only the recent weeks");
    clock.set(day(12));
    c2 = await calibrate(a);
    const before = await learningState(t.db, GLOBAL);
    const err = await publishGlobal(t.db, clock, OPERATOR, a.id, c2.id, "better everywhere").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "CONFLICT", publicCode: "SHADOW_GATE_NOT_PASSED" });
    expect((err as Error).message).toContain("only 0 decided proposals in the last 30 days, 8 needed");
    expect(await learningState(t.db, GLOBAL)).toEqual(before);
    expect(await globalRows()).toEqual([]);
    for (const tn of [a, b, c]) expect(await globalEntries(tn.id, "RANKING_WEIGHTS_PROMOTED")).toEqual([]);
  }, 120_000);

  it("refuses another tenant's id (not found), a GLOBAL source and an empty reason", async () => {
    expect(await code(publishGlobal(t.db, clock, OPERATOR, b.id, c2.id, "better everywhere"))).toBe("NOT_FOUND");
    expect(await code(publishGlobal(t.db, clock, OPERATOR, GLOBAL, c2.id, "better everywhere"))).toBe("BAD_REQUEST");
    expect(await code(publishGlobal(t.db, clock, OPERATOR, a.id, c2.id, "  "))).toBe("BAD_REQUEST");
    expect(await code(rollbackGlobal(t.db, clock, OPERATOR, "undo"))).toBe("CONFLICT");
    expect(await globalRows()).toEqual([]);
  });

  it("publishes a candidate past its gate: B and C rank with the GLOBAL version at once, A keeps its own", async () => {
    await judged(a, 13, 2, "tasks");
    clock.set(day(15, 7));
    for (const tn of [a, b, c]) await openProposals(tn);
    clock.set(day(15));
    expect(await runShadowTick(t.db, clock)).toMatchObject({ ok: true, shadowEvaluations: 1, rolledBack: 0 });
    published = await publishGlobal(t.db, clock, OPERATOR, a.id, c2.id, "A's sellers' new taste, for everyone");
    expect(published).toMatchObject({
      version: 1,
      previous_id: null,
      published_from: { tenant_id: a.id, weights_id: c2.id, version: c2.version },
      shadow: { value: 1, baseline_value: 0, sample: 16, passed: true },
      tenants: 3,
    });

    const [row, ...more] = await globalRows();
    expect(more).toEqual([]);
    const source = await t.db.rankingWeights.findUniqueOrThrow({ where: { id: c2.id } });
    expect(row).toMatchObject({ id: published.weights_id, version: 1, status: "ACTIVE" });
    expect(row?.featuresVersion).toBe(source.featuresVersion);
    // The same fit, without A's seller ids and rates; the provenance names no tenant and no volume.
    const sourceModel = JSON.parse(source.model);
    expect(Object.keys(sourceModel.sellers).length).toBeGreaterThan(0);
    expect(JSON.parse(row?.model ?? "{}")).toEqual({ ...sourceModel, sellers: {} });
    const provenance = JSON.parse(row?.provenance ?? "{}");
    const sourceProvenance = JSON.parse(source.provenance);
    expect(provenance).toMatchObject({
      features_version: sourceProvenance.features_version,
      metrics: sourceProvenance.metrics,
      published_from: { weights_id: c2.id, version: c2.version },
    });
    expect(JSON.stringify(provenance)).not.toContain(a.id);
    for (const key of ["rows", "positives", "negatives", "decisions", "job_id", "scanned"]) expect(provenance).not.toHaveProperty(key);
    for (const sellerId of Object.keys(sourceModel.sellers)) expect(row?.model).not.toContain(sellerId);
    // The source keeps its status in its own tenant: publishing copies, it does not promote there.
    expect(source.status).toBe("CANDIDATE");

    for (const tn of [b, c]) {
      expect(await activeRanker(t.db, tn.id)).toMatchObject({ weightsId: published.weights_id, version: 1, scope: "GLOBAL" });
      const f = await feed(tn);
      expect(f.ranked_by).toEqual({ weights_id: published.weights_id, version: 1, scope: "GLOBAL" });
      expect(f.items.map((i) => i.weights_version)).toEqual([1, 1]);
      expect(f.items.map((i) => i.action_type)).toEqual([Y, X]);
    }
    const fa = await feed(a);
    expect(fa.ranked_by).toEqual({ weights_id: c1.id, version: c1.version, scope: "TENANT" });
    expect(fa.items.map((i) => i.action_type)).toEqual([X, Y]);

    const listed = await listWeightsView(t.db, b.admin.viewer);
    expect(listed.items.map((w) => [w.id, w.scope, w.status])).toEqual([[published.weights_id, "GLOBAL", "ACTIVE"]]);
    expect(listed).toMatchObject({ active_id: published.weights_id, active_scope: "GLOBAL" });
  }, 120_000);

  it("ledgers the publication once in every tenant's chain, and every chain verifies", async () => {
    for (const tn of [a, b, c]) {
      const entries = await globalEntries(tn.id, "RANKING_WEIGHTS_PROMOTED");
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ actorType: "SYSTEM", actorId: "test-operator" });
      expect(entries[0]?.body).toEqual({
        weights_id: published.weights_id,
        version: 1,
        scope: "GLOBAL",
        previous_id: null,
        reason: "A's sellers' new taste, for everyone",
        // A's gate numbers stay in A's chain.
        shadow: tn === a ? { ...published.shadow } : null,
      });
      expect((await verifyLedger(t.db, tn.id)).ok).toBe(true);
    }
  });

  it("rolls back in one call: B and C rank by the rules on the very next request; the artifact stays listed", async () => {
    clock.set(day(15, 10));
    const res = await rollbackGlobal(t.db, clock, OPERATOR, "too broad");
    expect(res).toEqual({ weights_id: published.weights_id, version: 1, restored_id: null, restored_version: null, tenants: 3 });
    for (const tn of [b, c]) {
      const f = await feed(tn);
      expect(f.ranked_by).toBeNull();
      expect(f.items.map((i) => i.weights_version)).toEqual([null, null]);
      expect((await activeRanker(t.db, tn.id)).weightsId).toBeNull();
    }
    expect((await feed(a)).ranked_by).toMatchObject({ weights_id: c1.id, scope: "TENANT" });
    const listed = await listWeightsView(t.db, b.admin.viewer);
    expect(listed.items.map((w) => [w.id, w.scope, w.status])).toEqual([[published.weights_id, "GLOBAL", "RETIRED"]]);
    expect(listed.active_id).toBeNull();
    for (const tn of [a, b, c]) {
      const [entry, ...more] = await globalEntries(tn.id, "RANKING_WEIGHTS_ROLLED_BACK");
      expect(more).toEqual([]);
      expect(entry?.body).toEqual({
        weights_id: published.weights_id,
        version: 1,
        restored_id: null,
        scope: "GLOBAL",
        reason: "too broad",
        automatic: false,
      });
      expect((await verifyLedger(t.db, tn.id)).ok).toBe(true);
    }
    expect(await code(rollbackGlobal(t.db, clock, OPERATOR, "again"))).toBe("CONFLICT");
  });

  it("of five concurrent publications exactly one wins; the others are CONFLICT and write nothing", async () => {
    clock.set(day(15, 11));
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => publishGlobal(t.db, clock, OPERATOR, a.id, c2.id, "once more, for everyone")),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect(r.reason instanceof AppError && r.reason.code === "CONFLICT", String(r.reason)).toBe(true);
    const rows = await globalRows();
    expect(rows.map((r) => [r.version, r.status])).toEqual([
      [1, "RETIRED"],
      [2, "ACTIVE"],
    ]);
    expect((await learningState(t.db, GLOBAL))?.activeId).toBe(rows[1]?.id);
    for (const tn of [a, b, c]) expect(await globalEntries(tn.id, "RANKING_WEIGHTS_PROMOTED")).toHaveLength(2);
    // Publishing the version that is already the GLOBAL ACTIVE one again is refused.
    expect(await code(publishGlobal(t.db, clock, OPERATOR, a.id, c2.id, "and again"))).toBe("CONFLICT");
    await rollbackGlobal(t.db, clock, OPERATOR, "back to the rules before the CLI run");
  }, 120_000);

  it("the operator CLI publishes and rolls back end to end, printing the GLOBAL version", async () => {
    const cli = (...args: string[]) =>
      run("./node_modules/.bin/tsx", ["scripts/cli.ts", "learning", ...args], { env: { ...process.env, DATABASE_URL: t.url } });
    const out = await cli("publish-global", "--tenant", a.slug, "--weights", c2.id, "--reason", "from the command line");
    expect(out.stdout).toMatch(new RegExp(`^GLOBAL version 3 \\(\\S+\\) is ACTIVE: ${a.slug} version ${c2.version}, `));
    const v3 = (await globalRows())[2];
    expect(v3).toMatchObject({ version: 3, status: "ACTIVE", createdBy: "cli-operator" });
    expect((await feed(b)).ranked_by).toEqual({ weights_id: v3?.id, version: 3, scope: "GLOBAL" });

    const back = await cli("rollback-global", "--reason", "from the command line too");
    expect(back.stdout).toContain("GLOBAL version 3");
    expect(back.stdout).toContain("no GLOBAL version is ACTIVE");
    expect((await feed(b)).ranked_by).toBeNull();
    for (const tn of [a, b, c]) {
      expect(await globalEntries(tn.id, "RANKING_WEIGHTS_PROMOTED")).toHaveLength(3);
      expect((await verifyLedger(t.db, tn.id)).ok).toBe(true);
    }
  }, 120_000);
});
