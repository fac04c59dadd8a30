import { PageHeader } from "@/components/ui/primitives";
import { TimelineView } from "@/components/work/timeline";
import { requireViewer } from "@/server/auth/page";

export default async function TimelinePage() {
  const viewer = await requireViewer(["ADMIN", "SELLER", "AUDITOR"]);
  return (
    <>
      <PageHeader
        title="Timeline"
        description={`What autopilot did${viewer.role === "SELLER" ? " on your accounts" : ""}, and what people decided — newest first.`}
      />
      <TimelineView />
    </>
  );
}
