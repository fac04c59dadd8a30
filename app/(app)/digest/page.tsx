import { DigestView } from "@/components/digest/digest-view";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export const dynamic = "force-dynamic";

export default async function DigestPage({ searchParams }: { searchParams: Promise<{ date?: string | string[] }> }) {
  await requireViewer();
  const { date } = await searchParams;
  return (
    <>
      <PageHeader
        title="Daily digest"
        description="What autopilot did on its own on your accounts, what waits for you, what was blocked and the budget it used — one local day at a time."
      />
      <DigestView initialDate={typeof date === "string" ? date : undefined} />
    </>
  );
}
