import type { Clock } from "../clock";
import type { Db, DbOrTx } from "../db";
import { COST_GATE_RESULTS, type CostGateSettings, DEFAULT_COST_GATE_SETTINGS } from "../engine/costGate";
import { DEFAULT_TRIGGER_SETTINGS, type TriggerSettings } from "../engine/triggers";
import { accountNames } from "../repos/accounts";
import { upsertDecisionSettings, withConfigWrite } from "../repos/autonomy";
import { decisionSettingsRow, listRuns, tenantRunState } from "../repos/decisions";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";

export interface DecisionSettings {
  triggers: TriggerSettings;
  costGate: CostGateSettings;
  updatedAt: Date | null;
  /** Set when the stored settings cannot be read; decision runs are then held (fail closed). */
  problem: string | null;
}

type Parsed<T> = { ok: true; value: Partial<T> } | { ok: false };

function parse<T>(text: string | undefined): Parsed<T> {
  if (!text) return { ok: true, value: {} };
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? { ok: true, value: v as Partial<T> } : { ok: false };
  } catch {
    return { ok: false };
  }
}

/**
 * Tenant settings over the defaults; a missing row means the defaults. An unreadable row must not
 * silently become the (possibly wider) defaults: its part is read as "no runs" (cost gate: zero
 * runs a day; triggers: zero per hour) and the problem is reported, until an admin saves again.
 */
export async function loadDecisionSettings(db: DbOrTx, tenantId: string): Promise<DecisionSettings> {
  const row = await decisionSettingsRow(db, tenantId);
  const tp = parse<TriggerSettings>(row?.triggers);
  const cp = parse<CostGateSettings>(row?.costGate);
  const t = tp.ok ? tp.value : { perAccountHourlyCap: 0, perTenantHourlyCap: 0 };
  const c = cp.ok ? cp.value : { maxRunsPerDay: 0 };
  const problems = [tp.ok ? null : "trigger settings", cp.ok ? null : "cost gate settings"].filter(Boolean);
  return {
    triggers: {
      ...DEFAULT_TRIGGER_SETTINGS,
      ...t,
      debounceSeconds: { ...DEFAULT_TRIGGER_SETTINGS.debounceSeconds, ...t.debounceSeconds },
      maxWaitSeconds: { ...DEFAULT_TRIGGER_SETTINGS.maxWaitSeconds, ...t.maxWaitSeconds },
    },
    costGate: { ...DEFAULT_COST_GATE_SETTINGS, ...c },
    updatedAt: row?.updatedAt ?? null,
    problem: problems.length
      ? `The stored ${problems.join(" and ")} are unreadable; decision runs are held until they are saved again.`
      : null,
  };
}

export async function saveDecisionSettings(
  db: Db,
  viewer: Viewer,
  patch: { triggers?: Partial<TriggerSettings>; costGate?: Partial<CostGateSettings> },
  clock: Clock,
) {
  const before = await loadDecisionSettings(db, viewer.tenantId);
  const after = {
    triggers: {
      ...before.triggers,
      ...patch.triggers,
      debounceSeconds: { ...before.triggers.debounceSeconds, ...patch.triggers?.debounceSeconds },
      maxWaitSeconds: { ...before.triggers.maxWaitSeconds, ...patch.triggers?.maxWaitSeconds },
    },
    costGate: { ...before.costGate, ...patch.costGate },
  };
  // Decision settings are autonomy configuration: the same write path as modes and budgets, so
  // the version is bumped and the change is ledgered in one transaction.
  await withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    const data = {
      triggers: JSON.stringify(after.triggers),
      costGate: JSON.stringify(after.costGate),
      updatedBy: viewer.actor.id,
      updatedAt: now,
    };
    await upsertDecisionSettings(tx, viewer.tenantId, data);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: {
          change: "decision_settings",
          before: { triggers: before.triggers, cost_gate: before.costGate },
          after: { triggers: after.triggers, cost_gate: after.costGate },
        },
      },
      now,
    );
  });
  return loadDecisionSettings(db, viewer.tenantId);
}

/** Today's decision spend and the latest runs with their cost-gate verdicts. */
export async function decisionSpend(db: Db, viewer: Viewer, clock: Clock) {
  const [state, settings, runs] = await Promise.all([
    tenantRunState(db, viewer.tenantId),
    loadDecisionSettings(db, viewer.tenantId),
    listRuns(db, viewer.tenantId, 50),
  ]);
  const today = clock.now().toISOString().slice(0, 10);
  const fresh = state?.dayKey === today;
  const counts = Object.fromEntries(COST_GATE_RESULTS.map((r) => [r, runs.filter((x) => x.costGateResult === r).length]));
  const names = await accountNames(
    db,
    viewer.tenantId,
    runs.map((r) => r.accountId),
  );
  return {
    dayKey: today,
    runsToday: fresh ? state.runsToday : 0,
    tokensToday: fresh ? state.tokensToday : 0,
    maxRunsPerDay: settings.costGate.maxRunsPerDay,
    maxTokensPerDay: settings.costGate.maxTokensPerDay,
    recentVerdicts: counts,
    runs: runs.map((r) => ({ ...r, accountName: names.get(r.accountId) ?? null })),
  };
}
