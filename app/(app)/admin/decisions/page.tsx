import { DecisionsAdmin } from "@/components/decisions/decisions-admin";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";
import { TENANT_TIERS } from "@/server/engine/costGate";
import { TRIGGER_TYPES } from "@/server/engine/triggers";

export default async function DecisionsPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Decisions"
        description="When autopilot thinks about an account: triggers, ritual schedules and the cost gate, with today's spend. Changes are ledgered."
      />
      <DecisionsAdmin triggerTypes={TRIGGER_TYPES} tiers={TENANT_TIERS} />
    </>
  );
}
