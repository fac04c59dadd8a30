import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as rollbackRest } from "@/app/api/v1/learning/rollback/route";
import { GET as settingsGet, PUT as settingsPut } from "@/app/api/v1/learning/settings/route";
import { POST as promoteRest } from "@/app/api/v1/learning/weights/[id]/promote/route";
import { GET as weightsGet } from "@/app/api/v1/learning/weights/route";
import { fixedClock } from "@/server/clock";
import { DEFAULT_FIT, FEATURES_VERSION, fitRanking as fitModel, type RankingModel } from "@/server/engine/learning";
import { parseLedgerPayload } from "@/server/engine/ledgerPayloads";
import { AppError } from "@/server/errors";
import { JOBS } from "@/server/jobs/registry";
import { insertWeights, learningState, nextWeightsVersion } from "@/server/repos/learning";
import { inTransaction } from "@/server/repos/tx";
import { createApiKey } from "@/server/services/apiKeys";
import type { GateDeps } from "@/server/services/gate";
import { labelledRows } from "@/server/services/learning/data";
import { activeRanker } from "@/server/services/learning/ranker";
import { learningSettingsView, promoteWeights, rollbackWeights, saveLearningSettingsFor } from "@/server/services/learning/registry";
import { runShadowTick } from "@/server/services/learning/shadow";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { rejectIntent } from "@/server/services/reviews";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { approveAndRun, intent, submitIntent } from "../helpers/gate";

/**
 * The weights registry, shadow mode and guarded promotion (SPEC §4.5, issue 9 items 3–5) on the
 * real paths: proposals go through the production gate and are judged through the review
 * service; candidates are fitted by the engine on the labelled rows the shadow job reads.
 */
let t: TestDb;
/**
 * The REST handlers run on the system clock, so the story is laid out on days counted back from
 * today: day 0 is ten days ago, and the REST calls happen "now" (day 10).
 */
const DAY_MS = 86_400_000;
const base = Math.floor(Date.now() / DAY_MS) * DAY_MS - 10 * DAY_MS;
const day = (n: number, time = "00:00:00") => `${new Date(base + n * DAY_MS).toISOString().slice(0, 10)}T${time}Z`;
const clock = fixedClock(day(0));
const deps = (): GateDeps => ({ db: t.db, clock, connectors: { smtp: null } });

beforeAll(async () => {
  t = await freshDb();
  // The route modules use the process-wide client; point it at this file's database.
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
});
afterAll(() => t.cleanup());

// ───────────── a small judged history ─────────────

/**
 * Small gate settings so a few days of proposals are a real sample: top-2 within each
 * owner-day of four proposals.
 */
async function learningSettings(tn: TestTenant) {
  clock.set(day(0, "08:00:00"));
  await saveLearningSettingsFor(
    t.db,
    clock,
    tn.admin.viewer,
    {
      shadow: { k: 2, min_sample: 8, window_days: 30, min_lift: 0.05 },
      guard: { window_days: 7, min_sample: 8, tolerance: 0.05 },
    },
    "small test sample",
  );
}

type Regime = "A" | "B";
let serial = 0;

/**
 * One owner-day of four proposals on the seller's account, each judged by a person. Regime A:
 * sellers approve internal tasks and reject flags, while the rules rank the flags higher (so the
 * rules' top-2 agreement is 0 and a model that learned the sellers' taste reaches 1). Regime B:
 * the sellers' behaviour flips, and the rules are right.
 */
async function ownerDay(tn: TestTenant, n: number, regime: Regime) {
  const acc = tn.accounts.seller[0] as string;
  const plan: [string, number, boolean][] = [
    ["CREATE_INTERNAL_TASK", 0.2, regime === "A"],
    ["FLAG_FOR_REVIEW", 0.8, regime === "B"],
    ["CREATE_INTERNAL_TASK", 0.3, regime === "A"],
    ["FLAG_FOR_REVIEW", 0.7, regime === "B"],
  ];
  for (const [i, [actionType, rankScore, approve]] of plan.entries()) {
    clock.set(day(n, `09:0${i}:00`));
    serial += 1;
    const r = await submitIntent(
      deps(),
      tn.admin.viewer,
      intent(acc, { actionType, rankScore, parameters: { title: `task ${serial}`, reason: `check ${serial}` } }),
    );
    expect(r.status).toBe("PENDING_APPROVAL");
    if (approve) await approveAndRun(deps(), tn.admin.viewer, r.actionIntentId, {});
    else await rejectIntent(deps(), tn.admin.viewer, r.actionIntentId, { reason: "not now" });
  }
}

