import { LedgerExplorer } from "@/components/ledger/ledger-explorer";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";
import { LEDGER_ENTRY_TYPES } from "@/server/engine/ledger";

export default async function LedgerPage() {
  await requireViewer(["ADMIN", "AUDITOR"]);
  return (
    <>
      <PageHeader title="Ledger" description="Every step autopilot and people take, in a tamper-evident hash chain. Newest first." />
      <LedgerExplorer entryTypes={LEDGER_ENTRY_TYPES} />
    </>
  );
}
