import type { Clock } from "../clock";
import type { Db } from "../db";
import type { ActionType } from "../engine/actions";
import { canonicalJson } from "../engine/canonical";
import type { Severity, SignalType } from "../engine/signals";
import { listAccounts } from "../repos/accounts";
import { findIntent } from "../repos/intents";
import type { Viewer } from "../repos/scope";
import { pendingIntents } from "../repos/seed";
import { setAccountAlwaysOn, setTenantAlwaysOn } from "./alwaysOn";
import { putAllowlist, putBudget, putMode } from "./autonomyConfig";
import { type DecisionDeps, executeRun, fireDueTriggers, RUN_DECISION } from "./decisions";
import { DEMO_HISTORY_ACTOR, DEMO_HISTORY_LABEL, prng } from "./demoHistory";
import { saveDigestSettings } from "./digest/settings";
import { EXECUTE_APPROVED, handleExecuteApprovedJob } from "./executor";
import type { GateDeps } from "./gate";
import { runWorkerTick } from "./jobQueue";
import { parseFeatures } from "./learning/data";
import { rulesSynthesizer } from "./llmSynthesizer";
import { listTenantMembers } from "./members";
import { approveIntent, rejectIntent } from "./reviews";
import { ingestSignal } from "./signals";

/**
 * Demo autonomy and history. A sensible starting configuration, then the seeded history played
 * through the real services — signal intake → trigger windows → decision runs (cost gate, rules
 * synthesis) → the autonomy gate — with a clock stepping through the past, so every ledger entry
 * has the signal, run, intent and evaluation behind it. The human decisions a team would have
 * made are made by a clearly named simulated actor following a stated pattern (`demoVerdict`),
 * never in a real user's name.
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
  await seedAlwaysOn(db, admin, clock);
}

/**
 * Always-on (SPEC §4.6), set up before the history is replayed so the history obeys it: the
 * workspace opts in (the admin's consent), the seller sets up a daily digest and opts every other
 * one of their accounts in (their consent, checked by the same ownership rule as in the UI). Every
 * other account stays out, so the inbox shows decision-run proposals waiting as NOT_OPTED_IN
 * beside accounts where autopilot acts alone. Like the rest of the seed's configuration, the
 * ledger names the seed as the actor, never a real user.
 */
async function seedAlwaysOn(db: Db, admin: Viewer, clock: Clock) {
  await setTenantAlwaysOn(db, admin, true, clock);
  const seller = (await listTenantMembers(db, admin)).find((m) => m.role === "SELLER" && m.email.startsWith("seller@"));
  if (!seller) return;
  await saveDigestSettings(
    db,
    admin,
    seller.userId,
    { enabled: true, email: seller.email, hour_local: 8, timezone: "Europe/Berlin" },
    clock,
  );
  const asSeller: Viewer = { ...admin, role: "SELLER", userId: seller.userId };
  const { items } = await listAccounts(db, asSeller, {}, { limit: 100 });
  const byName = [...items].sort((x, y) => x.name.localeCompare(y.name));
  for (const [i, account] of byName.entries()) if (i % 2 === 0) await setAccountAlwaysOn(db, asSeller, account.id, true, clock);
}

/**
 * Play `events` (oldest first) through the real pipeline. After each signal the clock moves just
 * past its debounce (or to the next signal, whichever is sooner), due windows fire and the queued
 * decision runs execute — exactly what the scheduler and worker do, only faster. Once a day the
 * simulated reviewer works the inbox (`reviewInbox`), so the history holds the decisions a team
 * would have made, each at the time it was made.
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
  const sessions = reviewSessions(first.at, now);
  const review = (at: Date) => reviewInbox({ db, clock, connectors: { smtp: null } }, tenantId, at, now);
  const source: Viewer = { tenantId, actor: { type: "SYSTEM", id: "demo-source" }, role: null, userId: null };
  for (const [i, e] of events.entries()) {
    while (sessions[0] && sessions[0].getTime() <= e.at.getTime()) await review(sessions.shift() as Date);
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
  for (const at of sessions) await review(at);
}

// ─────────────────────────────── the simulated reviewer ───────────────────────────────

const HOUR = 3_600_000;
/** The reviewer sits down this long before each whole day back from "now"… */
const SESSION_LAG = 2 * HOUR;
/** …and decides what has waited about a day: the last day's proposals stay in the inbox. */
const REVIEW_AFTER = 22 * HOUR;
/** Each session leaves some eligible proposals for another day, as a busy team does. */
const SKIP_SHARE = 0.1;
/** The time one decision takes: the session's decisions follow one another. */
const DECISION_STEP = 30_000;

/** The review sessions in (from, now]: one a day, at the same hour relative to "now". */
function reviewSessions(from: Date, now: Date): Date[] {
  const out: Date[] = [];
  for (let t = now.getTime() - SESSION_LAG; t > from.getTime(); t -= 86_400_000) out.unshift(new Date(t));
  return out;
}

/** Work that pays off whatever the account's state: approved most of the time. */
const ROUTINE: readonly string[] = ["GENERATE_MEETING_BRIEF", "CREATE_INTERNAL_TASK", "REQUEST_RENEWAL_MEETING", "ANALYZE_USAGE_PATTERNS"];
/** Outreach that is cold unless the account is HOT or already a customer. */
const COLD_OUTREACH: readonly string[] = ["SEND_EMAIL", "REQUEST_STAKEHOLDER_INTRO"];

type DemoVerdict = { kind: "APPROVE"; reason: string; edit: Record<string, unknown> | null } | { kind: "REJECT"; reason: string };