async function days(tn: TestTenant, list: number[], regime: Regime) {
  for (const n of list) await ownerDay(tn, n, regime);
}

async function insertCandidate(tenantId: string, model: RankingModel, at: string) {
  clock.set(at);
  return inTransaction(t.db, async (tx) =>
    insertWeights(
      tx,
      {
        tenantId,
        version: await nextWeightsVersion(tx, tenantId),
        featuresVersion: model.featuresVersion,
        model: JSON.stringify(model),
        provenance: JSON.stringify({ source: "test", fitted_at: at }),
        createdBy: null,
      },
      clock.now(),
    ),
  );
}

/** A candidate fitted by the engine on the tenant's labelled rows before `to`. */
async function fittedCandidate(tn: TestTenant, to: string) {
  const { rows, sellers } = await labelledRows(t.db, tn.id, { from: new Date(day(-30)), to: new Date(to) });
  const { model } = fitModel(rows, { ...DEFAULT_FIT, seed: 7, sellers });
  return insertCandidate(tn.id, model, to);
}

/** A candidate that ranks exactly as the rules do (flags first): never a lift. */
const rulesLikeModel: RankingModel = {
  featuresVersion: FEATURES_VERSION,
  coefficients: { bias: 0, "action=FLAG_FOR_REVIEW": 2 },
  curve: [],
  sellers: {},
};

/**
 * Regime-A history: four training days, then three candidates made on day 4. `liveDays` adds
 * the two days they are shadow-evaluated on.
 */
async function history(tn: TestTenant) {
  await learningSettings(tn);
  await days(tn, [0, 1, 2, 3], "A");
  const good = await fittedCandidate(tn, day(4, "08:00:00"));
  const rulesLike = await insertCandidate(tn.id, rulesLikeModel, day(4, "08:00:00"));
  const good2 = await fittedCandidate(tn, day(4, "08:00:00"));
  return { good, rulesLike, good2 };
}

const liveDays = (tn: TestTenant) => days(tn, [4, 5], "A");

// ───────────── REST ─────────────

