import type { DbOrTx } from "../db";
import { AppError } from "../errors";
import { isAccountVisible, tenantAccountId } from "../repos/accounts";
import type { Viewer } from "../repos/scope";

/**
 * The account id when it belongs to the caller's tenant; otherwise 404 on `account_id` — the
 * same answer whether the id is another tenant's or does not exist, so nothing leaks. For
 * tenant-wide configuration (admins, API keys); reads on behalf of a viewer use
 * `requireViewerAccount`.
 */
export async function requireTenantAccount(db: DbOrTx, tenantId: string, accountId: string): Promise<string> {
  const id = await tenantAccountId(db, tenantId, accountId);
  if (!id) throw new AppError("NOT_FOUND", "Account not found", "account_id");
  return id;
}

/**
 * "This viewer may see this account": the tenant guard plus seller ownership (a seller sees only
 * the accounts they own; admins, auditors and API keys the whole tenant). Every account-scoped
 * read goes through it. Another seller's account answers exactly like a missing one: 404.
 */
export async function requireViewerAccount(db: DbOrTx, viewer: Viewer, accountId: string): Promise<string> {
  if (!(await viewerSeesAccount(db, viewer, accountId))) throw new AppError("NOT_FOUND", "Account not found", "account_id");
  return accountId;
}

/** The same rule as a boolean, for reads that answer 404 about something else (an intent). */
export async function viewerSeesAccount(db: DbOrTx, viewer: Viewer, accountId: string): Promise<boolean> {
  return isAccountVisible(db, viewer, accountId);
}
