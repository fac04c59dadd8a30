import type { Clock } from "../clock";
import type { Db } from "../db";
import type { ActionType } from "../engine/actions";
import type { Severity, SignalType } from "../engine/signals";
import type { Viewer } from "../repos/scope";
import { pendingIntents } from "../repos/seed";
import { putAllowlist, putBudget, putMode } from "./autonomyConfig";
import { type DecisionDeps, executeRun, fireDueTriggers, RUN_DECISION } from "./decisions";
import { DEMO_HISTORY_ACTOR } from "./demoHistory";
import { runWorkerTick } from "./jobQueue";
import { rulesSynthesizer } from "./llmSynthesizer";
import { approveIntent, rejectIntent } from "./reviews";
import { ingestSignal } from "./signals";

/**
 * Demo autonomy and history. A sensible starting configuration, then the seeded history played
 * through the real services — signal intake → trigger windows → decision runs (cost gate, rules
 * synthesis) → the autonomy gate — with a clock stepping through the past, so every ledger entry
 * has the signal, run, intent and evaluation behind it. The few human decisions a first look
 * needs are made by a clearly named simulated actor, never in a real user's name.
 */

export const DEMO_ALLOWLIST: ActionType[] = [
  "FETCH_ACCOUNT_NEWS",
  "ANALYZE_USAGE_PATTERNS",
  "CREATE_INTERNAL_NOTE",
  "CREATE_INTERNAL_TASK",
  "FLAG_FOR_REVIEW",
  "GENERATE_MEETING_BRIEF",
  "DRAFT_EMAIL",
];
const DEMO_AUTONOMOUS: ActionType[] = [
  "FETCH_ACCOUNT_NEWS",
  "ANALYZE_USAGE_PATTERNS",
  "CREATE_INTERNAL_NOTE",
  "CREATE_INTERNAL_TASK",
  "FLAG_FOR_REVIEW",
  "GENERATE_MEETING_BRIEF",
];

export interface HistoryEvent {
  at: Date;
  accountId: string;
  type: SignalType;
  severity: Severity;
  evidence: Record<string, unknown>;
}

/** A clock the seed moves forward by hand; it never goes back, so the ledger stays in time order. */
function steppingClock(start: Date): Clock & { to(t: Date): void } {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    to(t: Date) {
      current = Math.max(current, t.getTime());
    },
  };
}

export async function seedAutonomy(db: Db, tenantId: string, at: Date) {
  const clock = steppingClock(at);
  const admin: Viewer = { tenantId, actor: { type: "SYSTEM", id: "seed" }, role: "ADMIN", userId: null };
  await putAllowlist(db, admin, { actionTypes: DEMO_ALLOWLIST }, clock);
  await putMode(db, admin, { mode: "APPROVAL_REQUIRED" }, clock);
  for (const t of DEMO_AUTONOMOUS) await putMode(db, admin, { actionType: t, mode: "AUTO_EXECUTE" }, clock);
  await putBudget(db, admin, { maxPerDay: 3 }, clock);
}

/**
 * Play `events` (oldest first) through the real pipeline. After each signal the clock moves just
 * past its debounce (or to the next signal, whichever is sooner), due windows fire and the queued
 * decision runs execute — exactly what the scheduler and worker do, only faster.
 */
export async function replayHistory(db: Db, tenantId: string, events: HistoryEvent[], now: Date) {
  const first = events[0];
  if (!first) return;
  const clock = steppingClock(first.at);
  const deps: DecisionDeps = { db, clock, synthesizer: rulesSynthesizer, connectors: { smtp: null } };
  const settle = async (t: Date) => {
    clock.to(new Date(Math.min(t.getTime(), now.getTime())));
    await fireDueTriggers(db, clock);
    await runWorkerTick(
      db,
      { [RUN_DECISION]: (payload, ctx) => executeRun(deps, ctx.job.tenantId, (payload as { runId: string }).runId) },
      { owner: "demo-history", leaseSeconds: 120, maxJobs: 500, clock },
    );
  };
  const source: Viewer = { tenantId, actor: { type: "SYSTEM", id: "demo-source" }, role: null, userId: null };
  for (const [i, e] of events.entries()) {
    clock.to(e.at);
    await ingestSignal(
      db,
      source,
      {
        accountId: e.accountId,
        signalType: e.type,
        severity: e.severity,
        evidence: { ...e.evidence, source: "demo" },
        dedupeKey: `demo-history:${i}`,
        occurredAt: e.at,
        source: "demo-source",
      },
      clock,
    );
    const next = events[i + 1]?.at.getTime() ?? Number.POSITIVE_INFINITY;
    await settle(new Date(Math.min(e.at.getTime() + 61_000, next)));
  }
  // Whatever is still open (a last burst, a deferred retry) settles before "now".
  await settle(new Date(clock.now().getTime() + 10 * 60_000));

  // A little human history so the timeline shows every kind of outcome — decided by the
  // simulated demo actor, through the reviews service like any reviewer.
  const reviewer: Viewer = { tenantId, actor: DEMO_HISTORY_ACTOR, role: "ADMIN", userId: null };
  const gate = { db, clock, connectors: { smtp: null } };
  const pending = await pendingIntents(db, tenantId);
  const toApprove = pending.find((p) => p.actionType === "DRAFT_EMAIL");
  const toReject = pending.find((p) => p.actionType !== "DRAFT_EMAIL");
  if (toApprove) await approveIntent(gate, reviewer, toApprove.id, { reason: "Simulated demo review: good timing" });
  if (toReject) await rejectIntent(gate, reviewer, toReject.id, { reason: "Simulated demo review: no outreach this month" });
}
