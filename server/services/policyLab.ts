import type { Clock } from "../clock";
import type { Db, DbOrTx } from "../db";
import { actionSpec } from "../engine/actions";
import { type DigestFacts, missingForAlwaysOn } from "../engine/alwaysOn";
import { canonicalJson } from "../engine/canonical";
import {
  type ActionTypeCounts,
  type ChangedEvaluation,
  fromBody,
  type PolicyChange,
  readStoredChanges,
  readStoredEvaluation,
  WhatIfReplay,
  widens,
} from "../engine/whatIf";
import { AppError, notFound } from "../errors";
import { readDigestFacts, readOptIns } from "../repos/alwaysOn";
import { type ConfigTx, findBudget, listAllowlist, withConfigWrite } from "../repos/autonomy";
import { appendLedger } from "../repos/ledger";
import {
  changedLogOnly,
  countActiveProposals,
  endProposal,
  evaluationInputs,
  evaluationPage,
  findProposal,
  insertProposal,
  listProposals as listProposalRows,
  logOnlyCounts,
  tenantAccountIds,
  whatIfConfig,
} from "../repos/policyLab";
import type { Viewer } from "../repos/scope";
import {
  MAX_ACTIVE_PROPOSALS,
  type PolicyChangeBody,
  type ProposalStartBody,
  WHAT_IF_MAX_DAYS,
  type WhatIfBody,
} from "../schemas/policyLab";
import { applyAllowlist, applyBudget, applyMode } from "./autonomyConfig";

/**
 * Policy what-if and log-only mode (SPEC §4.8, §5.1 `POST /api/v1/autonomy/what-if`). What-if
 * streams the tenant's stored evaluations of a period through the pure replay (engine/whatIf.ts)
 * and writes nothing. A proposal runs the same replay inside every gate admission until it is
 * enforced (its changes written through the autonomy configuration services) or discarded.
 */

const PAGE = 5000;
/** Changed intents listed in one answer; the counts always cover the whole period. */
const MAX_LISTED = 1000;

const unprocessable = (field: string, message: string) => new AppError("UNPROCESSABLE", message, field);

/** Check a change list against the registry and the tenant; 422 / 404 naming the field. */
async function checkChanges(db: Db, viewer: Viewer, changes: readonly PolicyChangeBody[]): Promise<PolicyChange[]> {
  for (const [i, c] of changes.entries()) {
    const at = `changes.${i}`;
    if (c.mode === undefined && c.allowlist === undefined && c.max_autonomous_per_day === undefined)
      throw unprocessable(at, "A change sets mode, allowlist or max_autonomous_per_day");
    const spec = c.action_type === undefined ? undefined : actionSpec(c.action_type);
    if (c.action_type !== undefined && !spec) throw unprocessable(`${at}.action_type`, `Unknown action type "${c.action_type}"`);
    if (c.allowlist !== undefined && !spec) throw unprocessable(`${at}.allowlist`, "An allowlist change names its action_type");
    if (c.allowlist === true && spec && !spec.mayAutoExecute)
      throw unprocessable(`${at}.allowlist`, `${c.action_type} can never auto-execute, so it cannot be allowlisted`);
    if (c.max_autonomous_per_day !== undefined && c.action_type !== undefined)
      throw unprocessable(`${at}.max_autonomous_per_day`, "The daily budget is per account (or tenant default), not per action type");
  }
  const ids = [...new Set(changes.flatMap((c) => (c.account_id ? [c.account_id] : [])))];
  const known = await tenantAccountIds(db, viewer.tenantId, ids);
  const missing = changes.findIndex((c) => c.account_id !== undefined && !known.has(c.account_id));
  if (missing >= 0) throw new AppError("NOT_FOUND", "Account not found", `changes.${missing}.account_id`);
  return changes.map(fromBody);
}

/**
 * Decision runs' proposals that policy did not allow never ran the always-on rule: its facts as
 * they are now, read once per account and owner.
 */
