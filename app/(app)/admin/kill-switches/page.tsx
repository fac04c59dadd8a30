import { KillSwitches } from "@/components/autonomy/kill-switches";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function KillSwitchesPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Kill switches"
        description="Stop autopilot at once — for the whole workspace, one connector or one action type. Every toggle needs a reason and is ledgered."
      />
      <KillSwitches />
    </>
  );
}
