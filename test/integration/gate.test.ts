import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "@/server/api/root";
import { putMode } from "@/server/services/autonomyConfig";
import { explain } from "@/server/services/explanation";
import { verifyLedger } from "@/server/services/ledger";
import { rejectIntent } from "@/server/services/reviews";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { approveAndRun, autonomous, clock, deps, intent, putKillSwitch, submitIntent } from "../helpers/gate";

let t: TestDb;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

const acct = (tenant: TestTenant, i = 0) => tenant.accounts.seller[i] as string;

describe(`auto-execute gate on ${TEST_PROVIDER}`, () => {
  it("budget 3: three auto-executions (POLICY, auto_executed), the fourth waits with BUDGET_EXHAUSTED and consumes nothing", async () => {
    const account = acct(a, 0);
    await autonomous(t.db, a.admin.viewer, "CREATE_INTERNAL_TASK", { accountId: account, maxPerDay: 3 });
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await submitIntent(deps(t.db), a.admin.viewer, intent(account, { parameters: { title: `task ${i}` } })));
    for (const r of results.slice(0, 3)) {
      expect(r).toMatchObject({ decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED", status: "SUCCEEDED" });
      const e = await t.db.execution.findUniqueOrThrow({ where: { id: r.executionId as string } });
      expect(e).toMatchObject({ approvalSource: "POLICY", autoExecuted: true, status: "SUCCEEDED" });
    }
    expect(results[3]).toMatchObject({
      decision: "REQUIRE_APPROVAL",
      reason: "BUDGET_EXHAUSTED",
      status: "PENDING_APPROVAL",
      executionId: null,
    });
    const usage = await t.db.budgetUsage.findFirstOrThrow({ where: { tenantId: a.id, accountId: account, actionType: "" } });
    expect(usage.consumed).toBe(3);
    expect(await t.db.internalArtifact.count({ where: { accountId: account, kind: "TASK" } })).toBe(3);
    const budget = await createCaller({ db: t.db, clock, session: a.seller.session }).autonomy.budget({ accountId: account });
    expect(budget).toMatchObject({ consumedToday: 3, remainingToday: 0, dateKey: "2026-03-02" });
  });

  it("SEND_EMAIL never auto-executes: it cannot be allowlisted, and AUTO_EXECUTE mode still asks a human", async () => {
    await expect(
      createCaller({ db: t.db, clock, session: a.admin.session }).autonomy.setAllowlist({ actionTypes: ["SEND_EMAIL"] }),
    ).rejects.toMatchObject({
      code: "UNPROCESSABLE_CONTENT",
    });
    await putMode(t.db, a.admin.viewer, { actionType: "SEND_EMAIL", mode: "AUTO_EXECUTE" }, clock);
    const r = await submitIntent(
      deps(t.db),
      a.admin.viewer,
      intent(acct(a, 1), { actionType: "SEND_EMAIL", riskLevel: "LOW", confidence: 1 }),
    );
    expect(r).toMatchObject({ decision: "REQUIRE_APPROVAL", status: "PENDING_APPROVAL", executionId: null });
    expect(["ACTION_TYPE_NOT_ALLOWLISTED", "EXTERNAL_CONTACT"]).toContain(r.reason);
  });

  it("no configuration → REQUIRE_APPROVAL; unknown action type → BLOCK, recorded", async () => {
    const fresh = await submitIntent(deps(t.db), b.admin.viewer, intent(acct(b)));
    expect(fresh).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "ACTION_TYPE_NOT_ALLOWLISTED", status: "PENDING_APPROVAL" });
    const unknown = await submitIntent(deps(t.db), b.admin.viewer, intent(acct(b), { actionType: "LAUNCH_ROCKETS" }));
    expect(unknown).toMatchObject({ decision: "BLOCK", reason: "UNKNOWN_ACTION_TYPE", status: "BLOCKED", executionId: null });
    expect(await t.db.policyEvaluation.count({ where: { intentId: unknown.actionIntentId } })).toBe(1);
  });

  it.each([
    ["TENANT", undefined],
    ["ACTION_TYPE", "CREATE_INTERNAL_NOTE"],
    ["CONNECTOR", "internal"],
  ] as const)("a %s kill switch → KILL_SWITCH_ACTIVE and nothing starts", async (scope, key) => {
    const account = acct(a, 2);
    await autonomous(t.db, a.admin.viewer, "CREATE_INTERNAL_NOTE", { accountId: account, maxPerDay: 50 });
    await putKillSwitch(t.db, a.admin.viewer, { scope, key, enabled: true, reason: "incident 42" }, clock);
    const before = await t.db.execution.count();
    const r = await submitIntent(deps(t.db), a.admin.viewer, intent(account, { actionType: "CREATE_INTERNAL_NOTE" }));
    expect(r).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "KILL_SWITCH_ACTIVE", executionId: null });
    expect(await t.db.execution.count()).toBe(before);
    await putKillSwitch(t.db, a.admin.viewer, { scope, key, enabled: false, reason: "resolved" }, clock);
    const after = await submitIntent(deps(t.db), a.admin.viewer, intent(account, { actionType: "CREATE_INTERNAL_NOTE" }));
    expect(after.status).toBe("SUCCEEDED");
  });

  it("GLOBAL is operator-only, and when an operator turns it on every tenant stops", async () => {
    await expect(putKillSwitch(t.db, a.admin.viewer, { scope: "GLOBAL", enabled: true, reason: "x y z" }, clock)).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const { putKillSwitch: put } = await import("@/server/services/autonomyConfig");
    await put(t.db, a.admin.viewer, { scope: "GLOBAL", enabled: true, reason: "platform incident" }, clock, { operator: true });
    const r = await submitIntent(deps(t.db), a.admin.viewer, intent(acct(a, 2), { actionType: "CREATE_INTERNAL_NOTE" }));
    expect(r.reason).toBe("KILL_SWITCH_ACTIVE");
    expect(await t.db.ledgerEntry.count({ where: { tenantId: b.id, type: "KILL_SWITCH_CHANGED" } })).toBe(1);
    await put(t.db, a.admin.viewer, { scope: "GLOBAL", enabled: false, reason: "over" }, clock, { operator: true });
  });
});