function alwaysOnNow(db: Db, tenantId: string) {
  let tenant: Promise<boolean> | null = null;
  const accounts = new Map<string, Promise<boolean>>();
  const owners = new Map<string, Promise<DigestFacts | null>>();
  return async (accountId: string, ownerId: string | null) => {
    tenant ??= readOptIns(db, tenantId, null).then((o) => o.tenant);
    let account = accounts.get(accountId);
    if (!account) {
      account = readOptIns(db, tenantId, accountId).then((o) => o.account);
      accounts.set(accountId, account);
    }
    let digest = ownerId ? owners.get(ownerId) : Promise.resolve(null);
    if (!digest && ownerId) {
      digest = readDigestFacts(db, tenantId, ownerId);
      owners.set(ownerId, digest);
    }
    const [tenantOptedIn, accountOptedIn, ownerDigest] = await Promise.all([tenant, account, digest ?? null]);
    return missingForAlwaysOn({ tenantOptedIn, accountOptedIn, ownerDigest });
  };
}

/**
 * `changed`: the intents whose decision would differ (SPEC §5.1); `reasonChanged`: same decision,
 * another reason. Each list holds at most MAX_LISTED (then `truncated`); the counts are complete.
 */
export interface WhatIfResult {
  evaluated: number;
  skipped: number;
  changed: ChangedEvaluation[];
  reasonChanged: ChangedEvaluation[];
  truncated: boolean;
  byActionType: {
    actionType: string;
    evaluated: number;
    changed: number;
    reasonChanged: number;
    /** per decision: how many had it as recorded, and how many would have it */
    decisions: { decision: string; before: number; after: number }[];
    transitions: { before: string; after: string; count: number }[];
  }[];
}

function countsView(by: ReadonlyMap<string, ActionTypeCounts>): WhatIfResult["byActionType"] {
  return [...by]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([actionType, c]) => ({
      actionType,
      evaluated: c.evaluated,
      changed: c.changed,
      reasonChanged: c.reasonChanged,
      decisions: [...new Set([...c.before.keys(), ...c.after.keys()])].sort().map((decision) => ({
        decision,
        before: c.before.get(decision) ?? 0,
        after: c.after.get(decision) ?? 0,
      })),
      transitions: [...c.transitions].map(([pair, count]) => {
        const [before = "", after = ""] = pair.split("→");
        return { before, after, count };
      }),
    }));
}

/** Replay [from, to) with the changes. Reads only. */
export async function runWhatIf(db: Db, viewer: Viewer, body: WhatIfBody): Promise<WhatIfResult> {
  if (!(body.from < body.to)) throw unprocessable("to", "to must be after from");
  if (body.to.getTime() - body.from.getTime() > WHAT_IF_MAX_DAYS * 86_400_000)
    throw unprocessable("to", `A what-if covers at most ${WHAT_IF_MAX_DAYS} days`);
  const changes = await checkChanges(db, viewer, body.changes);
  const cfg = await whatIfConfig(db, viewer.tenantId);
  const replay = new WhatIfReplay(changes, cfg);
  const inputScope = replay.inputScope();
  const alwaysOn = alwaysOnNow(db, viewer.tenantId);
  const changed: ChangedEvaluation[] = [];
  const reasonChanged: ChangedEvaluation[] = [];
  let skipped = 0;
  let truncated = false;
  // Most evaluations no change reaches are counted from their row: a page carries only the inputs
  // the replay may need (the stored snapshot is most of a row's bytes).
  const page = (after: { at: Date; id: string } | null) => {
    const read = evaluationPage(db, viewer.tenantId, body.from, body.to, after, PAGE, inputScope);
    // Awaited on the next turn of the loop; a failure meanwhile must not count as unhandled.
    read.catch(() => undefined);
    return read;
  };
  let next = page(null);
  for (;;) {
    const rows = await next;
    const last = rows.at(-1);
    if (!last) break;
    const more = rows.length === PAGE;
    // The next page is read (on PostgreSQL, by the server) while this one is replayed.
    if (more) next = page({ at: new Date(last.createdAt), id: last.id });
    for (const r of rows) {
      // The row as read: no copy or Date per row on the fast path, where most rows end.
      if (replay.skip(r)) continue;
      // inputScope covers every case skip can refuse; read one that was not foreseen all the same.
      const input = r.input ?? (await evaluationInputs(db, viewer.tenantId, [r.id])).get(r.id) ?? "";
      const ev = readStoredEvaluation({
        intentId: r.intentId,
        decision: r.decision,
        reason: r.reason,
        input,
        createdAt: new Date(r.createdAt),
        source: r.source,
      });
      if (!ev) {
        skipped++;
        continue;
      }
      if (ev.alwaysOnUnknown) ev.alwaysOnMissing = await alwaysOn(ev.accountId, ev.ownerId);
      const row = replay.push(ev);
      if (!row) continue;
      const list = row.decisionChanged ? changed : reasonChanged;
      if (list.length < MAX_LISTED) list.push(row);
      else truncated = true;
    }
    if (!more) break;
  }
  return { evaluated: replay.evaluated, skipped, changed, reasonChanged, truncated, byActionType: countsView(replay.byActionType) };
}