type Handler = (r: Request, p: { params: Promise<Record<string, string>> }) => Promise<Response>;
async function rest(handler: unknown, key: string, method: string, body?: unknown, params: Record<string, string> = {}) {
  const res = await (handler as Handler)(
    new Request("http://127.0.0.1/api/v1/learning", {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    { params: Promise.resolve(params) },
  );
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field below
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
const adminKey = (tn: TestTenant) =>
  createApiKey(t.db, { tenantId: tn.id, name: "admin", scopes: ["admin"], actor: { type: "SYSTEM", id: "test" } }, clock).then(
    (r) => r.key,
  );
const readKey = (tn: TestTenant) =>
  createApiKey(t.db, { tenantId: tn.id, name: "read", scopes: ["read"], actor: { type: "SYSTEM", id: "test" } }, clock).then((r) => r.key);

const ledgerOf = (tenantId: string, type: string) => t.db.ledgerEntry.findMany({ where: { tenantId, type }, orderBy: { seq: "asc" } });
const stateOf = (tenantId: string) => learningState(t.db, tenantId);

async function settle<T>(calls: (() => Promise<T>)[]) {
  const results = await Promise.allSettled(calls.map((c) => c()));
  const won = results.filter((r) => r.status === "fulfilled").length;
  for (const r of results)
    if (r.status === "rejected") expect(r.reason instanceof AppError && r.reason.code === "CONFLICT", String(r.reason)).toBe(true);
  return won;
}

describe(`learning registry on ${TEST_PROVIDER}`, () => {
  let a: TestTenant;
  let b: TestTenant;
  let ids: Awaited<ReturnType<typeof history>>;
  let key: string;

  beforeAll(async () => {
    a = await makeTenant(t.db);
    b = await makeTenant(t.db);
    ids = await history(a);
    key = await adminKey(a);
  });

  it("refuses a promotion with 409 SHADOW_GATE_NOT_PASSED on too small a sample, and changes nothing", async () => {
    const before = await stateOf(a.id);
    const res = await rest(promoteRest, key, "POST", { reason: "looks better" }, { id: ids.good.id });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("SHADOW_GATE_NOT_PASSED");
    expect(res.body.error.message).toContain("only 0 decided proposals in the last 30 days, 8 needed");
    expect(await stateOf(a.id)).toEqual(before);
    expect(await ledgerOf(a.id, "RANKING_WEIGHTS_PROMOTED")).toEqual([]);
    expect(await t.db.shadowEvaluation.count({ where: { tenantId: a.id } })).toBe(0);
    expect((await activeRanker(t.db, a.id)).weightsId).toBeNull();
  });

  it("refuses a candidate below the threshold with the numbers; nothing changes", async () => {
    await liveDays(a);
    clock.set(day(6, "10:00:00"));
    const before = await stateOf(a.id);
    const res = await rest(promoteRest, key, "POST", { reason: "try it" }, { id: ids.rulesLike.id });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: "SHADOW_GATE_NOT_PASSED" });
    expect(res.body.error.message).toContain(
      "TOP_K_AGREEMENT 0 is below the threshold 0.05 (the ACTIVE ranking's 0 plus the minimum lift) on 8 proposals",
    );
    expect(await stateOf(a.id)).toEqual(before);
    expect(await ledgerOf(a.id, "RANKING_WEIGHTS_PROMOTED")).toEqual([]);
  });

  it("promotes a candidate that passes: ACTIVE at once, ledgered with actor, reason and the numbers", async () => {
    const res = await rest(promoteRest, key, "POST", { reason: "beats the rules in shadow" }, { id: ids.good.id });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      weights_id: ids.good.id,
      previous_id: null,
      shadow: { value: 1, baseline_value: 0, sample: 8, passed: true },
    });
    expect((await activeRanker(t.db, a.id)).weightsId).toBe(ids.good.id);
    const [entry, ...more] = await ledgerOf(a.id, "RANKING_WEIGHTS_PROMOTED");
    expect(more).toEqual([]);
    expect(entry?.actorType).toBe("API_KEY");
    expect(JSON.parse(entry?.payload ?? "{}")).toEqual({
      weights_id: ids.good.id,
      version: ids.good.version,
      scope: "TENANT",
      previous_id: null,
      reason: "beats the rules in shadow",
      shadow: {
        metric: "TOP_K_AGREEMENT",
        window_days: 30,
        min_sample: 8,
        threshold: 0.05,
        value: 1,
        baseline_value: 0,
        sample: 8,
        passed: true,
      },
    });
    const state = await stateOf(a.id);
    const guard = JSON.parse(state?.guard ?? "null");
    expect(guard).toMatchObject({ weights_id: ids.good.id, replaced_id: null });
    expect(Date.parse(guard.ends_at) - Date.parse(guard.promoted_at)).toBe(7 * DAY_MS);

    const list = await rest(weightsGet, await readKey(a), "GET");
    expect(list.status).toBe(200);
    expect(list.body.active_id).toBe(ids.good.id);
    expect(list.body.settings.shadow).toMatchObject({ k: 2, min_sample: 8 });
    const byId = new Map((list.body.items as { id: string }[]).map((i) => [i.id, i]));
    expect(byId.get(ids.good.id)).toMatchObject({ status: "ACTIVE", scope: "TENANT", shadow: { value: 1, passed: true } });
    expect(byId.get(ids.rulesLike.id)).toMatchObject({ status: "CANDIDATE", shadow: null, provenance: { source: "test" } });
  });

  it("rolls back in one call: the rules rank the next request, the version stays listed as RETIRED", async () => {
    const res = await rest(rollbackRest, key, "POST", { reason: "sellers complain" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ weights_id: ids.good.id, version: ids.good.version, restored_id: null, automatic: false });
    expect((await activeRanker(t.db, a.id)).weightsId).toBeNull();
    const [entry] = await ledgerOf(a.id, "RANKING_WEIGHTS_ROLLED_BACK");
    expect(JSON.parse(entry?.payload ?? "{}")).toEqual({
      weights_id: ids.good.id,
      version: ids.good.version,
      restored_id: null,
      scope: "TENANT",
      reason: "sellers complain",
      automatic: false,
    });
    const list = await rest(weightsGet, key, "GET");
    expect((list.body.items as { id: string; status: string }[]).find((i) => i.id === ids.good.id)?.status).toBe("RETIRED");
    expect((await stateOf(a.id))?.guard).toBeNull();

    const again = await rest(rollbackRest, key, "POST", { reason: "once more" });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain("Nothing to roll back");
  });

  it("re-promotes a RETIRED version past the gate again; a rollback restores the previous ACTIVE one", async () => {
    clock.set(day(6, "11:00:00"));
    await promoteWeights(t.db, clock, a.admin.viewer, ids.good.id, "back again");
    // The second fit ranks as well as the first: no lift, so the admin accepts none.
    await saveLearningSettingsFor(t.db, clock, a.admin.viewer, { shadow: { min_lift: 0 } }, "accept an equal ranking");
    await promoteWeights(t.db, clock, a.admin.viewer, ids.good2.id, "newer fit");
    const listed = await t.db.rankingWeights.findMany({ where: { tenantId: a.id }, orderBy: { version: "asc" } });
    expect(listed.map((w) => w.status)).toEqual(["RETIRED", "CANDIDATE", "ACTIVE"]);
    expect(JSON.parse((await stateOf(a.id))?.history ?? "[]")).toEqual([ids.good.id]);

    const r = await rollbackWeights(t.db, clock, a.admin.viewer, "newer fit is worse");
    expect(r).toMatchObject({ weights_id: ids.good2.id, restored_id: ids.good.id });
    expect((await activeRanker(t.db, a.id)).weightsId).toBe(ids.good.id);
    expect(JSON.parse((await stateOf(a.id))?.history ?? "[]")).toEqual([]);
    const statuses = await t.db.rankingWeights.findMany({ where: { tenantId: a.id }, orderBy: { version: "asc" } });
    expect(statuses.map((w) => w.status)).toEqual(["ACTIVE", "CANDIDATE", "RETIRED"]);
  });

  it("the guard clears its watch once the window is over without a regression", async () => {
    expect((await stateOf(a.id))?.guard).toBeNull(); // a rollback ends the watch
    await promoteWeights(t.db, clock, a.admin.viewer, ids.good2.id, "watch this one");
    clock.set(day(8, "10:00:00"));
    expect(await runShadowTick(t.db, clock)).toMatchObject({ guardEvaluations: 1, cleared: 0, rolledBack: 0 });
    expect((await stateOf(a.id))?.guard).not.toBeNull();
    clock.set(day(14, "10:00:00"));
    expect(await runShadowTick(t.db, clock)).toMatchObject({ guardEvaluations: 1, cleared: 1, rolledBack: 0 });
    expect((await stateOf(a.id))?.guard).toBeNull();
    expect((await activeRanker(t.db, a.id)).weightsId).toBe(ids.good2.id);
  });

  it("settings: GET read, PUT admin, ledgered as CONFIG_CHANGED learning_settings", async () => {
    const res = await rest(settingsPut, key, "PUT", { guard: { tolerance: 0.1 }, reason: "looser guard" });
    expect(res.status).toBe(200);
    expect(res.body.settings.guard).toEqual({ window_days: 7, min_sample: 8, tolerance: 0.1 });
    const entries = (await ledgerOf(a.id, "CONFIG_CHANGED")).map((e) => JSON.parse(e.payload));
    expect(entries.at(-1)).toMatchObject({
      change: "learning_settings",
      before: { guard: { tolerance: 0.05 } },
      after: { guard: { tolerance: 0.1 } },
      reason: "looser guard",
    });
    const read = await rest(settingsGet, await readKey(a), "GET");
    expect(read.body).toMatchObject({ settings: { guard: { tolerance: 0.1 } }, settings_problem: null });
    expect((await rest(settingsPut, await readKey(a), "PUT", { guard: { tolerance: 0.2 } })).status).toBe(403);
  });

  it("cross-tenant: tenant B's admin key cannot see, promote or roll back tenant A's versions", async () => {
    const bKey = await adminKey(b);
    const stateBefore = await stateOf(a.id);
    const list = await rest(weightsGet, bKey, "GET");
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
    expect(list.body.active_id).toBeNull();
    const promote = await rest(promoteRest, bKey, "POST", { reason: "take it" }, { id: ids.rulesLike.id });
    expect(promote.status).toBe(404);
    const rollback = await rest(rollbackRest, bKey, "POST", { reason: "undo theirs" });
    expect(rollback.status).toBe(409);
    const settings = await rest(settingsGet, bKey, "GET");
    expect(settings.body.settings.guard.tolerance).toBe(0.05);
    expect(await stateOf(a.id)).toEqual(stateBefore);
  });

  it("every ledger entry written here parses as its own payload variant", async () => {
    const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id } });
    const types = new Set(entries.map((e) => e.type));
    for (const type of ["RANKING_WEIGHTS_PROMOTED", "RANKING_WEIGHTS_ROLLED_BACK", "CONFIG_CHANGED"]) expect(types).toContain(type);
    for (const e of entries) expect(parseLedgerPayload(e.type, e.payload).type, `${e.type} ${e.payload}`).toBe(e.type);
  });
});

