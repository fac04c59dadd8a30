import { notFound } from "next/navigation";
import { ExplanationView } from "@/components/work/explanation";
import { requireViewer } from "@/server/auth/page";
import { getDb } from "@/server/db";
import { AppError } from "@/server/errors";
import { getVisibleAccount } from "@/server/services/accounts";
import { intentDetail } from "@/server/services/inbox";

export default async function ExplainPage({ params }: { params: Promise<{ id: string }> }) {
  const viewer = await requireViewer();
  const { id } = await params;
  if (id.length > 64) notFound();
  // Another tenant's intent, or one on another seller's account, is a plain 404 — never a hint it exists.
  let account: { id: string; name: string };
  try {
    const intent = await intentDetail(getDb(), viewer, id);
    const a = await getVisibleAccount(getDb(), viewer, intent.accountId);
    account = { id: a.id, name: a.name };
  } catch (err) {
    if (err instanceof AppError && err.code === "NOT_FOUND") notFound();
    throw err;
  }
  return <ExplanationView intentId={id} account={account} canSeeLedger={viewer.role === "ADMIN" || viewer.role === "AUDITOR"} />;
}
