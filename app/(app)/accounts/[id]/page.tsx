import { notFound } from "next/navigation";
import { AccountDetail } from "@/components/accounts/account-detail";
import { requireViewer } from "@/server/auth/page";
import { getDb } from "@/server/db";
import { AppError } from "@/server/errors";
import { getVisibleAccount } from "@/server/services/accounts";

export default async function AccountPage({ params }: { params: Promise<{ id: string }> }) {
  const viewer = await requireViewer();
  const { id } = await params;
  // Another tenant's or another seller's account is a plain 404 page, not an empty shell.
  try {
    await getVisibleAccount(getDb(), viewer, id);
  } catch (err) {
    if (err instanceof AppError && err.code === "NOT_FOUND") notFound();
    throw err;
  }
  return <AccountDetail id={id} />;
}
