import { HeatDashboard } from "@/components/heat/heat-dashboard";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export const dynamic = "force-dynamic";

export default async function HeatPage() {
  const viewer = await requireViewer();
  return (
    <>
      <PageHeader
        title="Heat"
        description={
          viewer.role === "SELLER"
            ? "How hot your accounts are, from their recent signals and posture."
            : `How hot the accounts of ${viewer.tenant.name} are, from their recent signals and posture.`
        }
      />
      <HeatDashboard />
    </>
  );
}
