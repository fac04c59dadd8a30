import { ExportsAdmin } from "@/components/audit/exports-admin";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function ExportsPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Audit exports"
        description="The ledger of a period, as CSV (column schema v1) or JSON lines, for auditors and archives. Every file carries its row count and SHA-256, so a copy can be checked against this page."
      />
      <ExportsAdmin />
    </>
  );
}