describe(`gate concurrency on ${TEST_PROVIDER}`, () => {
  it("200 concurrent intents on one account with budget 5 → exactly 5 executions", async () => {
    const account = acct(a, 1);
    await autonomous(t.db, a.admin.viewer, "FLAG_FOR_REVIEW", { accountId: account, maxPerDay: 5 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        submitIntent(deps(t.db), a.admin.viewer, intent(account, { actionType: "FLAG_FOR_REVIEW", parameters: { n: i } })),
      ),
    );
    expect(results.filter((r) => r.status === "SUCCEEDED")).toHaveLength(5);
    expect(results.filter((r) => r.reason === "BUDGET_EXHAUSTED")).toHaveLength(195);
    const ids = results.map((r) => r.actionIntentId);
    expect(await t.db.execution.count({ where: { intentId: { in: ids } } })).toBe(5);
    expect((await t.db.budgetUsage.findFirstOrThrow({ where: { tenantId: a.id, accountId: account, actionType: "" } })).consumed).toBe(5);
  });

  it("20 concurrent repeats of one idempotency key → one intent, one execution, the budget consumed once", async () => {
    const account = acct(a, 0);
    await autonomous(t.db, a.admin.viewer, "GENERATE_MEETING_BRIEF", { accountId: account, maxPerDay: 100 });
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        submitIntent(
          deps(t.db),
          a.admin.viewer,
          intent(account, { actionType: "GENERATE_MEETING_BRIEF", idempotencyKey: "brief-2026-03-02" }),
        ),
      ),
    );
    expect(new Set(results.map((r) => r.actionIntentId)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await t.db.actionIntent.count({ where: { tenantId: a.id, idempotencyKey: "brief-2026-03-02" } })).toBe(1);
    // Reserve first: the losers' transactions rolled back with any unit they took.
    expect(await t.db.execution.count({ where: { intentId: results[0]?.actionIntentId } })).toBe(1);
    expect(
      await t.db.ledgerEntry.count({
        where: { tenantId: a.id, type: "BUDGET_CONSUMED", payload: { contains: results[0]?.actionIntentId } },
      }),
    ).toBe(1);
  });
});

