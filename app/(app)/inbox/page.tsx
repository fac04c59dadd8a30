import { PageHeader } from "@/components/ui/primitives";
import { InboxView } from "@/components/work/inbox";
import { requireViewer } from "@/server/auth/page";

export default async function InboxPage({ searchParams }: { searchParams: Promise<{ sort?: string | string[] }> }) {
  const { sort } = await searchParams;
  const viewer = await requireViewer(["ADMIN", "SELLER", "AUDITOR"]);
  return (
    <>
      <PageHeader
        title="Inbox"
        description={
          viewer.role === "SELLER"
            ? "Actions autopilot proposed for your accounts that need a person to decide."
            : `Actions autopilot proposed in ${viewer.tenant.name} that need a person to decide.`
        }
      />
      <InboxView
        canDecide={viewer.role === "ADMIN" || viewer.role === "SELLER"}
        initialSort={sort === "suggested" ? "suggested" : "newest"}
      />
    </>
  );
}
