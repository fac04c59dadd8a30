import { createHmac } from "node:crypto";
import { MockLanguageModelV3 } from "ai/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as runPost } from "@/app/api/v1/decisions/run/route";
import { POST as signalsPost } from "@/app/api/v1/signals/route";
import { fixedClock } from "@/server/clock";
import { MAX_WINDOW_SIGNALS } from "@/server/engine/triggers";
import { queueHandlers } from "@/server/jobs/registry";
import { dueWindows, takeWindow } from "@/server/repos/decisions";
import type { Viewer } from "@/server/repos/scope";
import { inTransaction } from "@/server/repos/tx";
import { updateCrmAccount } from "@/server/services/accounts";
import { createApiKey } from "@/server/services/apiKeys";
import { saveDecisionSettings } from "@/server/services/decisionSettings";
import { type DecisionDeps, executeRun, fireDueTriggers, requestRun } from "@/server/services/decisions";
import { runDemoSourceTick } from "@/server/services/demoSource";
import { runWorkerTick } from "@/server/services/jobQueue";
import { verifyLedger } from "@/server/services/ledger";
import { createLlmSynthesizer, rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { runRitualTick, setCadence } from "@/server/services/rituals";
import { ingestSignal } from "@/server/services/signals";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { alwaysOn, autonomous } from "../helpers/gate";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const clock = fixedClock("2026-04-06T09:00:00Z");
const deps = (): DecisionDeps & { workerId: string } => ({
  db: t.db,
  clock,
  synthesizer: rulesSynthesizer,
  connectors: { smtp: null },
  workerId: "test-worker",
});
const system = (tenant: TestTenant): Viewer => ({ tenantId: tenant.id, actor: { type: "SYSTEM", id: "test" }, role: null, userId: null });
const drain = () => runWorkerTick(t.db, queueHandlers(deps()), { owner: "test-worker", leaseSeconds: 120, maxJobs: 500, clock });

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

describe(`signal intake on ${TEST_PROVIDER}`, () => {
  it("REST: 202, dedupe by key, 404 for another tenant's account, 400 naming the field, HMAC when the key requires it", async () => {
    const plain = (await createApiKey(t.db, { tenantId: a.id, name: "crm", scopes: ["ingest"], actor: { type: "SYSTEM", id: "t" } }, clock))
      .key;
    const signed = await createApiKey(
      t.db,
      { tenantId: a.id, name: "signed", scopes: ["ingest"], actor: { type: "SYSTEM", id: "t" }, signed: true },
      clock,
    );
    const post = (key: string, body: unknown, headers: Record<string, string> = {}) =>
      signalsPost(
        new Request("http://127.0.0.1/api/v1/signals", {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, ...headers },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      );
    const body = {
      account_id: a.accounts.seller[0],
      signal_type: "USAGE_TREND_CHANGE",
      severity: "high",
      evidence: { change_pct: -30 },
      dedupe_key: "crm-evt-1",
    };
    const first = await post(plain, body);
    expect(first.status).toBe(202);
    const firstJson = await first.json();
    expect(firstJson).toMatchObject({ signal_id: expect.any(String), duplicate: false });
    expect(await (await post(plain, body)).json()).toEqual({ signal_id: firstJson.signal_id, duplicate: true });
    expect((await post(plain, { ...body, account_id: b.accounts.seller[0], dedupe_key: "x" })).status).toBe(404);
    const bad = await post(plain, { ...body, signal_type: "SOMETHING" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.field).toBe("signal_type");
    const signedBody = JSON.stringify({ ...body, dedupe_key: "crm-evt-2" });
    expect((await post(signed.key, signedBody)).status).toBe(401);
    expect((await post(signed.key, signedBody, { "x-signature": `sha256=${"0".repeat(64)}` })).status).toBe(401);
    const sig = createHmac("sha256", signed.signingSecret as string)
      .update(signedBody)
      .digest("hex");
    expect((await post(signed.key, signedBody, { "x-signature": `sha256=${sig}` })).status).toBe(202);
  });
});

describe(`triggers under a storm on ${TEST_PROVIDER}`, () => {
  it("1,000 signals for one account in a minute never produce more runs than the caps; every suppression is ledgered", async () => {
    const account = a.accounts.seller2[0] as string;
    await saveDecisionSettings(
      t.db,
      a.admin.viewer,
      { triggers: { cooldownSeconds: 600, perAccountHourlyCap: 3, perTenantHourlyCap: 100 } },
      clock,
    );
    const start = clock.now().getTime();
    const runsBefore = await t.db.decisionRun.count({ where: { tenantId: a.id, accountId: account } });
    // 1,000 signals over 60 s, with the trigger ticker running every 5 s as the scheduler would.
    // Pushed 25 at a time concurrently, so window creation and coalescing race for real.
    for (let i = 0; i < 1000; i += 25) {
      clock.set(new Date(start + i * 60));
      await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          ingestSignal(
            t.db,
            system(a),
            {
              accountId: account,
              signalType: "SUPPORT_RISK_EMERGING",
              severity: "high",
              evidence: { n: i + j },
              dedupeKey: `storm-${i + j}`,
              source: "test",
            },
            clock,
          ),
        ),
      );
      if (i % 100 === 0) await fireDueTriggers(t.db, clock);
    }
    // Keep ticking for the rest of the hour: debounce windows fire, cooldown and caps suppress.
    for (let s = 60; s <= 3600; s += 30) {
      clock.set(new Date(start + s * 1000));
      if (s % 300 === 0)
        await ingestSignal(
          t.db,
          system(a),
          { accountId: account, signalType: "USAGE_TREND_CHANGE", evidence: { s }, dedupeKey: `late-${s}`, source: "test" },
          clock,
        );
      await fireDueTriggers(t.db, clock);
    }
    const runs = (await t.db.decisionRun.count({ where: { tenantId: a.id, accountId: account } })) - runsBefore;
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(3);
    const suppressed = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, accountId: account, type: "TRIGGER_SUPPRESSED" } });
    const reasons = new Set(suppressed.map((e) => JSON.parse(e.payload).reason));
    expect(suppressed.length).toBeGreaterThanOrEqual(990);
    expect([...reasons].every((r) => ["DEBOUNCE", "COOLDOWN", "HOURLY_CAP"].includes(r))).toBe(true);
    expect(reasons.has("DEBOUNCE")).toBe(true);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id, accountId: account, type: "TRIGGER_FIRED" } })).toBe(runs);
    // Concurrent coalescing loses no signal: every window that fired or was suppressed names as
    // many distinct signals as it counted events (up to the cap), each signal in one window only.
    const closed = await t.db.ledgerEntry.findMany({
      where: { tenantId: a.id, accountId: account, type: { in: ["TRIGGER_FIRED", "TRIGGER_SUPPRESSED"] } },
    });
    const seen = new Set<string>();
    for (const e of closed) {
      const p = JSON.parse(e.payload) as { reason?: string; coalesced_events: number; signal_ids?: string[] };
      if (p.reason === "DEBOUNCE") continue;
      expect(p.signal_ids).toHaveLength(Math.min(p.coalesced_events, MAX_WINDOW_SIGNALS));
      for (const id of p.signal_ids ?? []) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
    }
    expect(seen.size).toBeGreaterThan(MAX_WINDOW_SIGNALS);
  });
});

