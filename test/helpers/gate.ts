import { randomUUID } from "node:crypto";
import { type Clock, fixedClock, systemClock } from "@/server/clock";
import type { Db } from "@/server/db";
import { queueHandlers } from "@/server/jobs/registry";
import type { Viewer } from "@/server/repos/scope";
import { setAccountAlwaysOn, setTenantAlwaysOn } from "@/server/services/alwaysOn";
import { putAllowlist, putBudget, putKillSwitch, putMode } from "@/server/services/autonomyConfig";
import { requestRun } from "@/server/services/decisions";
import { saveDigestSettings } from "@/server/services/digest/settings";
import { EXECUTE_APPROVED } from "@/server/services/executor";
import { type GateDeps, type IntentInput, intentView, submitIntent } from "@/server/services/gate";
import { type JobHandler, runWorkerTick } from "@/server/services/jobQueue";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { approveIntent } from "@/server/services/reviews";

export const clock = fixedClock("2026-03-02T10:00:00Z");

export function deps(db: Db, extra: Partial<GateDeps["connectors"]> = {}): GateDeps {
  return { db, clock, connectors: { smtp: null, ...extra } };
}

/** Make an action type fully autonomous for a tenant: allowlisted, AUTO_EXECUTE, with a budget. */
export async function autonomous(
  db: Db,
  admin: Viewer,
  actionType: string,
  opts: { accountId?: string; maxPerDay: number; perTypeCaps?: Record<string, number> },
) {
  const existing = (await db.allowlistEntry.findMany({ where: { tenantId: admin.tenantId, accountKey: "" } })).map((r) => r.actionType);
  await putAllowlist(db, admin, { actionTypes: [...existing, actionType] }, clock);
  await putMode(db, admin, { actionType, mode: "AUTO_EXECUTE" }, clock);
  await putBudget(db, admin, { accountId: opts.accountId, maxPerDay: opts.maxPerDay, perTypeCaps: opts.perTypeCaps }, clock);
}

/**
 * Switch always-on autonomy on for these accounts (SPEC §4.6) the way people do, through the
 * service: the workspace's opt-in, a daily digest for each account's owner, each account's
 * opt-in. Only then does a decision run's proposal that policy allows execute on its own.
 */
export async function alwaysOn(db: Db, admin: Viewer, accountIds: string[], at: Clock = systemClock) {
  await setTenantAlwaysOn(db, admin, true, at);
  for (const id of accountIds) {
    const { ownerId } = await db.account.findUniqueOrThrow({ where: { id }, select: { ownerId: true } });
    if (ownerId)
      await saveDigestSettings(db, admin, ownerId, { enabled: true, email: "owner@example.test", hour_local: 8, timezone: "UTC" }, at);
    await setAccountAlwaysOn(db, admin, id, true, at);
  }
}

export function intent(accountId: string, patch: Partial<IntentInput> = {}): IntentInput {
  return {
    accountId,
    actionType: "CREATE_INTERNAL_TASK",
    confidence: 0.9,
    riskLevel: "LOW",
    why: ["RENEWAL_WINDOW_ENTERED"],
    parameters: { title: "Prepare renewal plan" },
    target: {},
    blockingUnknowns: [],
    source: "API",
    ...patch,
  };
}

export { putKillSwitch, submitIntent };

/**
 * Queue a weekly-review decision run the way `POST /api/v1/decisions/run` does, then let the production worker
 * (the registered queue handlers, rules synthesizer) drain the queue. Returns the run's id.
 */
export async function runDecisionNow(db: Db, admin: Viewer, accountId: string) {
  const { runId } = await requestRun(
    db,
    admin,
    { accountId, triggerType: "TIME_RITUAL_WEEKLY_REVIEW", idempotencyKey: randomUUID() },
    systemClock,
  );
  await drainQueue(db);
  return runId;
}

/** One tick of the production queue worker over everything due. */
export function drainQueue(db: Db) {
  return runWorkerTick(
    db,
    queueHandlers({ db, clock: systemClock, synthesizer: rulesSynthesizer, connectors: { smtp: null }, workerId: "w" }),
    { owner: "w", leaseSeconds: 60, maxJobs: 50, clock: systemClock },
  );
}

/**
 * Run the human-approved executions that are due the production way: the registered queue handler
 * (EXECUTE_APPROVED) under a worker tick, with these deps' clock and connectors. Approval only
 * queues the execution (services/reviews.ts); tests that assert its result drain first.
 */
export function drainApproved(d: GateDeps, workerId = "w") {
  return runWorkerTick(
    d.db,
    { [EXECUTE_APPROVED]: queueHandlers({ ...d, synthesizer: rulesSynthesizer, workerId })[EXECUTE_APPROVED] as JobHandler },
    { owner: workerId, leaseSeconds: 120, maxJobs: 500, clock: d.clock },
  );
}

/** Approve as the inbox does, then let the queue run the execution: the intent as it ends. */
export async function approveAndRun(d: GateDeps, viewer: Viewer, intentId: string, input: Parameters<typeof approveIntent>[3] = {}) {
  const approved = await approveIntent(d, viewer, intentId, input);
  await drainApproved(d);
  return { ...(await intentView(d.db, viewer.tenantId, approved.actionIntentId)), edited: approved.edited };
}
