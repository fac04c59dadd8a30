import type { DbOrTx } from "../db";
import { AppError } from "../errors";
import { tenantWhere } from "../repos/scope";

/**
 * The account id when it belongs to the caller's tenant; otherwise 404 on `account_id` — the
 * same answer whether the id is another tenant's or does not exist, so nothing leaks.
 */
export async function requireTenantAccount(db: DbOrTx, tenantId: string, accountId: string): Promise<string> {
  const a = await db.account.findFirst({ where: tenantWhere(tenantId, { id: accountId }), select: { id: true } });
  if (!a) throw new AppError("NOT_FOUND", "Account not found", "account_id");
  return a.id;
}