describe(`RUN_DECISION on ${TEST_PROVIDER}`, () => {
  it("50 concurrent requests with one idempotency key → one run, 49 SKIP DUPLICATE_IDEMPOTENCY_KEY", async () => {
    const res = await Promise.all(
      Array.from({ length: 50 }, () =>
        requestRun(
          t.db,
          a.admin.viewer,
          { accountId: a.accounts.admin[0] as string, triggerType: "TIME_RITUAL_DAILY_BRIEF", idempotencyKey: "daily:2026-04-06" },
          clock,
        ),
      ),
    );
    expect(res.filter((r) => r.result === "QUEUED")).toHaveLength(1);
    expect(res.filter((r) => r.result === "SKIP" && r.reason === "DUPLICATE_IDEMPOTENCY_KEY")).toHaveLength(49);
    expect(new Set(res.map((r) => r.runId)).size).toBe(1);
    expect(await t.db.decisionRun.count({ where: { tenantId: a.id, idempotencyKey: "daily:2026-04-06" } })).toBe(1);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id, type: "DECISION_RUN_SKIPPED" } })).toBeGreaterThanOrEqual(49);
  });

  it("REST: 202 QUEUED, then 200 SKIP for the same key; 400 naming the field; admin scope", async () => {
    const key = (await createApiKey(t.db, { tenantId: a.id, name: "adm", scopes: ["admin"], actor: { type: "SYSTEM", id: "t" } }, clock))
      .key;
    const call = (body: unknown) =>
      runPost(
        new Request("http://127.0.0.1/api/v1/decisions/run", {
          method: "POST",
          headers: { authorization: `Bearer ${key}` },
          body: JSON.stringify(body),
        }),
      );
    const body = { account_id: a.accounts.admin[1], trigger_type: "SIGNAL_ARRIVED", idempotency_key: "rest-1" };
    const one = await call(body);
    expect(one.status).toBe(202);
    expect(await one.json()).toMatchObject({ result: "QUEUED", run_id: expect.any(String) });
    expect(await (await call(body)).json()).toMatchObject({ result: "SKIP", reason: "DUPLICATE_IDEMPOTENCY_KEY" });
    const bad = await call({ ...body, trigger_type: "WHENEVER" });
    expect((await bad.json()).error.field).toBe("trigger_type");
  });

  it("a signal becomes a run: ALLOW → rules synthesis → intents through the autonomy gate, one correlation id", async () => {
    const account = a.accounts.seller[1] as string;
    await autonomous(t.db, a.admin.viewer, "FLAG_FOR_REVIEW", { accountId: account, maxPerDay: 5 });
    await alwaysOn(t.db, a.admin.viewer, [account], clock); // a decision run's proposal runs alone only with always-on
    const { signalId } = await ingestSignal(
      t.db,
      system(a),
      {
        accountId: account,
        signalType: "SUPPORT_RISK_EMERGING",
        severity: "high",
        evidence: { open_p1_tickets: 2 },
        dedupeKey: "path-1",
        source: "test",
      },
      clock,
    );
    clock.advance(61_000);
    expect((await fireDueTriggers(t.db, clock)).fired).toBeGreaterThanOrEqual(1);
    await drain();
    const run = await t.db.decisionRun.findFirstOrThrow({
      where: { tenantId: a.id, accountId: account, triggerType: "SIGNAL_ARRIVED" },
      orderBy: { createdAt: "desc" },
    });
    expect(run).toMatchObject({ status: "SYNTHESIZED", costGateResult: "ALLOW", synthesizer: "rules" });
    // The run continues the signal's story and names the signal that fed it.
    expect((await t.db.signal.findUniqueOrThrow({ where: { id: signalId } })).correlationId).toBe(run.correlationId);
    expect(JSON.parse(run.signalIds)).toEqual([signalId]);
    expect(JSON.parse(run.inputSnapshot ?? "{}").signals.map((s: { id: string }) => s.id)).toContain(signalId);
    const intents = await t.db.actionIntent.findMany({ where: { tenantId: a.id, correlationId: run.correlationId } });
    expect(intents.map((i) => i.actionType).sort()).toEqual(["FLAG_FOR_REVIEW", "SEND_EMAIL"]);
    expect(intents.find((i) => i.actionType === "FLAG_FOR_REVIEW")?.status).toBe("SUCCEEDED");
    expect(intents.find((i) => i.actionType === "SEND_EMAIL")?.status).toBe("PENDING_APPROVAL");
    const types = (
      await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, correlationId: run.correlationId }, orderBy: { seq: "asc" } })
    ).map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        "SIGNAL_RECEIVED",
        "TRIGGER_FIRED",
        "COST_GATE_EVALUATED",
        "DECISION_SYNTHESIZED",
        "INTENT_PROPOSED",
        "POLICY_EVALUATED",
        "EXECUTION_SUCCEEDED",
      ]),
    );
    // Re-delivering the same job does nothing: the run is finished.
    expect(await executeRun(deps(), a.id, run.id)).toEqual({ status: "SYNTHESIZED" });
  });

  it("DEFER is retried exactly once after retry_after_seconds; SKIP is final; nothing is synthesized without ALLOW", async () => {
    const account = a.accounts.seller[2] as string;
    await saveDecisionSettings(t.db, a.admin.viewer, { costGate: { minSecondsBetweenRuns: 300 } }, clock);
    await t.db.accountRunState.upsert({
      where: { tenantId_accountId: { tenantId: a.id, accountId: account } },
      create: { tenantId: a.id, accountId: account, lastRunAt: clock.now() },
      update: { lastRunAt: clock.now() },
    });
    const { runId } = await requestRun(
      t.db,
      a.admin.viewer,
      { accountId: account, triggerType: "TIME_RITUAL_WEEKLY_REVIEW", idempotencyKey: "defer-1" },
      clock,
    );
    await drain();
    let run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run).toMatchObject({ status: "DEFERRED", costGateResult: "DEFER", reason: "TOO_RECENT", retryAfterSeconds: 300, deferrals: 1 });
    const jobs = () => t.db.job.findMany({ where: { tenantId: a.id, payload: { contains: runId } } });
    expect(await jobs()).toHaveLength(2);
    clock.advance(100_000);
    await drain();
    expect((await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe("DEFERRED"); // not before retry_after
    // Still too recent when the retry comes (the account ran again meanwhile): the retry ends the cycle.
    await t.db.accountRunState.update({
      where: { tenantId_accountId: { tenantId: a.id, accountId: account } },
      data: { lastRunAt: clock.now() },
    });
    clock.advance(201_000);
    await drain();
    run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run).toMatchObject({ status: "SKIPPED", reason: "TOO_RECENT" });
    expect(await jobs()).toHaveLength(2);
    expect((await jobs()).every((j) => j.status === "DONE")).toBe(true);
    expect(
      await t.db.ledgerEntry.count({ where: { tenantId: a.id, correlationId: run.correlationId, type: "DECISION_SYNTHESIZED" } }),
    ).toBe(0);
    expect(await t.db.actionIntent.count({ where: { tenantId: a.id, correlationId: run.correlationId } })).toBe(0);
    expect(
      await t.db.ledgerEntry.count({ where: { tenantId: a.id, correlationId: run.correlationId, type: "DECISION_RUN_DEFERRED" } }),
    ).toBe(1);
    await saveDecisionSettings(t.db, a.admin.viewer, { costGate: { minSecondsBetweenRuns: 120 } }, clock);
  });

  it("a run its dead worker left RUNNING: the job comes back until the run is stale, then ends it INTERRUPTED, once — never DONE with the run still RUNNING", async () => {
    const account = a.accounts.seller2[0] as string;
    const { runId } = await requestRun(
      t.db,
      a.admin.viewer,
      { accountId: account, triggerType: "TIME_RITUAL_WEEKLY_REVIEW", idempotencyKey: "dies-mid-run" },
      clock,
    );
    // What a worker that died mid-run leaves once its (short) job lease ran out: the run RUNNING, the job due again.
    await t.db.decisionRun.update({ where: { id: runId }, data: { status: "RUNNING", updatedAt: clock.now() } });
    const job = () => t.db.job.findFirstOrThrow({ where: { tenantId: a.id, payload: { contains: runId } } });
    clock.advance(10_000);
    await drain();
    expect(await job()).toMatchObject({ status: "QUEUED", attempts: 1 });
    expect((await job()).runAt.getTime()).toBeGreaterThan(clock.now().getTime() + 100_000);
    expect(await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } })).toMatchObject({ status: "RUNNING" });

    clock.advance(120_000);
    await drain();
    expect(await job()).toMatchObject({ status: "DONE", attempts: 2 });
    expect(await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } })).toMatchObject({ status: "FAILED", reason: "INTERRUPTED" });
    const ends = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "DECISION_RUN_SKIPPED", payload: { contains: runId } } });
    expect(ends.map((e) => JSON.parse(e.payload))).toEqual([{ run_id: runId, reason: "INTERRUPTED" }]);
  });

  it("malformed model output → no intents, a ledgered error, no crash", async () => {
    const account = b.accounts.seller[0] as string;
    const model = scriptedModel('{"proposals": [{"action_type": "CREATE_INT');
    const llm = { ...deps(), synthesizer: createLlmSynthesizer(model, { modelName: "mock" }) };
    await ingestSignal(
      t.db,
      system(b),
      { accountId: account, signalType: "RENEWAL_WINDOW_ENTERED", dedupeKey: "llm-1", source: "test" },
      clock,
    );
    const { runId } = await requestRun(
      t.db,
      b.admin.viewer,
      { accountId: account, triggerType: "SIGNAL_ARRIVED", idempotencyKey: "llm-run" },
      clock,
    );
    expect(await executeRun(llm, b.id, runId)).toEqual({ status: "FAILED" });
    const run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run).toMatchObject({ status: "FAILED", reason: "MODEL_OUTPUT_UNPARSEABLE", tokens: 320 });
    expect(await t.db.actionIntent.count({ where: { tenantId: b.id, correlationId: run.correlationId } })).toBe(0);
    const entry = await t.db.ledgerEntry.findFirstOrThrow({
      where: { tenantId: b.id, correlationId: run.correlationId, type: "DECISION_SYNTHESIZED" },
    });
    expect(JSON.parse(entry.payload)).toMatchObject({ ok: false, error: "MODEL_OUTPUT_UNPARSEABLE" });
    expect((await t.db.tenantRunState.findUniqueOrThrow({ where: { tenantId: b.id } })).tokensToday).toBe(320);
  });

  it("a model's invented recipient never reaches an intent: it becomes a blocking unknown; the prompt carried the contacts", async () => {
    const account = b.accounts.seller[1] as string;
    const contact = await t.db.contact.findFirstOrThrow({ where: { tenantId: b.id, accountId: account } });
    const proposal = (to: string[]) => ({
      action_type: "SEND_EMAIL",
      risk_level: "HIGH",
      confidence: 0.8,
      why: ["RENEWAL_WINDOW_ENTERED"],
      parameters: { to, subject: "Renewal" },
      blocking_unknowns: [],
    });
    const model = scriptedModel(
      JSON.stringify({
        proposals: [proposal(["cfo@invented.example", contact.email as string]), { ...proposal([]), action_type: "DRAFT_EMAIL" }],
        summary: "x",
      }),
    );
    const llm = { ...deps(), synthesizer: createLlmSynthesizer(model, { modelName: "mock" }) };
    await ingestSignal(
      t.db,
      system(b),
      { accountId: account, signalType: "RENEWAL_WINDOW_ENTERED", dedupeKey: "llm-2", source: "test" },
      clock,
    );
    const { runId } = await requestRun(
      t.db,
      b.admin.viewer,
      { accountId: account, triggerType: "SIGNAL_ARRIVED", idempotencyKey: "llm-recipient" },
      clock,
    );
    expect(await executeRun(llm, b.id, runId)).toMatchObject({ status: "SYNTHESIZED" });
    expect(JSON.stringify(model.doGenerateCalls[0]?.prompt)).toContain(contact.email as string);
    const run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
    const email = await t.db.actionIntent.findFirstOrThrow({
      where: { tenantId: b.id, correlationId: run.correlationId, actionType: "SEND_EMAIL" },
    });
    expect(JSON.parse(email.parameters)).toEqual({ to: [contact.email], subject: "Renewal" });
    expect(JSON.parse(email.blockingUnknowns)).toEqual([expect.stringContaining('"to" named an address that is not one of')]);
    expect(email.status).not.toBe("SUCCEEDED");
    expect(JSON.stringify(await t.db.ledgerEntry.findMany({ where: { tenantId: b.id, correlationId: run.correlationId } }))).not.toContain(
      "invented.example",
    );
  });
});

