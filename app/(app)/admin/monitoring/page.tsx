import { MetricsTokenCard } from "@/components/monitoring/metrics-token-card";
import { StreamCard } from "@/components/monitoring/stream-card";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";
import { connectorDepsFromEnv } from "@/server/http/deps";

export const dynamic = "force-dynamic";

export default async function MonitoringPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Monitoring"
        description="The ledger streamed to your SIEM, and this workspace's numbers for Prometheus. Credentials are shown once."
      />
      <div className="space-y-4">
        <StreamCard />
        <MetricsTokenCard metricsUrl={`${connectorDepsFromEnv().publicUrl}/api/metrics`} />
      </div>
    </>
  );
}