// ───────────────────────────── log-only proposals ─────────────────────────────

function proposalView(p: {
  id: string;
  name: string;
  changes: string;
  status: string;
  createdBy: string | null;
  createdAt: Date;
  endedAt: Date | null;
  endedBy: string | null;
  endReason: string | null;
}) {
  return {
    id: p.id,
    name: p.name,
    status: p.status,
    changes: JSON.parse(p.changes) as PolicyChangeBody[],
    createdBy: p.createdBy,
    createdAt: p.createdAt,
    endedAt: p.endedAt,
    endedBy: p.endedBy,
    endReason: p.endReason,
  };
}

/** Start log-only mode: from the commit on, every gate evaluation of the tenant also records the proposal's answer. */
export async function startProposal(db: Db, viewer: Viewer, body: ProposalStartBody, clock: Clock) {
  await checkChanges(db, viewer, body.changes);
  const changes = canonicalJson(body.changes);
  const row = await withConfigWrite(db, viewer.tenantId, async (tx) => {
    // withConfigWrite holds the tenant's head lock: concurrent starts count one after another.
    if ((await countActiveProposals(tx, viewer.tenantId)) >= MAX_ACTIVE_PROPOSALS)
      throw new AppError(
        "UNPROCESSABLE",
        `At most ${MAX_ACTIVE_PROPOSALS} proposals run in log-only mode at once; enforce or discard one first`,
        "name",
        "TOO_MANY_PROPOSALS",
      );
    const now = clock.now();
    const p = await insertProposal(tx, { tenantId: viewer.tenantId, name: body.name, changes, createdBy: viewer.actor.id }, now);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "POLICY_PROPOSAL_STARTED",
        actor: viewer.actor,
        payload: { proposal_id: p.id, name: p.name, changes: body.changes },
      },
      now,
    );
    return p;
  });
  return proposalView(row);
}

export async function listProposals(db: Db, viewer: Viewer) {
  return { items: (await listProposalRows(db, viewer.tenantId)).map(proposalView) };
}

async function summary(db: DbOrTx, tenantId: string, proposalId: string) {
  const groups = await logOnlyCounts(db, tenantId, proposalId);
  type Counts = {
    actionType: string;
    evaluations: number;
    changed: number;
    reasonChanged: number;
    transitions: { before: string; after: string; count: number }[];
  };
  const by = new Map<string, Counts>();
  const total = { evaluations: 0, changed: 0, reasonChanged: 0 };
  for (const g of groups) {
    const n = g._count._all;
    const t = by.get(g.actionType) ?? { actionType: g.actionType, evaluations: 0, changed: 0, reasonChanged: 0, transitions: [] };
    by.set(g.actionType, t);
    t.evaluations += n;
    total.evaluations += n;
    if (g.decision === g.proposedDecision) {
      if (g.reason !== g.proposedReason) {
        t.reasonChanged += n;
        total.reasonChanged += n;
      }
      continue;
    }
    t.changed += n;
    total.changed += n;
    const pair = t.transitions.find((x) => x.before === g.decision && x.after === g.proposedDecision);
    if (pair) pair.count += n;
    else t.transitions.push({ before: g.decision, after: g.proposedDecision, count: n });
  }
  return { ...total, byActionType: [...by.values()].sort((a, b) => a.actionType.localeCompare(b.actionType)) };
}

