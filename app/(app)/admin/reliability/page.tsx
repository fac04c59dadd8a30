import { ConnectorHealthPanel } from "@/components/reliability/connector-health";
import { FailedExecutions } from "@/components/reliability/failed-executions";
import { SloCharts } from "@/components/reliability/slo-charts";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export const dynamic = "force-dynamic";

export default async function ReliabilityPage() {
  const viewer = await requireViewer(["ADMIN", "AUDITOR"]);
  const admin = viewer.role === "ADMIN";
  return (
    <>
      <PageHeader
        title="Reliability"
        description={
          <>
            Circuit breakers, backpressure and service levels of every connector, and the failed executions to replay. What to do when
            something is red: <code className="font-mono text-xs">docs/runbook.md</code>.
          </>
        }
      />
      <div className="space-y-4">
        <ConnectorHealthPanel canWrite={admin} />
        <SloCharts />
        {admin && <FailedExecutions />}
      </div>
    </>
  );
}
