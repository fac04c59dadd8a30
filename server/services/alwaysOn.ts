import type { Clock } from "../clock";
import type { Db, DbOrTx, Tx } from "../db";
import { type AlwaysOnReason, type DigestFacts, missingForAlwaysOn, refusalForAccountOptIn } from "../engine/alwaysOn";
import { AppError } from "../errors";
import { listAccounts } from "../repos/accounts";
import { optedInAccounts, readDigestFacts, readDigestFactsFor, readOptIns, setOptIn } from "../repos/alwaysOn";
import { findVisibleAccount, withConfigWrite } from "../repos/autonomy";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";

/**
 * Always-on autonomy (SPEC §4.6): the tenant's opt-in (an admin's), each account's (its owner's or
 * an admin's), read beside the owner's digest. The gate applies the same rule on every decision
 * run's proposal (server/services/gate/evaluate.ts); this is where people see and change it. Every
 * change goes through withConfigWrite (it widens or narrows autonomy) and is ledgered as
 * ALWAYS_ON_CHANGED with its actor; a write that changes nothing is not ledgered.
 */

export interface AlwaysOnStatus {
  tenant: { enabled: boolean };
  accountId?: string;
  /** the tenant's opt-in without an account, else the account's */
  optedIn: boolean;
  /** autonomy would really run with nobody watching: nothing is missing */
  active: boolean;
  missing: AlwaysOnReason[];
}

function statusOf(
  tenantOptedIn: boolean,
  account: { id: string; optedIn: boolean; ownerDigest: DigestFacts | null } | null,
): AlwaysOnStatus {
  if (!account) {
    const missing: AlwaysOnReason[] = tenantOptedIn ? [] : ["TENANT_NOT_OPTED_IN"];
    return { tenant: { enabled: tenantOptedIn }, optedIn: tenantOptedIn, active: tenantOptedIn, missing };
  }
  const missing = missingForAlwaysOn({ tenantOptedIn, accountOptedIn: account.optedIn, ownerDigest: account.ownerDigest });
  return { tenant: { enabled: tenantOptedIn }, accountId: account.id, optedIn: account.optedIn, active: missing.length === 0, missing };
}

/** The account as this viewer may see it (a seller only their own; another's answers 404). */
async function visibleAccount(db: DbOrTx, viewer: Viewer, accountId: string) {
  const account = await findVisibleAccount(db, viewer, accountId);
  if (!account) throw new AppError("NOT_FOUND", "Account not found", "account_id");
  return account;
}

async function readStatus(db: DbOrTx, viewer: Viewer, account: { id: string; ownerId: string | null } | null) {
  const optIns = await readOptIns(db, viewer.tenantId, account?.id ?? null);
  if (!account) return statusOf(optIns.tenant, null);
  const ownerDigest = await readDigestFacts(db, viewer.tenantId, account.ownerId);
  return statusOf(optIns.tenant, { id: account.id, optedIn: optIns.account, ownerDigest });
}

export async function getAlwaysOnStatus(db: Db, viewer: Viewer, accountId?: string): Promise<AlwaysOnStatus> {
  return readStatus(db, viewer, accountId ? await visibleAccount(db, viewer, accountId) : null);
}

/** The viewer's accounts (a seller's own, everyone's for others), a page at a time, with their state. */
export async function listAlwaysOn(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }) {
  const accounts = await listAccounts(db, viewer, {}, page);
  const ids = accounts.items.map((a) => a.id);
  const owners = [...new Set(accounts.items.flatMap((a) => (a.ownerId ? [a.ownerId] : [])))];
  const [{ tenant }, opted, digests] = await Promise.all([
    readOptIns(db, viewer.tenantId, null),
    optedInAccounts(db, viewer.tenantId, ids),
    readDigestFactsFor(db, viewer.tenantId, owners),
  ]);
  return {
    tenant: { enabled: tenant },
    items: accounts.items.map((a) => ({
      ...statusOf(tenant, { id: a.id, optedIn: opted.has(a.id), ownerDigest: (a.ownerId && digests.get(a.ownerId)) || null }),
      accountName: a.name,
      owner: a.owner ? { id: a.owner.id, name: a.owner.name, email: a.owner.email } : null,
    })),
    nextCursor: accounts.nextCursor,
  };
}

function requireAdmin(viewer: Viewer) {
  // API keys reach this only with the admin scope (the REST edge checks it); among people, admins.
  if (viewer.role !== null && viewer.role !== "ADMIN")
    throw new AppError("FORBIDDEN", "Only an admin can switch always-on for the workspace");
}

async function ledgerChange(tx: Tx, viewer: Viewer, accountId: string | null, before: boolean, after: boolean, now: Date) {
  if (before === after) return;
  await appendLedger(
    tx,
    {
      tenantId: viewer.tenantId,
      accountId,
      type: "ALWAYS_ON_CHANGED",
      actor: viewer.actor,
      payload: { account_id: accountId, before, after },
    },
    now,
  );
}

/** The workspace's consent (admin). Never refused: it is the admin's own call, and switching off is always allowed. */
export async function setTenantAlwaysOn(db: Db, viewer: Viewer, enabled: boolean, clock: Clock): Promise<AlwaysOnStatus> {
  requireAdmin(viewer);
  return withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    const before = await setOptIn(tx, viewer.tenantId, "", enabled, viewer.actor.id, now);
    await ledgerChange(tx, viewer, null, before, enabled, now);
    return readStatus(tx, viewer, null);
  });
}

const REFUSAL_PHRASE: Record<AlwaysOnReason, string> = {
  TENANT_NOT_OPTED_IN: "the workspace has not opted in (an admin switches it on)",
  ACCOUNT_NOT_OPTED_IN: "the account has not opted in",
  NO_DIGEST_CONFIGURED: "the account owner has no daily digest set up",
};

/**
 * An account's consent: its owning seller, or an admin (an API key with the admin scope). Switching
 * on is refused with every other condition that does not hold yet (ALWAYS_ON_REFUSED, 422), read
 * in the same transaction as the write; switching off is always allowed.
 */
export async function setAccountAlwaysOn(
  db: Db,
  viewer: Viewer,
  accountId: string,
  enabled: boolean,
  clock: Clock,
): Promise<AlwaysOnStatus> {
  if (viewer.role === "AUDITOR") throw new AppError("FORBIDDEN", "Auditors cannot change always-on");
  return withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    const account = await visibleAccount(tx, viewer, accountId);
    if (enabled) {
      const optIns = await readOptIns(tx, viewer.tenantId, null);
      const reasons = refusalForAccountOptIn({
        tenantOptedIn: optIns.tenant,
        ownerDigest: await readDigestFacts(tx, viewer.tenantId, account.ownerId),
      });
      if (reasons.length > 0)
        throw new AppError(
          "UNPROCESSABLE",
          `Always-on cannot be switched on for this account yet: ${reasons.map((r) => REFUSAL_PHRASE[r]).join("; ")}.`,
          undefined,
          "ALWAYS_ON_REFUSED",
          { reasons },
        );
    }
    const before = await setOptIn(tx, viewer.tenantId, account.id, enabled, viewer.actor.id, now);
    await ledgerChange(tx, viewer, account.id, before, enabled, now);
    return readStatus(tx, viewer, account);
  });
}
