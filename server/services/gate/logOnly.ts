import type { Tx } from "../../db";
import type { ModeSource } from "../../engine/autonomy";
import type { BudgetSettings } from "../../engine/budget";
import type { PolicyInput, PolicyResult } from "../../engine/policy";
import { readStoredChanges, type StoredEvaluation, WhatIfReplay } from "../../engine/whatIf";
import type { BudgetOutcome, GroupBudget } from "./budget";
import { alwaysOnMissingNow } from "./evaluate";

/**
 * Log-only mode (SPEC §4.8): while a tenant has proposals in LOG_ONLY, each admission also asks
 * the what-if replay what the proposal would have decided on this very input, and records both
 * answers. Inside the admission transaction, after the active decision is final: nothing here
 * feeds back into it. With no active proposal this costs nothing (the list comes from the
 * gate's cached configuration). Returns the rows; the intake inserts a group's rows together.
 */
export async function logOnlyRows(
  tx: Tx,
  counters: GroupBudget,
  tenantId: string,
  ev: {
    intentId: string;
    accountId: string;
    actionType: string;
    source: string;
    ownerId: string | null;
    input: PolicyInput;
    modeSource: ModeSource;
    result: PolicyResult;
    budget: BudgetOutcome | null;
    alwaysOnMissing: readonly string[] | null;
    allowlist: readonly { accountKey: string; actionType: string }[];
    settings: BudgetSettings;
    proposals: readonly { id: string; changes: string }[];
  },
  now: Date,
) {
  if (ev.proposals.length === 0) return [];
  const dateKey = ev.budget?.dateKey ?? now.toISOString().slice(0, 10);
  // A decision run's proposal the active policy did not allow never asked always-on; a proposal
  // that would allow it must, exactly as the gate would.
  const alwaysOnMissing =
    ev.source === "DECISION" && ev.alwaysOnMissing === null
      ? await alwaysOnMissingNow(tx, tenantId, ev.accountId, ev.ownerId)
      : ev.alwaysOnMissing;
  // Without a budget outcome the replay needs today's counter to know whether a unit is left.
  const levels = new Map<string, number>();
  if (!ev.budget) {
    levels.set(`${ev.accountId}|${dateKey}`, await counters.level({ accountId: ev.accountId, dateKey, actionType: "" }));
  }
  const stored: StoredEvaluation = {
    intentId: ev.intentId,
    accountId: ev.accountId,
    actionType: ev.actionType,
    at: now,
    decision: ev.result.decision,
    reason: ev.result.reason,
    input: ev.input,
    modeSource: ev.modeSource,
    budget: ev.budget?.ok
      ? { ok: true, cap: ev.budget.cap, consumed: ev.budget.consumed, dateKey }
      : ev.budget
        ? { ok: false, scope: ev.budget.scope, cap: ev.budget.cap, dateKey }
        : null,
    alwaysOnMissing,
  };
  const ctx = { allowlist: ev.allowlist, budgetCaps: new Map([[ev.accountId, ev.settings.maxPerDay]]) };
  const rows = [];
  for (const p of ev.proposals) {
    const changes = readStoredChanges(p.changes);
    if (!changes) continue;
    const proposed = new WhatIfReplay(changes, ctx, levels).decide(stored);
    rows.push({
      tenantId,
      proposalId: p.id,
      intentId: ev.intentId,
      actionType: ev.actionType,
      decision: ev.result.decision,
      reason: ev.result.reason,
      proposedDecision: proposed.decision,
      proposedReason: proposed.reason,
    });
  }
  return rows;
}
