"use client";

import type { TenantTier } from "@/server/engine/costGate";
import type { TriggerType } from "@/server/engine/triggers";
import { CadencesCard } from "./cadences-card";
import { CostGateCard } from "./cost-gate-card";
import { RunNowCard } from "./run-now-card";
import { SpendCard } from "./spend-card";
import { TriggersCard } from "./triggers-card";

/** Always-on decisions (SPEC §4.3): what spends today, then what decides when and whether runs happen. */
export function DecisionsAdmin({ triggerTypes, tiers }: { triggerTypes: readonly TriggerType[]; tiers: readonly TenantTier[] }) {
  return (
    <div className="space-y-4">
      <SpendCard />
      <RunNowCard triggerTypes={triggerTypes} />
      <div className="grid items-start gap-4 xl:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <TriggersCard triggerTypes={triggerTypes} />
        <CostGateCard tiers={tiers} />
      </div>
      <CadencesCard />
    </div>
  );
}
