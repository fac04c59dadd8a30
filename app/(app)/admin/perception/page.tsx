import { PerceptionAdmin } from "@/components/perception/perception-admin";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";
import { KNOWN_PULL_CONNECTORS } from "@/server/engine/perception";

export default async function PerceptionPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Perception"
        description="When and how deep autopilot pulls from its sources: the daily pull budget, the cadence per heat tier, and every pull decision. Changes are ledgered."
      />
      <PerceptionAdmin connectors={KNOWN_PULL_CONNECTORS} />
    </>
  );
}
