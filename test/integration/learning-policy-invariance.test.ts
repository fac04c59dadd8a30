import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "@/server/clock";
import { DEFAULT_FIT, fitRanking as fitModel } from "@/server/engine/learning";
import { insertWeights, nextWeightsVersion } from "@/server/repos/learning";
import { inTransaction } from "@/server/repos/tx";
import { putAllowlist, putBudget, putMode } from "@/server/services/autonomyConfig";
import type { GateDeps } from "@/server/services/gate";
import { labelledRows } from "@/server/services/learning/data";
import { activeRanker } from "@/server/services/learning/ranker";
import { promoteWeights, rollbackWeights, saveLearningSettingsFor } from "@/server/services/learning/registry";
import { rejectIntent } from "@/server/services/reviews";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { approveAndRun, intent, submitIntent } from "../helpers/gate";

/**
 * Learning never changes policy (SPEC §4.5, issue 9 item 7): the same corpus of intents through
 * the production gate decides identically before any promotion, with promoted weights ACTIVE,
 * and after a rollback; and what the gate stored as its input holds nothing the ranker computes.
 * Each phase runs on fresh accounts with the same lifecycles and the same caps at the same
 * instant, so budgets cannot differ between phases either.
 */
let t: TestDb;
let a: TestTenant;
const clock = fixedClock("2026-04-01T08:00:00Z");
const deps = (): GateDeps => ({ db: t.db, clock, connectors: { smtp: null } });

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

/**
 * A judged history a candidate can pass the shadow gate on: sellers approve internal tasks and
 * reject flags while the rules rank the flags first. Days 1–4 train, 5–6 are the live sample.
 */
async function judgedHistory() {
  await saveLearningSettingsFor(
    t.db,
    clock,
    a.admin.viewer,
    { shadow: { k: 2, min_sample: 8, window_days: 30, min_lift: 0.05 } },
    "small test sample",
  );
  const acc = a.accounts.seller[0] as string;
  let n = 0;
  const day = async (d: number) => {
    for (const [i, [actionType, rankScore, approve]] of (
      [
        ["CREATE_INTERNAL_TASK", 0.2, true],
        ["FLAG_FOR_REVIEW", 0.8, false],
        ["CREATE_INTERNAL_TASK", 0.3, true],
        ["FLAG_FOR_REVIEW", 0.7, false],
      ] as const
    ).entries()) {
      clock.set(`2026-04-0${d}T09:0${i}:00Z`);
      n += 1;
      const r = await submitIntent(
        deps(),
        a.admin.viewer,
        intent(acc, { actionType, rankScore, parameters: { title: `h${n}`, reason: `h${n}` } }),
      );
      if (approve) await approveAndRun(deps(), a.admin.viewer, r.actionIntentId, {});
      else await rejectIntent(deps(), a.admin.viewer, r.actionIntentId, { reason: "not now" });
    }
  };
  for (const d of [1, 2, 3, 4]) await day(d);
  clock.set("2026-04-05T08:00:00Z");
  const { rows, sellers } = await labelledRows(t.db, a.id, { from: new Date("2026-03-01T00:00:00Z"), to: clock.now() });
  const { model } = fitModel(rows, { ...DEFAULT_FIT, seed: 3, sellers });
  const candidate = await inTransaction(t.db, async (tx) =>
    insertWeights(
      tx,
      {
        tenantId: a.id,
        version: await nextWeightsVersion(tx, a.id),
        featuresVersion: model.featuresVersion,
        model: JSON.stringify(model),
        provenance: "{}",
        createdBy: null,
      },
      clock.now(),
    ),
  );
  for (const d of [5, 6]) await day(d);
  return candidate.id;
}

// ───────────── the corpus ─────────────

const PHASE_AT = "2026-04-07T12:00:00Z";
const LIFECYCLES = ["PROSPECT", "SUSPECT", "CUSTOMER"] as const;
const TYPES = [
  "CREATE_INTERNAL_TASK", // allowlisted, AUTO_EXECUTE
  "FLAG_FOR_REVIEW", // allowlisted, AUTO_EXECUTE
  "CREATE_INTERNAL_NOTE", // allowlisted, default mode
  "FETCH_ACCOUNT_NEWS", // allowlisted, DISABLED
  "DRAFT_EMAIL",
  "SEND_EMAIL",
  "UPDATE_ACCOUNT_FIELDS",
  "CHANGE_DISCOUNT", // never autonomous
];
const CONFIDENCES = [0.5, 0.749, 0.75, 0.76, 0.849, 0.85, 0.99];
const RISKS = ["LOW", "LOW", "MEDIUM", "HIGH", "MINIMAL"];

let phaseNo = 0;

