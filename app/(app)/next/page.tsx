import { NextActionsView } from "@/components/next/next-actions";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function NextActionsPage() {
  const viewer = await requireViewer(["ADMIN", "SELLER"]);
  return (
    <>
      <PageHeader
        title="Next actions"
        description={
          viewer.role === "SELLER"
            ? "What to do next: the proposals waiting on your accounts, best first."
            : `What to do next in ${viewer.tenant.name}: every open proposal, best first, for any owner.`
        }
      />
      <NextActionsView isAdmin={viewer.role === "ADMIN"} />
    </>
  );
}
