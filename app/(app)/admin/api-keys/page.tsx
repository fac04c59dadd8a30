import { ApiKeys } from "@/components/admin/api-keys";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function ApiKeysPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="API keys"
        description="Credentials for REST v1 (CRMs, decision engines, SIEMs). Keys are stored hashed and shown once."
      />
      <ApiKeys />
    </>
  );
}
