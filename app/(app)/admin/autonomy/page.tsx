import { ApprovalSettingsCard } from "@/components/approvals/approval-settings";
import { AutonomyAdmin } from "@/components/autonomy/autonomy-admin";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function AutonomyPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Autonomy"
        description="What autopilot may do on its own: modes per action type, the allowlist, and daily budgets. Changes apply to the next decision and are ledgered."
      />
      <AutonomyAdmin />
      <div className="mt-6">
        <ApprovalSettingsCard />
      </div>
    </>
  );
}
