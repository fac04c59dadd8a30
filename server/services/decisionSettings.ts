import type { Clock } from "../clock";
import type { Db, DbOrTx } from "../db";
import { type CostGateSettings, DEFAULT_COST_GATE_SETTINGS } from "../engine/costGate";
import { DEFAULT_TRIGGER_SETTINGS, type TriggerSettings } from "../engine/triggers";
import { decisionSettingsRow } from "../repos/decisions";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";

export interface DecisionSettings {
  triggers: TriggerSettings;
  costGate: CostGateSettings;
  updatedAt: Date | null;
}

function parse<T>(text: string | undefined): Partial<T> {
  if (!text) return {};
  try {
    return JSON.parse(text) as Partial<T>;
  } catch {
    return {};
  }
}

/** Tenant settings over the defaults; a missing or unreadable row means the defaults. */
export async function loadDecisionSettings(db: DbOrTx, tenantId: string): Promise<DecisionSettings> {
  const row = await decisionSettingsRow(db, tenantId);
  const t = parse<TriggerSettings>(row?.triggers);
  const c = parse<CostGateSettings>(row?.costGate);
  return {
    triggers: {
      ...DEFAULT_TRIGGER_SETTINGS,
      ...t,
      debounceSeconds: { ...DEFAULT_TRIGGER_SETTINGS.debounceSeconds, ...t.debounceSeconds },
      maxWaitSeconds: { ...DEFAULT_TRIGGER_SETTINGS.maxWaitSeconds, ...t.maxWaitSeconds },
    },
    costGate: { ...DEFAULT_COST_GATE_SETTINGS, ...c },
    updatedAt: row?.updatedAt ?? null,
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
  await inTransaction(db, async (tx) => {
    const now = clock.now();
    const data = {
      triggers: JSON.stringify(after.triggers),
      costGate: JSON.stringify(after.costGate),
      updatedBy: viewer.actor.id,
      updatedAt: now,
    };
    await tx.decisionSettings.upsert({
      where: { tenantId: viewer.tenantId },
      create: { tenantId: viewer.tenantId, ...data },
      update: data,
    });
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