/** Fresh accounts (one per lifecycle, the same owner), then every corpus intent through the gate. */
async function runPhase() {
  phaseNo += 1;
  clock.set(PHASE_AT);
  const accounts: string[] = [];
  for (const lifecycle of LIFECYCLES) {
    const acc = await t.db.account.create({
      data: { tenantId: a.id, name: `phase ${phaseNo} ${lifecycle}`, ownerId: a.seller.id, lifecycle, createdAt: clock.now() },
    });
    accounts.push(acc.id);
  }
  const decisions: unknown[] = [];
  const inputs: unknown[] = [];
  let i = 0;
  for (const actionType of TYPES)
    for (const confidence of CONFIDENCES) {
      const k = i++;
      const accountId = accounts[k % accounts.length] as string;
      const r = await submitIntent(
        deps(),
        a.admin.viewer,
        intent(accountId, {
          actionType,
          confidence,
          riskLevel: RISKS[k % RISKS.length] as string,
          blockingUnknowns: k % 7 === 3 ? ["who signs"] : [],
          parameters: { title: `c${k}`, reason: `c${k}` },
        }),
      );
      decisions.push([actionType, confidence, r.status, r.decision, r.reason, r.policyClause, r.policyVersion, r.explanation]);
      const ev = await t.db.policyEvaluation.findFirstOrThrow({ where: { tenantId: a.id, intentId: r.actionIntentId } });
      // The account's id and name are all that differ between phases, by construction.
      inputs.push(JSON.parse(ev.input.replaceAll(accountId, "<account>").replaceAll(`phase ${phaseNo} `, "phase * ")));
    }
  return { decisions, inputs };
}

/** Every key anywhere in a JSON value. */
function keysOf(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) keysOf(x, out);
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      out.add(k);
      keysOf(x, out);
    }
  return out;
}

describe(`learning never changes policy on ${TEST_PROVIDER}`, () => {
  it("the same corpus decides identically before a promotion, with weights ACTIVE, and after a rollback", async () => {
    const weightsId = await judgedHistory();
    // Autonomy configured after the history, the same for all three phases.
    clock.set("2026-04-07T08:00:00Z");
    await putAllowlist(
      t.db,
      a.admin.viewer,
      { actionTypes: ["CREATE_INTERNAL_TASK", "FLAG_FOR_REVIEW", "CREATE_INTERNAL_NOTE", "FETCH_ACCOUNT_NEWS"] },
      clock,
    );
    for (const actionType of ["CREATE_INTERNAL_TASK", "FLAG_FOR_REVIEW"])
      await putMode(t.db, a.admin.viewer, { actionType, mode: "AUTO_EXECUTE" }, clock);
    await putMode(t.db, a.admin.viewer, { actionType: "FETCH_ACCOUNT_NEWS", mode: "DISABLED" }, clock);
    await putBudget(t.db, a.admin.viewer, { maxPerDay: 1 }, clock);

    const before = await runPhase();
    expect((await activeRanker(t.db, a.id)).weightsId).toBeNull();

    clock.set(PHASE_AT);
    await promoteWeights(t.db, clock, a.admin.viewer, weightsId, "passed shadow");
    expect((await activeRanker(t.db, a.id)).weightsId).toBe(weightsId);
    const promoted = await runPhase();

    clock.set(PHASE_AT);
    await rollbackWeights(t.db, clock, a.admin.viewer, "back to the rules");
    expect((await activeRanker(t.db, a.id)).weightsId).toBeNull();
    const rolledBack = await runPhase();

    expect(promoted.decisions).toEqual(before.decisions);
    expect(rolledBack.decisions).toEqual(before.decisions);
    expect(promoted.inputs).toEqual(before.inputs);
    expect(rolledBack.inputs).toEqual(before.inputs);

    // The corpus covers every decision and the budget: not a trivially uniform answer.
    const outcomes = new Set(before.decisions.map((d) => (d as unknown[])[3]));
    expect([...outcomes].sort()).toEqual(["AUTO_EXECUTE", "BLOCK", "REQUIRE_APPROVAL"]);
    expect(before.decisions.some((d) => (d as unknown[])[4] === "BUDGET_EXHAUSTED")).toBe(true);

    // What the gate stored as its input holds nothing the ranker computes.
    const keys = keysOf([...before.inputs, ...promoted.inputs, ...rolledBack.inputs]);
    expect([...keys].filter((k) => /rank|score|display|weight|model|learning/i.test(k))).toEqual([]);
    const stored = await t.db.policyEvaluation.findMany({ where: { tenantId: a.id }, select: { input: true } });
    expect(stored.filter((e) => e.input.includes(weightsId))).toEqual([]);
  });
});
