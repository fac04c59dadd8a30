import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PUT as allowlistPut } from "@/app/api/v1/autonomy/allowlist/route";
import { PUT as budgetPut } from "@/app/api/v1/autonomy/budget/route";
import { PUT as configPut } from "@/app/api/v1/autonomy/config/route";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { GET as calibrationGet } from "@/app/api/v1/learning/calibrations/[id]/route";
import { POST as calibrationPost } from "@/app/api/v1/learning/calibrations/route";
import { POST as rollbackPost } from "@/app/api/v1/learning/rollback/route";
import { POST as promotePost } from "@/app/api/v1/learning/weights/[id]/promote/route";
import { GET as weightsGet } from "@/app/api/v1/learning/weights/route";
import { GET as nextActionsGet } from "@/app/api/v1/next-actions/route";
import { systemClock } from "@/server/clock";
import { JOBS } from "@/server/jobs/registry";
import { createApiKey } from "@/server/services/apiKeys";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { drainQueue } from "../helpers/gate";
import { seedJudgedHistory } from "../helpers/learningHistory";

/**
 * Issue 9's bar, end to end through what integrators call (REST v1) and what the scheduler runs
 * (the `normalize`, `calibrate` queue and `shadow` jobs):
 *
 *   sellers reject X and approve Y → a calibration's candidate counts exactly those decisions →
 *   it passes the shadow gate on live decisions made after it → promoted → the feed ranks every
 *   fresh Y above every fresh X with that version → policy decisions are identical before, after
 *   the promotion and after the rollback → the rollback is one call, instant, and the artifact is
 *   still listed.
 *
 * The REST routes read the system clock, so the test moves the system date (Date only; timers
 * stay real) through the story: history weeks ago, calibration, a week of live decisions, promotion.
 */

const X = "FLAG_FOR_REVIEW";
const Y = "CREATE_INTERNAL_TASK";
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1, 9); // the calibration happens here

let t: TestDb;
let a: TestTenant;
let key = "";