/**
 * The simulated reviewer's stated pattern, read from what every proposal carries (its action type,
 * and the heat tier and lifecycle of its account when proposed), so a ranker can learn it:
 *   - meeting briefs, internal tasks, renewal meetings and usage analyses: approved 85 % of the time;
 *   - SEND_EMAIL and stakeholder intros to an account that was neither HOT nor a customer (cold
 *     outreach): rejected 85 % of the time; to a HOT account or a customer: approved 75 %;
 *   - anything else: approved 60 %.
 * Six in ten approved emails are edited first (a shorter close), so the diff is on record.
 * `r` is the seed's PRNG, drawn in a fixed order: the same proposal gets the same verdict.
 * (The replay computes heat once, at "now", so every replayed proposal was made on a COLD
 * account: in the history, what separates cold outreach from warm is the customer lifecycle.)
 */
function demoVerdict(
  p: { actionType: string; tier: string | null; lifecycle: string | null; parameters: Record<string, unknown> },
  r: ReturnType<typeof prng>,
): DemoVerdict {
  const draw = r.next();
  const editDraw = r.next();
  const approve = (reason: string): DemoVerdict => {
    const body = p.parameters.body;
    if (p.actionType === "SEND_EMAIL" && typeof body === "string" && editDraw < 0.6) {
      return {
        kind: "APPROVE",
        reason: "Simulated demo review: shortened the email to one clear ask before sending",
        edit: { body: `${body.split(/(?<=[.?!])\s/)[0] ?? body} Would 15 minutes on Thursday work?` },
      };
    }
    return { kind: "APPROVE", reason, edit: null };
  };
  if (ROUTINE.includes(p.actionType)) {
    return draw < 0.85
      ? approve("Simulated demo review: useful groundwork, approved")
      : { kind: "REJECT", reason: "Simulated demo review: already covered this week" };
  }
  if (COLD_OUTREACH.includes(p.actionType)) {
    if (p.tier !== "HOT" && p.lifecycle !== "CUSTOMER") {
      return draw < 0.85
        ? { kind: "REJECT", reason: "Simulated demo review: no cold outreach to an account that is neither HOT nor a customer" }
        : approve("Simulated demo review: worth a try despite a cold account");
    }
    return draw < 0.75
      ? approve("Simulated demo review: a warm contact, good timing")
      : { kind: "REJECT", reason: "Simulated demo review: not the right moment for this contact" };
  }
  return draw < 0.6
    ? approve("Simulated demo review: worth doing")
    : { kind: "REJECT", reason: "Simulated demo review: not a priority this week" };
}

/** A 32-bit FNV-1a hash: the PRNG seed of a string. */
function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * What identifies a proposal across fresh seeds: ids differ from one database to the next and the
 * whole history moves with "now", so the draws are keyed on how long before "now" it was made,
 * its type and its parameters without ids.
 */
function proposalKey(i: { createdAt: Date; actionType: string; parameters: Record<string, unknown> }, now: Date) {
  const stable = Object.fromEntries(Object.entries(i.parameters).filter(([k]) => !k.endsWith("_id")));
  return `${now.getTime() - i.createdAt.getTime()}|${i.actionType}|${canonicalJson(stable)}`;
}

/**
 * One review session at `at`: every proposal that has waited `REVIEW_AFTER` is decided by the
 * simulated demo actor (unless this session leaves it for another day), through the reviews
 * service exactly as a person's decision is — approvals execute, edits supersede, rejections
 * record their outcome. Nothing is written in a real user's name.
 */
async function reviewInbox(gate: GateDeps & { clock: Clock & { to(t: Date): void } }, tenantId: string, at: Date, now: Date) {
  const reviewer: Viewer = { tenantId, actor: DEMO_HISTORY_ACTOR, role: "ADMIN", userId: null };
  gate.clock.to(at);
  for (const p of await pendingIntents(gate.db, tenantId)) {
    const intent = await findIntent(gate.db, tenantId, p.id);
    if (!intent) continue;
    if (at.getTime() - intent.createdAt.getTime() < REVIEW_AFTER) break;
    const parameters = JSON.parse(intent.parameters) as Record<string, unknown>;
    const key = proposalKey({ createdAt: intent.createdAt, actionType: intent.actionType, parameters }, now);
    if (prng(seedOf(`${key}@${now.getTime() - at.getTime()}`)).next() < SKIP_SHARE) continue;
    const features = parseFeatures(intent.features);
    const v = demoVerdict(
      { actionType: intent.actionType, tier: features?.tier ?? null, lifecycle: features?.lifecycle ?? null, parameters },
      prng(seedOf(key)),
    );
    gate.clock.to(new Date(Math.min(gate.clock.now().getTime() + DECISION_STEP, now.getTime())));
    if (v.kind === "APPROVE") {
      await approveIntent(gate, reviewer, intent.id, {
        reason: v.reason,
        ...(v.edit ? { editedParameters: v.edit } : {}),
        actorLabel: DEMO_HISTORY_LABEL,
      });
      // The approval queued its execution; the history's worker runs it at the history's time.
      await runWorkerTick(
        gate.db,
        { [EXECUTE_APPROVED]: (payload, ctx) => handleExecuteApprovedJob(gate, payload, ctx) },
        { owner: "demo-history", leaseSeconds: 120, maxJobs: 10, clock: gate.clock },
      );
    } else {
      await rejectIntent(gate, reviewer, intent.id, { reason: v.reason, actorLabel: DEMO_HISTORY_LABEL });
    }
  }
}
