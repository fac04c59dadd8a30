import { LearningAdmin } from "@/components/learning/learning-admin";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

/** Learning (issue 9 item 8): admins run it; auditors read it. */
export default async function LearningPage() {
  const viewer = await requireViewer(["ADMIN", "AUDITOR"]);
  return (
    <>
      <PageHeader
        title="Learning"
        description="How proposals are ranked: weights versions with their provenance, the shadow gate and guard, calibrations and the outcome gap. Ranking only — never policy. Every change is ledgered."
      />
      <LearningAdmin isAdmin={viewer.role === "ADMIN"} />
    </>
  );
}
