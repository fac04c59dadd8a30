import { JobQueue } from "@/components/decisions/job-queue";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";
import { JOB_STATUSES } from "@/server/services/jobQueue";

export default async function JobsPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Job queue"
        description="Background work for this workspace — decision runs first among it. A job whose worker dies is picked up again when its lease expires."
      />
      <JobQueue statuses={JOB_STATUSES} />
    </>
  );
}