describe(`human path on ${TEST_PROVIDER}`, () => {
  async function pending(tenant: TestTenant, i = 0, patch = {}) {
    const r = await submitIntent(
      deps(t.db),
      tenant.admin.viewer,
      intent(acct(tenant, i), { actionType: "DRAFT_EMAIL", parameters: { to: "cfo@x.example", subject: "Renewal", body: "Hi" }, ...patch }),
    );
    expect(r.status).toBe("PENDING_APPROVAL");
    return r.actionIntentId;
  }

  it("approve runs it once with approval_source HUMAN; a duplicate approval is a CONFLICT and starts nothing", async () => {
    const id = await pending(a);
    const outs = await Promise.allSettled([
      approveAndRun(deps(t.db), a.seller.viewer, id, {}),
      approveAndRun(deps(t.db), a.seller.viewer, id, {}),
    ]);
    expect(await t.db.execution.count({ where: { intentId: id } })).toBe(1);
    const exec = await t.db.execution.findFirstOrThrow({ where: { intentId: id } });
    const won = outs.filter((o) => o.status === "fulfilled");
    expect(won).toHaveLength(1);
    expect(won[0]?.status === "fulfilled" && won[0].value.executionId).toBe(exec.id);
    expect(outs.find((o) => o.status === "rejected")).toMatchObject({ reason: { code: "CONFLICT" } });
    await expect(approveAndRun(deps(t.db), a.seller.viewer, id, {})).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await t.db.execution.findFirstOrThrow({ where: { intentId: id } })).toMatchObject({
      approvalSource: "HUMAN",
      autoExecuted: false,
      status: "SUCCEEDED",
    });
  });

  it("edit-then-approve makes a new version, keeps the diff, and executes the edited parameters", async () => {
    const id = await pending(a);
    const v = await approveAndRun(deps(t.db), a.seller.viewer, id, { editedParameters: { subject: "Renewal — updated terms" } });
    expect(v.edited).toBe(true);
    expect(v.actionIntentId).not.toBe(id);
    const old = await t.db.actionIntent.findUniqueOrThrow({ where: { id } });
    const next = await t.db.actionIntent.findUniqueOrThrow({ where: { id: v.actionIntentId } });
    expect(old.status).toBe("SUPERSEDED");
    expect(next).toMatchObject({ parentId: id, version: 2, status: "SUCCEEDED", correlationId: old.correlationId });
    const review = await t.db.intentReview.findFirstOrThrow({ where: { intentId: id } });
    expect(JSON.parse(review.diff ?? "{}")).toEqual({ subject: { before: "Renewal", after: "Renewal — updated terms" } });
    const artifact = await t.db.internalArtifact.findFirstOrThrow({ where: { executionId: v.executionId as string } });
    expect(artifact.title).toContain("updated terms");
    const exp = await explain(t.db, a.seller.viewer, { actionIntentId: v.actionIntentId });
    expect(exp.why.humanReviews[0]?.diff).toEqual({ subject: { before: "Renewal", after: "Renewal — updated terms" } });
  });

  it("reject keeps the reason and labels the outcome IDEA_REJECTED; approving afterwards is a CONFLICT", async () => {
    const id = await pending(a);
    const v = await rejectIntent(deps(t.db), a.seller.viewer, id, { reason: "Customer is mid-escalation" });
    expect(v.status).toBe("REJECTED");
    expect(await t.db.outcome.findFirstOrThrow({ where: { intentId: id } })).toMatchObject({ label: "IDEA_REJECTED" });
    await expect(approveAndRun(deps(t.db), a.seller.viewer, id, {})).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(rejectIntent(deps(t.db), a.seller.viewer, id, { reason: "again" })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await t.db.intentReview.count({ where: { intentId: id } })).toBe(1);
  });

  it("tRPC: batch review, role and cross-tenant checks", async () => {
    const ids = [await pending(a), await pending(a)];
    const seller = createCaller({ db: t.db, clock, session: a.seller.session });
    const res = await seller.work.reviewMany({ kind: "reject", ids, reason: "not now" });
    expect(res.every((r) => r.ok && r.status === "REJECTED")).toBe(true);

    const other = await pending(a, 0);
    await expect(createCaller({ db: t.db, clock, session: a.auditor.session }).work.approve({ id: other })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(createCaller({ db: t.db, clock, session: a.seller2.session }).work.approve({ id: other })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    const foreign = createCaller({ db: t.db, clock, session: b.admin.session });
    // Thunks, so each call starts only when awaited (no stray unhandled rejections).
    for (const call of [
      () => foreign.work.approve({ id: other }),
      () => foreign.work.reject({ id: other, reason: "x" }),
      () => foreign.work.intent({ id: other }),
      () => foreign.work.explanation({ actionIntentId: other }),
      () => foreign.work.artifacts({ accountId: acct(a) }),
      () => foreign.autonomy.budget({ accountId: acct(a) }),
      () => foreign.autonomy.setMode({ accountId: acct(a), mode: "AUTO_EXECUTE" }),
      () => foreign.autonomy.modes({ accountId: acct(a) }),
      () => foreign.autonomy.allowlist({ accountId: acct(a) }),
      () => foreign.autonomy.setAllowlist({ accountId: acct(a), actionTypes: ["FLAG_FOR_REVIEW"] }),
      () => foreign.autonomy.setBudget({ accountId: acct(a), maxPerDay: 99 }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: "NOT_FOUND" });
    }
    // A seller reads budgets only for accounts they own; another seller's account is NOT_FOUND.
    await expect(
      createCaller({ db: t.db, clock, session: a.seller2.session }).autonomy.budget({ accountId: acct(a) }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await seller.autonomy.budget({ accountId: acct(a) })).toMatchObject({ accountId: acct(a) });
    // Tenant-wide views never include another tenant's rows.
    const theirs = [...(await foreign.work.timeline({ limit: 100 })).items, ...(await foreign.work.inbox({ limit: 100 })).items];
    expect(theirs.every((i) => b.accounts.seller.concat(b.accounts.seller2, b.accounts.admin).includes(i.accountId))).toBe(true);
    expect((await foreign.autonomy.killSwitches()).every((k) => k.scope !== "TENANT" || k.reason !== "incident 42")).toBe(true);
    const inbox = await seller.work.inbox({ limit: 100 });
    expect(inbox.items.some((i) => i.id === other)).toBe(true);
    expect(inbox.items.every((i) => a.accounts.seller.includes(i.accountId))).toBe(true);
    expect(
      (await createCaller({ db: t.db, clock, session: b.admin.session }).work.inbox({ limit: 100 })).items.some((i) => i.id === other),
    ).toBe(false);
  });
});

describe(`configuration on ${TEST_PROVIDER}`, () => {
  it("mode changes apply to the next evaluation, are ledgered with before/after, and a stale if_match is a CONFLICT", async () => {
    const admin = createCaller({ db: t.db, clock, session: b.admin.session });
    const row = await admin.autonomy.setMode({ mode: "PROPOSE_ONLY", reason: "pilot week" });
    const r1 = await submitIntent(deps(t.db), b.admin.viewer, intent(acct(b, 1)));
    clock.advance(1000);
    await admin.autonomy.setMode({ mode: "DISABLED", ifMatch: row?.updatedAt });
    await expect(admin.autonomy.setMode({ mode: "AUTO_EXECUTE", ifMatch: row?.updatedAt })).rejects.toMatchObject({ code: "CONFLICT" });
    await admin.autonomy.setAllowlist({ actionTypes: ["CREATE_INTERNAL_TASK"] });
    const r2 = await submitIntent(deps(t.db), b.admin.viewer, intent(acct(b, 1)));
    expect(r2).toMatchObject({ decision: "BLOCK", reason: "ACTION_TYPE_DISABLED" });
    expect(r1.reason).toBe("ACTION_TYPE_NOT_ALLOWLISTED");
    const changes = await t.db.ledgerEntry.findMany({ where: { tenantId: b.id, type: "CONFIG_CHANGED" }, orderBy: { seq: "asc" } });
    const modeChanges = changes.map((c) => JSON.parse(c.payload)).filter((p) => p.change === "autonomy_mode");
    expect(modeChanges.slice(-2).map((p) => [p.before, p.after, p.reason])).toEqual([
      [null, "PROPOSE_ONLY", "pilot week"],
      ["PROPOSE_ONLY", "DISABLED", null],
    ]);
    // History is never rewritten: r1's stored decision still says what was true then.
    expect((await t.db.actionIntent.findUniqueOrThrow({ where: { id: r1.actionIntentId } })).reason).toBe("ACTION_TYPE_NOT_ALLOWLISTED");
  });

  it("the explanation answers why, what it knew and which policy for an auto-executed action", async () => {
    const exec = await t.db.execution.findFirstOrThrow({ where: { tenantId: a.id, autoExecuted: true } });
    const e = await explain(t.db, a.admin.viewer, { executionId: exec.id });
    expect(e).toMatchObject({ executionId: exec.id, approvalSource: "POLICY", autoExecuted: true });
    expect(e.why).toMatchObject({ policyDecision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED" });
    expect(e.whichPolicy.policyClause).toBe("P13.auto-execute");
    expect(e.whichPolicy.mode).toBe("AUTO_EXECUTE");
    expect(e.whatItKnew.intent.actionType).toBeDefined();
    expect(e.whichPolicy.references.ledger.map((l) => l.type)).toEqual(
      expect.arrayContaining([
        "INTENT_PROPOSED",
        "POLICY_EVALUATED",
        "BUDGET_CONSUMED",
        "EXECUTION_STARTED",
        "EXECUTION_SUCCEEDED",
        "OUTCOME_RECORDED",
      ]),
    );
  });

  it("every tenant's ledger still verifies after all of it", async () => {
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: true });
  });
});