describe(`shadow mode and guarded promotion on ${TEST_PROVIDER}`, () => {
  it("the shadow tick only writes ShadowEvaluation rows: intents, ranks, ledger and pointer untouched", async () => {
    const s = await makeTenant(t.db);
    const ids = await history(s);
    await liveDays(s);
    clock.set(day(6, "10:00:00"));
    const snapshot = async () => ({
      intents: await t.db.actionIntent.findMany({ where: { tenantId: s.id }, orderBy: { id: "asc" } }),
      head: await t.db.ledgerHead.findUnique({ where: { tenantId: s.id } }),
      state: await stateOf(s.id),
      weights: await t.db.rankingWeights.findMany({ where: { tenantId: s.id }, orderBy: { id: "asc" } }),
    });
    const before = await snapshot();
    const tick = await JOBS.shadow.run({ db: t.db, clock, synthesizer: rulesSynthesizer, connectors: { smtp: null }, workerId: "test" });
    expect(tick.ok).toBe(true);
    expect(await snapshot()).toEqual(before);
    const evals = await t.db.shadowEvaluation.findMany({ where: { tenantId: s.id }, orderBy: { versionId: "asc" } });
    expect(evals.map((e) => [e.versionId, e.kind, e.value, e.baselineValue, e.sample, e.passed]).sort()).toEqual(
      [
        [ids.good.id, "SHADOW", 1, 0, 8, true],
        [ids.good2.id, "SHADOW", 1, 0, 8, true],
        [ids.rulesLike.id, "SHADOW", 0, 0, 8, false],
      ].sort(),
    );
    expect((await activeRanker(t.db, s.id)).weightsId).toBeNull();
  });

  it("a promotion whose ranking turns worse than the one it replaced is rolled back by the guard, ledgered with the numbers", async () => {
    const g = await makeTenant(t.db);
    const ids = await history(g);
    await liveDays(g);
    clock.set(day(6, "10:00:00"));
    await promoteWeights(t.db, clock, g.admin.viewer, ids.good.id, "passed shadow");

    // Nothing decided since the promotion: the guard watches.
    clock.set(day(6, "12:00:00"));
    expect(await runShadowTick(t.db, clock)).toMatchObject({ rolledBack: 0 });
    expect((await activeRanker(t.db, g.id)).weightsId).toBe(ids.good.id);

    // The sellers' behaviour flips: now the rules' order is the right one.
    await days(g, [7, 8], "B");
    clock.set(day(9, "07:00:00"));
    const tick = await runShadowTick(t.db, clock);
    expect(tick).toMatchObject({ ok: true, rolledBack: 1 });
    expect((await activeRanker(t.db, g.id)).weightsId).toBeNull();
    const [entry, ...more] = await ledgerOf(g.id, "RANKING_WEIGHTS_ROLLED_BACK");
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ actorType: "SYSTEM", actorId: "guard" });
    const payload = JSON.parse(entry?.payload ?? "{}");
    expect(payload).toMatchObject({
      weights_id: ids.good.id,
      restored_id: null,
      scope: "TENANT",
      automatic: true,
      guard: { value: 0, baseline_value: 1, drop: 1, sample: 8, tolerance: 0.05, window_days: 7, min_sample: 8 },
    });
    expect(payload.reason).toContain("fell 1 below");
    expect((await t.db.rankingWeights.findUniqueOrThrow({ where: { id: ids.good.id } })).status).toBe("RETIRED");
    const guardEvals = await t.db.shadowEvaluation.findMany({ where: { tenantId: g.id, kind: "GUARD" }, orderBy: { at: "asc" } });
    expect(guardEvals.map((e) => [e.sample, e.value, e.baselineValue, e.passed])).toEqual([
      [0, null, null, true],
      [8, 0, 1, false],
    ]);
    expect((await stateOf(g.id))?.guard).toBeNull();
    expect(parseLedgerPayload(entry?.type ?? "", entry?.payload).type).toBe("RANKING_WEIGHTS_ROLLED_BACK");
  });
});