/** The proposal, its counts by action type, and a page of the evaluations it would have decided differently. */
export async function proposalReport(db: Db, viewer: Viewer, id: string, page: { limit: number; cursor?: string }) {
  const p = await findProposal(db, viewer.tenantId, id);
  if (!p) throw notFound("Proposal");
  const [counts, list] = await Promise.all([summary(db, viewer.tenantId, id), changedLogOnly(db, viewer.tenantId, id, page)]);
  return {
    proposal: proposalView(p),
    ...counts,
    items: list.items.map((r) => ({
      actionIntentId: r.intentId,
      actionType: r.actionType,
      at: r.createdAt,
      before: { decision: r.decision, reason: r.reason },
      after: { decision: r.proposedDecision, reason: r.proposedReason },
    })),
    nextCursor: list.nextCursor,
  };
}

/**
 * Write a proposal's changes into the real configuration, each through the same function (and
 * ledger entry) the autonomy settings use, in the caller's configuration write.
 */
async function applyChanges(tx: ConfigTx, viewer: Viewer, changes: readonly PolicyChange[], reason: string | undefined, now: Date) {
  const allowlists = new Map<string, Map<string, boolean>>();
  for (const c of changes) {
    const accountKey = c.accountId ?? "";
    if (c.mode !== undefined) await applyMode(tx, viewer, { accountKey, actionType: c.actionType ?? "", mode: c.mode, reason }, now);
    if (c.allowlist !== undefined && c.actionType) {
      const scope = allowlists.get(accountKey) ?? new Map<string, boolean>();
      allowlists.set(accountKey, scope.set(c.actionType, c.allowlist));
    }
    if (c.maxAutonomousPerDay !== undefined) {
      // Only the daily cap is the proposal's; per-type caps and decay stay as they are.
      const current = await findBudget(tx, viewer.tenantId, accountKey);
      const data = {
        maxPerDay: c.maxAutonomousPerDay,
        perTypeCaps: current?.perTypeCaps ?? "{}",
        decayIfUnused: current?.decayIfUnused ?? false,
      };
      await applyBudget(tx, viewer, accountKey, data, { reason }, now);
    }
  }
  for (const [accountKey, edits] of allowlists) {
    const types = new Set((await listAllowlist(tx, viewer.tenantId, accountKey)).map((r) => r.actionType));
    for (const [t, on] of edits) {
      if (on) types.add(t);
      else types.delete(t);
    }
    await applyAllowlist(tx, viewer, accountKey, [...types].sort(), reason, now);
  }
}

/**
 * End a proposal. ENFORCE writes its changes in one configuration write with the end itself, so
 * the next evaluation sees the new policy and no longer the proposal; a change that widens
 * autonomy needs a reason, like every other widening confirmation.
 */
export async function endPolicyProposal(
  db: Db,
  viewer: Viewer,
  id: string,
  outcome: "ENFORCED" | "DISCARDED",
  reason: string | undefined,
  clock: Clock,
) {
  const p = await findProposal(db, viewer.tenantId, id);
  if (!p) throw notFound("Proposal");
  const changes = readStoredChanges(p.changes) ?? [];
  if (outcome === "ENFORCED") {
    if (changes.some(widens) && !reason) throw unprocessable("reason", "This proposal widens autonomy; say why you enforce it");
    await checkChanges(db, viewer, JSON.parse(p.changes) as PolicyChangeBody[]);
  }
  const row = await withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    // Counted under the configuration write's head lock: no admission can add a row after this.
    const counts = await summary(tx, viewer.tenantId, id);
    if (!(await endProposal(tx, viewer.tenantId, id, { status: outcome, endedBy: viewer.actor.id, endReason: reason ?? null }, now)))
      throw new AppError("CONFLICT", "This proposal has already ended", "id");
    if (outcome === "ENFORCED") await applyChanges(tx, viewer, changes, reason, now);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "POLICY_PROPOSAL_ENDED",
        actor: viewer.actor,
        payload: { proposal_id: id, outcome, reason: reason ?? null, evaluations: counts.evaluations, changed: counts.changed },
      },
      now,
    );
    return findProposal(tx, viewer.tenantId, id);
  });
  if (!row) throw notFound("Proposal");
  return proposalView(row);
}