function req(path: string, method = "GET", body?: unknown) {
  return new Request(`http://127.0.0.1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
async function json(res: Response) {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { items?: Record<string, unknown>[] } };
}
const jobDeps = () => ({ db: t.db, clock: systemClock, synthesizer: rulesSynthesizer, connectors: { smtp: null }, workerId: "bar" });
const at = (ms: number) => vi.setSystemTime(new Date(ms));

/**
 * A policy corpus across the policy's clauses — low and high risk, confidence either side of the
 * threshold, blocking unknowns, external contact, commercial, an unknown type — on one account
 * that may auto-execute internal actions under a cap it never reaches, so repeating the corpus
 * asks the policy the same questions each time.
 */
const CORPUS = [
  { action_type: "CREATE_INTERNAL_NOTE", confidence: 0.95, risk_level: "LOW" },
  { action_type: "CREATE_INTERNAL_NOTE", confidence: 0.2, risk_level: "LOW" },
  { action_type: "FLAG_FOR_REVIEW", confidence: 0.9, risk_level: "LOW", blocking_unknowns: ["who owns renewal?"] },
  { action_type: "SEND_EMAIL", confidence: 0.99, risk_level: "HIGH" },
  { action_type: "CHANGE_DISCOUNT", confidence: 0.99, risk_level: "HIGH" },
  { action_type: "UPDATE_ACCOUNT_FIELDS", confidence: 0.7, risk_level: "MEDIUM" },
  { action_type: "CREATE_INTERNAL_TASK", confidence: 0.55, risk_level: "LOW" },
  { action_type: "NOT_A_REAL_TYPE", confidence: 0.9, risk_level: "LOW" },
];
async function policyOf(accountId: string) {
  const out = [];
  for (const c of CORPUS) {
    const r = await json(await intentsPost(req("/api/v1/intents", "POST", { account_id: accountId, why: ["BAR_CORPUS"], ...c })));
    out.push({
      status: r.status,
      decision: r.body.decision,
      reason: r.body.reason,
      clause: r.body.policy_clause,
      version: r.body.policy_version,
    });
  }
  return out;
}

async function feed() {
  const r = await json(await nextActionsGet(req("/api/v1/next-actions?limit=200")));
  expect(r.status).toBe(200);
  return r.body.items as { action_intent_id: string; rank_score: number; display_confidence: number; weights_version: number | null }[];
}

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"], now: T0 - 40 * DAY });
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  key = (await createApiKey(t.db, { tenantId: a.id, name: "bar", scopes: ["admin"], actor: { type: "SYSTEM", id: "test" } }, systemClock))
    .key;
}, 60_000);
afterAll(async () => {
  vi.useRealTimers();
  await t.cleanup();
});

describe(`the learning loop's bar on ${TEST_PROVIDER}`, () => {
  it("history → candidate → shadow gate → promotion → feed → rollback, with policy unchanged throughout", async () => {
    const policyAccount = a.accounts.admin[0] as string;
    at(T0 - 31 * DAY);
    const configured = [
      await allowlistPut(
        req("/api/v1/autonomy/allowlist", "PUT", {
          account_id: policyAccount,
          action_types: ["CREATE_INTERNAL_NOTE", "CREATE_INTERNAL_TASK", "FLAG_FOR_REVIEW"],
        }),
      ),
      await configPut(req("/api/v1/autonomy/config", "PUT", { account_id: policyAccount, mode: "AUTO_EXECUTE" })),
      await budgetPut(req("/api/v1/autonomy/budget", "PUT", { account_id: policyAccount, max_autonomous_per_day: 1000 })),
    ];
    for (const res of configured) expect(res.status, await res.clone().text()).toBeLessThan(300);

    // Policy before anything was learned.
    at(T0 - 30 * DAY);
    const before = await policyOf(policyAccount);
    expect(new Set(before.map((p) => p.decision))).toEqual(new Set(["AUTO_EXECUTE", "REQUIRE_APPROVAL", "BLOCK"]));
    expect(new Set(before.map((p) => p.reason)).size).toBeGreaterThanOrEqual(4);

    // Weeks of history: both sellers reject X and take Y (as proposed, or edited).
    const history = await seedJudgedHistory(t.db, a, {
      start: new Date(T0 - 20 * DAY),
      days: 8,
      kinds: [
        { actionType: X, verdict: "reject", perDay: 2 },
        { actionType: Y, verdict: "approve", perDay: 2 },
        { actionType: Y, verdict: "edit", perDay: 1 },
      ],
    });
    expect(history.counts).toEqual({ reject: 32, approve: 32, edit: 16 });

    // The normaliser labels every decided intent; then a calibration through REST and the queue.
    at(T0);
    await JOBS.normalize.run(jobDeps());
    const started = await json(await calibrationPost(req("/api/v1/learning/calibrations", "POST", {})));
    expect(started.status).toBe(202);
    const jobId = started.body.job_id as string;
    await drainQueue(t.db);
    const run = await json(await calibrationGet(req(`/api/v1/learning/calibrations/${jobId}`), { params: Promise.resolve({ id: jobId }) }));
    expect(run.body).toMatchObject({ status: "COMPLETED", progress: 1 });
    const candidateId = run.body.weights_id as string;

    let listed = await json(await weightsGet(req("/api/v1/learning/weights")));
    const candidate = listed.body.items?.find((w) => w.id === candidateId) as Record<string, unknown> & {
      provenance: { decisions: Record<string, number>; rows: number; job_id: string };
    };
    expect(candidate).toMatchObject({ status: "CANDIDATE", scope: "TENANT" });
    // The provenance counts exactly the sellers' decisions (and the policy corpus added none: it
    // was auto-executed, blocked or is still waiting — none of it is a human judgement).
    expect(candidate.provenance.decisions).toMatchObject({ approved: 32, edited: 16, rejected: 32 });
    expect(candidate.provenance.rows).toBe(80);
    expect(candidate.provenance.job_id).toBe(jobId);

    // Not promotable yet: no live decision has been made since it was registered.
    const early = await json(
      await promotePost(req(`/api/v1/learning/weights/${candidateId}/promote`, "POST", { reason: "looks good" }), {
        params: Promise.resolve({ id: candidateId }),
      }),
    );
    expect(early.status).toBe(409);
    expect((early.body.error as { code: string }).code).toBe("SHADOW_GATE_NOT_PASSED");

    // A week of live decisions in the same pattern, scored in shadow by the hourly job.
    await seedJudgedHistory(t.db, a, {
      start: new Date(T0 + DAY),
      days: 5,
      kinds: [
        { actionType: X, verdict: "reject", perDay: 2 },
        { actionType: Y, verdict: "approve", perDay: 2 },
      ],
    });
    at(T0 + 7 * DAY);
    await JOBS.shadow.run(jobDeps());
    listed = await json(await weightsGet(req("/api/v1/learning/weights")));
    const shadow = (listed.body.items?.find((w) => w.id === candidateId) as { shadow: Record<string, unknown> } | undefined)?.shadow;
    expect(shadow).toMatchObject({ metric: "TOP_K_AGREEMENT", passed: true, sample: 40 });
    expect(shadow?.value as number).toBeGreaterThanOrEqual(shadow?.threshold as number);

    // Promotion: one call, past the gate.
    const promoted = await json(
      await promotePost(req(`/api/v1/learning/weights/${candidateId}/promote`, "POST", { reason: "beats the rules in shadow" }), {
        params: Promise.resolve({ id: candidateId }),
      }),
    );
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    const version = candidate.version as number;

    // Fresh proposals, interleaved so the rules rank alone would not separate them.
    at(T0 + 7 * DAY + 3_600_000);
    const fresh: { id: string; type: string }[] = [];
    for (let i = 0; i < 6; i++) {
      for (const type of [X, Y]) {
        const accountId = a.accounts.seller[i % a.accounts.seller.length] as string;
        const r = await json(
          await intentsPost(
            req("/api/v1/intents", "POST", {
              account_id: accountId,
              action_type: type,
              confidence: type === X ? 0.9 : 0.6,
              risk_level: "LOW",
              why: ["FRESH_PROPOSAL"],
            }),
          ),
        );
        // Not allowlisted in a fresh tenant: they wait for a human, which is what the feed ranks.
        expect(r.body.status).toBe("PENDING_APPROVAL");
        fresh.push({ id: r.body.action_intent_id as string, type });
      }
    }
    const ranked = (await feed()).filter((i) => fresh.some((f) => f.id === i.action_intent_id));
    expect(ranked).toHaveLength(12);
    for (const item of ranked) expect(item.weights_version).toBe(version);
    const typeOf = (id: string) => fresh.find((f) => f.id === id)?.type;
    const lastY = ranked.map((i) => typeOf(i.action_intent_id)).lastIndexOf(Y);
    const firstX = ranked.map((i) => typeOf(i.action_intent_id)).indexOf(X);
    expect(lastY).toBeLessThan(firstX); // every fresh Y above every fresh X

    const afterPromotion = await policyOf(policyAccount);

    // Rollback: one call; the very next feed request is ranked by the rules again.
    const rolled = await json(await rollbackPost(req("/api/v1/learning/rollback", "POST", { reason: "bar: roll back" })));
    expect(rolled.status, JSON.stringify(rolled.body)).toBe(200);
    for (const item of await feed()) expect(item.weights_version).toBeNull();
    const afterRollback = await policyOf(policyAccount);

    // The artifact is still there, RETIRED, with its provenance.
    listed = await json(await weightsGet(req("/api/v1/learning/weights")));
    expect(listed.body.items?.find((w) => w.id === candidateId)).toMatchObject({ status: "RETIRED", provenance: { job_id: jobId } });

    // Never policy.
    expect(afterPromotion).toEqual(before);
    expect(afterRollback).toEqual(before);
  }, 300_000);
});