describe(`concurrent promote and rollback on ${TEST_PROVIDER}`, () => {
  it("ten callers at once: one promotion wins, one rollback wins, history and ledger consistent", async () => {
    const c = await makeTenant(t.db);
    const ids = await history(c);
    await liveDays(c);
    clock.set(day(6, "10:00:00"));
    const v = c.admin.viewer;

    // Ten promotions of the same candidate, and of two competing ones: each compared with the
    // ranking ACTIVE when it started, so exactly one moves the pointer.
    expect(await settle(Array.from({ length: 10 }, () => () => promoteWeights(t.db, clock, v, ids.good.id, "race")))).toBe(1);
    expect((await stateOf(c.id))?.revision).toBe(1);
    expect(await ledgerOf(c.id, "RANKING_WEIGHTS_PROMOTED")).toHaveLength(1);

    expect(await settle(Array.from({ length: 10 }, () => () => rollbackWeights(t.db, clock, v, "race back")))).toBe(1);
    expect((await activeRanker(t.db, c.id)).weightsId).toBeNull();
    expect(await ledgerOf(c.id, "RANKING_WEIGHTS_ROLLED_BACK")).toHaveLength(1);

    const contenders = Array.from(
      { length: 10 },
      (_, i) => () => promoteWeights(t.db, clock, v, i % 2 ? ids.good.id : ids.good2.id, "race"),
    );
    expect(await settle(contenders)).toBe(1);
    const state = await stateOf(c.id);
    expect(state?.revision).toBe(3);
    expect(JSON.parse(state?.history ?? "[]")).toEqual([]);
    const promoted = await ledgerOf(c.id, "RANKING_WEIGHTS_PROMOTED");
    expect(promoted).toHaveLength(2);
    expect(JSON.parse(promoted[1]?.payload ?? "{}").weights_id).toBe(state?.activeId);
    const active = await t.db.rankingWeights.findMany({ where: { tenantId: c.id, status: "ACTIVE" } });
    expect(active.map((w) => w.id)).toEqual([state?.activeId]);
  });
});

