import { AccountsTable } from "@/components/accounts/accounts-table";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function AccountsPage() {
  const viewer = await requireViewer();
  return (
    <>
      <PageHeader
        title="Accounts"
        description={viewer.role === "SELLER" ? "The accounts you own." : `Every account in ${viewer.tenant.name}.`}
      />
      <AccountsTable />
    </>
  );
}
