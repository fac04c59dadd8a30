import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { UNDECIDED_STATUSES } from "@/server/engine/outcomes";
import type { Viewer } from "@/server/repos/scope";
import { DEMO_HISTORY_ACTOR } from "@/server/services/demoHistory";
import { listWeightsView } from "@/server/services/learning/registry";
import { verifyLedger } from "@/server/services/ledger";
import { runNormalizeTick } from "@/server/services/normalize";
import { seedDemo } from "@/server/services/seed";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";

/**
 * The demo shows the learning loop honestly: the simulated reviewer decides the replayed inbox
 * day by day through the reviews service, the real jobs normalise the outcomes and calibrate a
 * candidate from exactly those decisions, and nobody promotes it.
 */

const clock = fixedClock("2026-05-20T12:00:00Z");
let t: TestDb;
let demoId: string;
let globexId: string;

beforeAll(async () => {
  t = await freshDb();
  await seedDemo(t.db, { password: "demo-password", clock });
  demoId = (await t.db.tenant.findUniqueOrThrow({ where: { slug: "demo" } })).id;
  globexId = (await t.db.tenant.findUniqueOrThrow({ where: { slug: "globex" } })).id;
}, 120_000);
afterAll(() => t.cleanup());

const reviewTypes = ["INTENT_APPROVED", "INTENT_REJECTED"];

describe(`demo learning on ${TEST_PROVIDER}`, () => {
  it("the simulated reviewer decided most of the week and left the last day's proposals in the inbox", async () => {
    const reviews = await t.db.intentReview.findMany({ where: { tenantId: demoId } });
    expect(reviews.length).toBeGreaterThanOrEqual(60);
    expect(new Set(reviews.map((r) => r.decision))).toEqual(new Set(["APPROVED", "REJECTED"]));
    // Some emails were edited before they were approved, the diff kept.
    const edits = reviews.filter((r) => r.newIntentId !== null);
    expect(edits.length).toBeGreaterThan(0);
    for (const e of edits) expect(Object.keys(JSON.parse(e.diff ?? "{}"))).toEqual(["body"]);
    expect(reviews.every((r) => r.reason?.startsWith("Simulated demo review: "))).toBe(true);

    const pending = await t.db.actionIntent.findMany({ where: { tenantId: demoId, status: "PENDING_APPROVAL" } });
    expect(pending.length).toBeGreaterThanOrEqual(15);
    // Each decision came after its proposal had waited about a day, and before "now".
    const created = new Map(
      (await t.db.actionIntent.findMany({ where: { tenantId: demoId }, select: { id: true, createdAt: true } })).map((i) => [
        i.id,
        i.createdAt.getTime(),
      ]),
    );
    for (const r of reviews) {
      expect(r.createdAt.getTime() - (created.get(r.intentId) ?? Number.NaN)).toBeGreaterThanOrEqual(22 * 3_600_000);
      expect(r.createdAt.getTime()).toBeLessThanOrEqual(clock.now().getTime());
    }
    // globex stays small, with a few reviews of its own.
    const globex = await t.db.intentReview.count({ where: { tenantId: globexId } });
    expect(globex).toBeGreaterThan(0);
    expect(globex).toBeLessThan(reviews.length);
  });

  it("every human decision in the ledger is the simulated actor's, never a demo user's", async () => {
    for (const tenantId of [demoId, globexId]) {
      const entries = await t.db.ledgerEntry.findMany({ where: { tenantId, type: { in: reviewTypes } } });
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.every((e) => e.actorType === DEMO_HISTORY_ACTOR.type && e.actorId === DEMO_HISTORY_ACTOR.id)).toBe(true);
      const reviews = await t.db.intentReview.findMany({ where: { tenantId } });
      expect(reviews.every((r) => r.actorType === DEMO_HISTORY_ACTOR.type && r.actorId === DEMO_HISTORY_ACTOR.id)).toBe(true);
      const users = (await t.db.membership.findMany({ where: { tenantId } })).map((m) => m.userId);
      expect(await t.db.ledgerEntry.count({ where: { tenantId, actorId: { in: users } } })).toBe(0);
    }
  });

  it("every decided intent has its outcome, and normalising again finds nothing to do", async () => {
    for (const tenantId of [demoId, globexId]) {
      const decided = await t.db.actionIntent.findMany({
        where: { tenantId, status: { notIn: [...UNDECIDED_STATUSES] } },
        select: { id: true },
      });
      expect(decided.length).toBeGreaterThan(0);
      const withOutcome = new Set(
        (await t.db.outcome.findMany({ where: { tenantId }, select: { intentId: true } })).map((o) => o.intentId),
      );
      expect(decided.filter((i) => !withOutcome.has(i.id))).toEqual([]);
    }
    expect(await runNormalizeTick(t.db, clock)).toMatchObject({ ok: true, recorded: 0, responses: 0, missing: 0 });
  });

  it("a CANDIDATE was calibrated from exactly the simulated reviews, shadow-evaluated once, and not promoted", async () => {
    const viewer: Viewer = { tenantId: demoId, actor: { type: "SYSTEM", id: "test" }, role: "ADMIN", userId: null };
    const view = await listWeightsView(t.db, viewer);
    expect(view.active_id).toBeNull();
    expect(view.items).toHaveLength(1);
    const candidate = view.items[0];
    if (!candidate) throw new Error("no weights version");
    expect(candidate.status).toBe("CANDIDATE");
    const decisions = (candidate.provenance as { decisions: Record<string, number> }).decisions;
    const byType = async (type: string) =>
      t.db.ledgerEntry.count({ where: { tenantId: demoId, type, actorType: "SYSTEM", actorId: DEMO_HISTORY_ACTOR.id } });
    expect((decisions.approved ?? 0) + (decisions.edited ?? 0)).toBe(await byType("INTENT_APPROVED"));
    expect(decisions.rejected).toBe(await byType("INTENT_REJECTED"));
    expect(decisions.edited).toBe(await t.db.intentReview.count({ where: { tenantId: demoId, newIntentId: { not: null } } }));

    const run = await t.db.calibrationRun.findFirstOrThrow({ where: { tenantId: demoId } });
    expect(run).toMatchObject({ status: "COMPLETED", actorType: "SYSTEM", actorId: "calibrate", versionId: candidate.id });
    expect(await t.db.ledgerEntry.count({ where: { tenantId: demoId, type: "CALIBRATION_COMPLETED", actorId: "calibrate" } })).toBe(1);

    // Its shadow gate is honestly not passed: nothing has been decided since it was registered.
    expect(candidate.shadow).toMatchObject({ sample: 0, passed: false });
    expect(await t.db.ledgerEntry.count({ where: { type: "RANKING_WEIGHTS_PROMOTED" } })).toBe(0);
    // globex has too few decisions of its own: the seed asked for no calibration there.
    expect(await t.db.rankingWeights.count({ where: { tenantId: globexId } })).toBe(0);
  });

  it("every ledger verifies", async () => {
    expect(await verifyLedger(t.db, demoId)).toMatchObject({ ok: true });
    expect(await verifyLedger(t.db, globexId)).toMatchObject({ ok: true });
  });
});