describe(`scheduled sources on ${TEST_PROVIDER}`, () => {
  it("a posture change from the CRM opens a POSTURE_CHANGE trigger", async () => {
    const account = b.accounts.admin[0] as string;
    await updateCrmAccount(t.db, system(b), account, { posture: "AT_RISK" }, clock);
    expect(await t.db.triggerWindow.count({ where: { tenantId: b.id, accountId: account, triggerType: "POSTURE_CHANGE" } })).toBe(1);
  });

  it("a ritual slot opens windows once, however many ticks overlap", async () => {
    await setCadence(t.db, b.admin.viewer, { ritual: "TIME_RITUAL_DAILY_BRIEF", cron: "0 8 * * *", timezone: "UTC", enabled: true }, clock);
    clock.set(new Date(clock.now().getTime() + 86_400_000));
    const [one, two] = await Promise.all([runRitualTick(t.db, clock), runRitualTick(t.db, clock)]);
    expect(one.slots + two.slots).toBe(1);
    expect(await t.db.triggerWindow.count({ where: { tenantId: b.id, triggerType: "TIME_RITUAL_DAILY_BRIEF" } })).toBe(9);
    expect((await runRitualTick(t.db, clock)).slots).toBe(0);
    // An account's own cadence replaces the workspace's for that account (off = opted out).
    await setCadence(
      t.db,
      b.admin.viewer,
      { accountId: b.accounts.admin[1] as string, ritual: "TIME_RITUAL_DAILY_BRIEF", cron: "0 8 * * *", timezone: "UTC", enabled: false },
      clock,
    );
    await t.db.triggerWindow.deleteMany({ where: { tenantId: b.id, triggerType: "TIME_RITUAL_DAILY_BRIEF" } });
    clock.set(new Date(clock.now().getTime() + 86_400_000));
    expect((await runRitualTick(t.db, clock)).slots).toBe(1);
    const windows = await t.db.triggerWindow.findMany({ where: { tenantId: b.id, triggerType: "TIME_RITUAL_DAILY_BRIEF" } });
    expect(windows).toHaveLength(8);
    expect(windows.some((w) => w.accountId === b.accounts.admin[1])).toBe(false);
    // No signal behind a ritual: each account's window starts a story of its own, and carries no signals.
    expect(new Set(windows.map((w) => w.correlationId)).size).toBe(8);
    expect(windows.every((w) => w.correlationId.length > 0 && w.signalIds === "")).toBe(true);
    await expect(
      setCadence(
        t.db,
        b.admin.viewer,
        { ritual: "TIME_RITUAL_WEEKLY_REVIEW", cron: "0 9 * * 1", timezone: "Mars/Olympus", enabled: true },
        clock,
      ),
    ).rejects.toMatchObject({ field: "timezone" });
  });

  it("the demo source only writes to the demo tenant and dedupes a repeated tick", async () => {
    expect(await runDemoSourceTick(t.db, clock)).toMatchObject({ signals: 0, note: "no demo tenant" });
  });

  it("decision admin procedures: admins only, tenant-scoped, other tenants' accounts are NOT_FOUND", async () => {
    const { createCaller } = await import("@/server/api/root");
    const adminA = createCaller({ db: t.db, clock, session: a.admin.session });
    const adminB = createCaller({ db: t.db, clock, session: b.admin.session });
    await expect(createCaller({ db: t.db, clock, session: a.seller.session }).decisions.spend()).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(
      adminB.decisions.runNow({ accountId: a.accounts.admin[0] as string, triggerType: "SIGNAL_ARRIVED" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      adminB.decisions.setCadence({
        accountId: a.accounts.admin[0] as string,
        ritual: "TIME_RITUAL_WEEKLY_REVIEW",
        cron: "0 9 * * 1",
        timezone: "UTC",
        enabled: true,
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      adminA.decisions.setCadence({ ritual: "TIME_RITUAL_WEEKLY_REVIEW", cron: "99 9 * * 1", timezone: "UTC", enabled: true }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const jobsA = (await adminA.decisions.jobs({ limit: 100 })).items;
    const jobsB = (await adminB.decisions.jobs({ limit: 100 })).items;
    expect(jobsA.length).toBeGreaterThan(0);
    expect(jobsA.every((j) => j.tenantId === a.id)).toBe(true);
    expect(jobsB.every((j) => j.tenantId === b.id)).toBe(true);
    const spendB = await adminB.decisions.spend();
    expect(spendB.runs.every((r) => r.tenantId === b.id)).toBe(true);
    expect((await adminA.decisions.queueStats()).total).toBe(jobsA.length);
  });

  it("a fresh demo acts on its own within two minutes: demo signals → triggers → decision runs → intents", async () => {
    const { seedDemo } = await import("@/server/services/seed");
    const { JOBS } = await import("@/server/jobs/registry");
    await seedDemo(t.db, { password: "demo-password", clock });
    const demo = await t.db.tenant.findUniqueOrThrow({ where: { slug: "demo" } });

    // An honest history: every SIGNAL_RECEIVED has its signal, in the same story, and led somewhere.
    const received = await t.db.ledgerEntry.findMany({ where: { tenantId: demo.id, type: "SIGNAL_RECEIVED" } });
    expect(received.length).toBeGreaterThan(50);
    const signals = new Map((await t.db.signal.findMany({ where: { tenantId: demo.id } })).map((s) => [s.id, s]));
    for (const e of received) {
      const signal = signals.get((JSON.parse(e.payload) as { signal_id: string }).signal_id);
      expect(signal?.correlationId).toBe(e.correlationId);
    }
    const historyRuns = await t.db.decisionRun.findMany({ where: { tenantId: demo.id, status: "SYNTHESIZED" } });
    expect(historyRuns.length).toBeGreaterThan(20);
    const decided = await t.db.actionIntent.findMany({ where: { tenantId: demo.id, source: "DECISION" } });
    const runStories = new Set(historyRuns.map((r) => r.correlationId));
    expect(decided.length).toBeGreaterThan(20);
    expect(decided.every((i) => runStories.has(i.correlationId))).toBe(true);
    // Simulated human decisions are the demo actor's, never a real demo user's.
    const reviews = await t.db.intentReview.findMany({ where: { tenantId: demo.id } });
    expect(reviews.length).toBeGreaterThanOrEqual(60);
    expect(new Set(reviews.map((r) => r.decision))).toEqual(new Set(["APPROVED", "REJECTED"]));
    expect(reviews.every((r) => r.actorType === "SYSTEM" && r.actorId === "demo-history")).toBe(true);
    // …and the timeline says so instead of naming a person.
    const { listTimeline } = await import("@/server/services/inbox");
    const admin = await t.db.membership.findFirstOrThrow({ where: { tenantId: demo.id, role: "ADMIN" } });
    const adminViewer: Viewer = { tenantId: demo.id, actor: { type: "USER", id: admin.userId }, role: "ADMIN", userId: admin.userId };
    const reviewedIds = new Set(reviews.map((r) => r.newIntentId ?? r.intentId));
    const reviewed = [];
    for (let cursor: string | undefined, n = 0; n < 20; n++) {
      const page = await listTimeline(t.db, adminViewer, { limit: 100, cursor });
      reviewed.push(...page.items.filter((i) => reviewedIds.has(i.id)));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(reviewed.length).toBe(reviewedIds.size);
    expect(reviewed.every((i) => i.review?.by === "Demo history (simulated)")).toBe(true);
    const users = (await t.db.membership.findMany({ where: { tenantId: demo.id } })).map((m) => m.userId);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: demo.id, actorId: { in: users } } })).toBe(0);

    const jobDeps = deps();
    const before = await t.db.actionIntent.count({ where: { tenantId: demo.id } });
    // Two minutes of the local scheduler: demo source every 30 s, decisions every 15 s.
    for (let s = 0; s <= 120; s += 15) {
      if (s % 30 === 0) expect((await JOBS["demo-source"].run(jobDeps)).ok).toBe(true);
      await JOBS.decisions.run(jobDeps);
      clock.advance(15_000);
    }
    const runs = await t.db.decisionRun.findMany({ where: { tenantId: demo.id, status: "SYNTHESIZED" } });
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(
      await t.db.actionIntent.count({ where: { tenantId: demo.id, correlationId: { in: runs.map((r) => r.correlationId) } } }),
    ).toBeGreaterThan(0);
    expect(await t.db.actionIntent.count({ where: { tenantId: demo.id } })).toBeGreaterThan(before);
    expect(await verifyLedger(t.db, demo.id)).toMatchObject({ ok: true });
  }, 180_000);

  it("every ledger still verifies", async () => {
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: true });
  });
});

describe(`a window taken while a signal joins it on ${TEST_PROVIDER}`, () => {
  it("a signal that joins a window past its maximum wait after the ticker listed it is named by the fire, not dropped from the story", async () => {
    const account = b.accounts.admin[2] as string;
    const at = fixedClock("2026-04-09T09:00:00Z");
    const start = at.now().getTime();
    const push = async (n: number) =>
      (
        await ingestSignal(
          t.db,
          system(b),
          {
            accountId: account,
            signalType: "SUPPORT_RISK_EMERGING",
            severity: "high",
            evidence: { n },
            dedupeKey: `joiner-${n}`,
            source: "test",
          },
          at,
        )
      ).signalId;
    // A push every 50 s keeps the 60 s debounce from going quiet: the window is due at its 300 s maximum wait.
    const ids: string[] = [];
    for (let s = 0; s <= 300; s += 50) {
      at.set(new Date(start + s * 1000));
      ids.push(await push(s));
    }
    at.set(new Date(start + 301_000));
    const listed = (await dueWindows(t.db, at.now())).find((w) => w.tenantId === b.id && w.accountId === account);
    expect(listed?.events).toBe(ids.length);
    // Another instance takes a push in between the ticker's listing and its take; past the maximum
    // wait the window's fireAt stays where it was, so only the event count shows the newcomer.
    ids.push(await push(301));
    const joined = await t.db.triggerWindow.findFirstOrThrow({ where: { tenantId: b.id, accountId: account } });
    expect(joined.fireAt).toEqual(listed?.fireAt);
    expect(await inTransaction(t.db, (tx) => takeWindow(tx, listed as NonNullable<typeof listed>, at.now()))).toBe(false);
    // The next tick takes it as it is now and names every signal it gathered.
    expect((await fireDueTriggers(t.db, at)).fired).toBeGreaterThanOrEqual(1);
    const fired = await t.db.ledgerEntry.findMany({ where: { tenantId: b.id, accountId: account, type: "TRIGGER_FIRED" } });
    const bySignal = fired
      .map((e) => JSON.parse(e.payload) as { trigger_type: string; signal_ids: string[] })
      .filter((p) => p.trigger_type === "SIGNAL_ARRIVED");
    expect(bySignal.map((p) => p.signal_ids)).toEqual([ids]);
    const run = await t.db.decisionRun.findFirstOrThrow({ where: { tenantId: b.id, accountId: account, triggerType: "SIGNAL_ARRIVED" } });
    expect(JSON.parse(run.signalIds)).toEqual(ids);
    expect(await t.db.triggerWindow.count({ where: { tenantId: b.id, accountId: account } })).toBe(0);
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: true });
  });
});

/** A model that answers every call with this text, costing 300 + 20 tokens. */
function scriptedModel(text: string) {
  return new MockLanguageModelV3({
    doGenerate: async () => ({
      content: [{ type: "text", text }],
      finishReason: { unified: "stop", raw: "stop" },
      usage: {
        inputTokens: { total: 300, noCache: 300, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: 20, text: 20, reasoning: undefined },
      },
      warnings: [],
    }),
  });
}