describe(`concurrent settings changes on ${TEST_PROVIDER}`, () => {
  it("ten patches at once are applied one after another: each ledgered before is the previous after", async () => {
    const s = await makeTenant(t.db);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        saveLearningSettingsFor(
          t.db,
          clock,
          s.admin.viewer,
          i % 2 ? { guard: { window_days: i + 1 } } : { shadow: { k: i + 1 } },
          `patch ${i}`,
        ),
      ),
    );
    const entries = (await ledgerOf(s.id, "CONFIG_CHANGED"))
      .map((e) => JSON.parse(e.payload))
      .filter((p) => p.change === "learning_settings");
    expect(entries).toHaveLength(10);
    for (let i = 1; i < entries.length; i++) expect(entries[i].before).toEqual(entries[i - 1].after);
    const final = entries.at(-1).after;
    expect(await learningSettingsView(t.db, s.admin.viewer)).toMatchObject({ settings: final, settings_problem: null });
  });
});

describe(`a candidate the shadow job cannot read on ${TEST_PROVIDER}`, () => {
  it("is counted as failed; the other candidates are still evaluated", async () => {
    const u = await makeTenant(t.db);
    await insertCandidate(u.id, { ...rulesLikeModel, coefficients: {} }, day(4, "08:00:00"));
    await inTransaction(t.db, async (tx) =>
      insertWeights(
        tx,
        {
          tenantId: u.id,
          version: await nextWeightsVersion(tx, u.id),
          featuresVersion: "f0",
          model: "{}",
          provenance: "{}",
          createdBy: null,
        },
        clock.now(),
      ),
    );
    const before = await t.db.shadowEvaluation.count({ where: { tenantId: u.id } });
    const tick = await runShadowTick(t.db, clock);
    expect(tick).toMatchObject({ ok: false, failed: 1 });
    expect(await t.db.shadowEvaluation.count({ where: { tenantId: u.id } })).toBe(before + 1);
  });
});
