import { ConnectorsAdmin } from "@/components/connectors/connectors-admin";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function ConnectorsPage() {
  const viewer = await requireViewer(["ADMIN", "AUDITOR"]);
  return (
    <>
      <PageHeader
        title="Connectors"
        description="Where approved actions go and where accounts come from: settings, the CRM's last sync, and the throttles it met. Tokens are write-only."
      />
      <ConnectorsAdmin canEdit={viewer.role === "ADMIN"} />
    </>
  );
}
