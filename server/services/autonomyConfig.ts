import type { Clock } from "../clock";
import type { Db } from "../db";
import { actionSpec, isActionType } from "../engine/actions";
import type { AutonomyMode, KillSwitchScope } from "../engine/autonomy";
import {
  type BudgetSettings,
  effectiveDailyCap,
  NO_BUDGET,
  previousDays,
  readBudgetSettings,
  remaining,
  utcDateKey,
} from "../engine/budget";
import { canonicalJson } from "../engine/canonical";
import { AppError, badRequest } from "../errors";
import {
  allTenantIds,
  type ConfigTx,
  deleteMode,
  enabledKillSwitches,
  findBudget,
  listAllowlist,
  listKillSwitches,
  listModes,
  replaceAllowlist,
  setKillSwitch,
  upsertBudget,
  upsertMode,
  usageFor,
  withConfigWrite,
} from "../repos/autonomy";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { requireTenantAccount, requireViewerAccount } from "./guards";

/**
 * Autonomy configuration: modes, allowlist, budgets, kill switches. Every change goes through
 * `withConfigWrite` (the only way to get the transaction the config repos accept, and it bumps
 * the configuration version), is ledgered with actor and before/after in that transaction, and
 * so applies to the next evaluation on every instance.
 */

/** "" (tenant-wide) without an account, else the account's id after the tenant check. */
function requireAccount(db: Db, viewer: Viewer, accountId: string | undefined) {
  return accountId ? requireTenantAccount(db, viewer.tenantId, accountId) : Promise.resolve("");
}

function requireKnownType(actionType: string | undefined, field = "action_type") {
  if (actionType === undefined) return "";
  if (!isActionType(actionType)) throw badRequest(field, `Unknown action type "${actionType}"`);
  return actionType;
}

export async function getModes(db: Db, viewer: Viewer, accountId?: string) {
  const accountKey = accountId === undefined ? undefined : await requireAccount(db, viewer, accountId);
  return listModes(db, viewer.tenantId, accountKey);
}

export async function putMode(
  db: Db,
  viewer: Viewer,
  input: { accountId?: string; actionType?: string; mode: AutonomyMode | null; ifMatch?: Date; reason?: string },
  clock: Clock,
) {
  const accountKey = await requireAccount(db, viewer, input.accountId);
  const actionType = requireKnownType(input.actionType);
  return withConfigWrite(db, viewer.tenantId, (tx) =>
    applyMode(tx, viewer, { accountKey, actionType, mode: input.mode, ifMatch: input.ifMatch, reason: input.reason }, clock.now()),
  );
}

/** Set (or with null clear) one mode override inside a configuration write, ledgered with before/after. */
export async function applyMode(
  tx: ConfigTx,
  viewer: Viewer,
  input: { accountKey: string; actionType: string; mode: AutonomyMode | null; ifMatch?: Date; reason?: string },
  now: Date,
) {
  const { accountKey, actionType } = input;
  const key = { tenantId: viewer.tenantId, accountKey, actionType };
  // mode null clears an override so the next level of precedence applies again.
  const change =
    input.mode === null
      ? { before: await deleteMode(tx, key), after: null }
      : await upsertMode(tx, key, input.mode, input.ifMatch, viewer.actor.id, now);
  await appendLedger(
    tx,
    {
      tenantId: viewer.tenantId,
      accountId: accountKey || null,
      type: "CONFIG_CHANGED",
      actor: viewer.actor,
      payload: {
        change: "autonomy_mode",
        account_id: accountKey || null,
        action_type: actionType || null,
        before: change.before?.mode ?? null,
        after: change.after?.mode ?? null,
        reason: input.reason ?? null,
      },
    },
    now,
  );
  return change.after;
}

export async function getAllowlist(db: Db, viewer: Viewer, accountId?: string) {
  const accountKey = await requireAccount(db, viewer, accountId);
  return (await listAllowlist(db, viewer.tenantId, accountKey)).map((r) => r.actionType);
}

export async function putAllowlist(
  db: Db,
  viewer: Viewer,
  input: { accountId?: string; actionTypes: string[]; reason?: string },
  clock: Clock,
) {
  const accountKey = await requireAccount(db, viewer, input.accountId);
  const types = [...new Set(input.actionTypes)].sort();
  for (const [i, t] of types.entries()) {
    const spec = actionSpec(t);
    if (!spec) throw badRequest(`action_types.${i}`, `Unknown action type "${t}"`);
    // The allowlist can never widen the registry: external-contact, CRM-write and commercial
    // types are refused here with the reason, rather than accepted and silently ignored.
    if (!spec.mayAutoExecute)
      throw new AppError(
        "UNPROCESSABLE",
        `${t} can never auto-execute (${spec.externalContact ? "contacts customers" : `${spec.risk.toLowerCase()} risk`})`,
        `action_types.${i}`,
      );
  }
  return withConfigWrite(db, viewer.tenantId, (tx) => applyAllowlist(tx, viewer, accountKey, types, input.reason, clock.now()));
}

/** Replace one scope's allowlist inside a configuration write (types already checked), ledgered with before/after. */
export async function applyAllowlist(
  tx: ConfigTx,
  viewer: Viewer,
  accountKey: string,
  types: string[],
  reason: string | undefined,
  now: Date,
) {
  const before = (await listAllowlist(tx, viewer.tenantId, accountKey)).map((r) => r.actionType);
  await replaceAllowlist(tx, viewer.tenantId, accountKey, types);
  await appendLedger(
    tx,
    {
      tenantId: viewer.tenantId,
      accountId: accountKey || null,
      type: "CONFIG_CHANGED",
      actor: viewer.actor,
      payload: { change: "allowlist", account_id: accountKey || null, before, after: types, reason: reason ?? null },
    },
    now,
  );
  return types;
}

export interface BudgetView {
  accountId: string | null;
  maxAutonomousPerDay: number;
  maxPerActionType: Record<string, number>;
  decayIfUnused: boolean;
  effectiveCapToday: number;
  consumedToday: number;
  remainingToday: number;
  dateKey: string;
  configured: boolean;
  updatedAt: Date | null;
  /** Set when the stored budget cannot be read; the gate then asks a human for every action. */
  problem: string | null;
}

export async function getBudget(db: Db, viewer: Viewer, accountId: string | undefined, clock: Clock): Promise<BudgetView> {
  // Any member may read budgets, but a seller only for accounts they own: another seller's
  // account answers exactly as a missing one does.
  const accountKey = accountId ? await requireViewerAccount(db, viewer, accountId) : "";
  const now = clock.now();
  const own = await findBudget(db, viewer.tenantId, accountKey);
  const row = own ?? (accountKey ? await findBudget(db, viewer.tenantId, "") : null);
  const read = readBudgetSettings(row);
  // A damaged stored budget is shown as such, with no autonomy left today — never as "no caps",
  // and never as a 500. The gate fails closed on the same row (services/gate/evaluate.ts).
  const settings: BudgetSettings = read.ok ? read.settings : { ...NO_BUDGET, maxPerDay: row?.maxPerDay ?? 0 };
  const dateKey = utcDateKey(now);
  let consumed = 0;
  let cap = settings.maxPerDay;
  if (accountKey) {
    const usage = await usageFor(db, viewer.tenantId, accountKey, [dateKey, ...previousDays(now, 7)]);
    consumed = usage.find((u) => u.dateKey === dateKey && u.actionType === "")?.consumed ?? 0;
    const prev = usage.filter((u) => u.dateKey !== dateKey && u.actionType === "").reduce((s, u) => s + u.consumed, 0);
    cap = effectiveDailyCap(settings, prev);
  }
  return {
    accountId: accountKey || null,
    maxAutonomousPerDay: settings.maxPerDay,
    maxPerActionType: settings.perTypeCaps,
    decayIfUnused: settings.decayIfUnused,
    effectiveCapToday: read.ok ? cap : 0,
    consumedToday: consumed,
    remainingToday: read.ok ? remaining(cap, consumed) : 0,
    problem: read.ok ? null : read.problem,
    dateKey,
    configured: !!own,
    updatedAt: own?.updatedAt ?? null,
  };
}

export async function putBudget(
  db: Db,
  viewer: Viewer,
  input: {
    accountId?: string;
    maxPerDay: number;
    perTypeCaps?: Record<string, number>;
    decayIfUnused?: boolean;
    ifMatch?: Date;
    reason?: string;
  },
  clock: Clock,
) {
  const accountKey = await requireAccount(db, viewer, input.accountId);
  for (const t of Object.keys(input.perTypeCaps ?? {})) requireKnownType(t, `max_per_action_type.${t}`);
  await withConfigWrite(db, viewer.tenantId, (tx) =>
    applyBudget(
      tx,
      viewer,
      accountKey,
      {
        maxPerDay: input.maxPerDay,
        perTypeCaps: canonicalJson(input.perTypeCaps ?? {}),
        decayIfUnused: input.decayIfUnused ?? false,
      },
      { ifMatch: input.ifMatch, reason: input.reason },
      clock.now(),
    ),
  );
  return getBudget(db, viewer, input.accountId, clock);
}

/** Write one scope's budget inside a configuration write, ledgered with before/after. */
export async function applyBudget(
  tx: ConfigTx,
  viewer: Viewer,
  accountKey: string,
  data: { maxPerDay: number; perTypeCaps: string; decayIfUnused: boolean },
  opts: { ifMatch?: Date; reason?: string },
  now: Date,
) {
  const change = await upsertBudget(tx, { tenantId: viewer.tenantId, accountKey }, data, opts.ifMatch, viewer.actor.id, now);
  // The "before" may be a damaged row (that is how it gets repaired): record what was readable.
  const view = (b: typeof change.before) => {
    if (!b) return null;
    const read = readBudgetSettings(b);
    return read.ok
      ? { max_autonomous_per_day: b.maxPerDay, max_per_action_type: read.settings.perTypeCaps, decay_if_unused: b.decayIfUnused }
      : { unreadable: read.problem };
  };
  await appendLedger(
    tx,
    {
      tenantId: viewer.tenantId,
      accountId: accountKey || null,
      type: "CONFIG_CHANGED",
      actor: viewer.actor,
      payload: {
        change: "autonomy_budget",
        account_id: accountKey || null,
        before: view(change.before),
        after: view(change.after),
        reason: opts.reason ?? null,
      },
    },
    now,
  );
}

export async function getKillSwitches(db: Db, viewer: Viewer) {
  return (await listKillSwitches(db, viewer.tenantId)).map((k) => ({
    scope: k.scope as KillSwitchScope,
    key: k.key || null,
    enabled: k.enabled,
    reason: k.reason,
    updatedAt: k.updatedAt,
    updatedBy: k.updatedBy,
  }));
}

/**
 * The stored key of a kill switch ("" for GLOBAL / TENANT), or 400 on `key` when the scope needs
 * one that is missing or unknown. Shared with the alert hook, which names the switch it turns on.
 */
export function killSwitchKey(scope: KillSwitchScope, key: string | undefined): string {
  let out = "";
  if (scope === "ACTION_TYPE") out = requireKnownType(key, "key") || "";
  if (scope === "CONNECTOR") {
    if (!key || !["internal", "webhook", "email", "crm", "demo"].includes(key))
      throw badRequest("key", "CONNECTOR scope needs key internal, webhook, email, crm or demo");
    out = key;
  }
  if ((scope === "ACTION_TYPE" || scope === "CONNECTOR") && !out) throw badRequest("key", `${scope} scope needs a key`);
  return out;
}

/**
 * Toggle a kill switch. GLOBAL stops every tenant, so a tenant's admin cannot flip it — only an
 * operator (`npm run cli -- killswitch`), which passes `operator: true`. `keepIfOn` (the alert
 * hook) leaves a switch that is already on untouched — its reason and who set it stay — and
 * answers with `alreadyOn: true` and no ledger entry.
 */
export async function putKillSwitch(
  db: Db,
  viewer: Viewer,
  input: { scope: KillSwitchScope; key?: string; enabled: boolean; reason: string },
  clock: Clock,
  opts: { operator?: boolean; keepIfOn?: boolean } = {},
) {
  if (input.scope === "GLOBAL" && !opts.operator)
    throw new AppError("FORBIDDEN", "The GLOBAL kill switch is operator-only (npm run cli -- killswitch)", "scope");
  const key = killSwitchKey(input.scope, input.key);
  const tenantId = input.scope === "GLOBAL" ? "" : viewer.tenantId;
  return withConfigWrite(db, input.scope === "GLOBAL" ? "ALL" : viewer.tenantId, async (tx) => {
    const now = clock.now();
    if (opts.keepIfOn) {
      const current = (await listKillSwitches(tx, tenantId)).find(
        (k) => k.tenantId === tenantId && k.scope === input.scope && k.key === key,
      );
      if (current?.enabled)
        return {
          scope: input.scope,
          key: key || null,
          enabled: true,
          reason: current.reason,
          updatedAt: current.updatedAt,
          alreadyOn: true,
        };
    }
    const change = await setKillSwitch(tx, { tenantId, scope: input.scope, key }, input.enabled, input.reason, viewer.actor.id, now);
    // A GLOBAL switch changes every tenant's autonomy, so every tenant's ledger records it.
    const tenantIds = input.scope === "GLOBAL" ? await allTenantIds(tx) : [viewer.tenantId];
    for (const id of tenantIds) {
      await appendLedger(
        tx,
        {
          tenantId: id,
          type: "KILL_SWITCH_CHANGED",
          actor: viewer.actor,
          payload: {
            scope: input.scope,
            key: key || null,
            before: change.before?.enabled ?? false,
            after: input.enabled,
            reason: input.reason,
          },
        },
        now,
      );
    }
    return {
      scope: input.scope,
      key: key || null,
      enabled: change.after.enabled,
      reason: change.after.reason,
      updatedAt: change.after.updatedAt,
    };
  });
}

/** Active kill switches, for the banner every signed-in user sees. */
export async function activeKillSwitches(db: Db, viewer: Viewer) {
  return (await enabledKillSwitches(db, viewer.tenantId)).map((k) => ({
    scope: k.scope,
    key: k.key || null,
    reason: k.reason,
    updatedAt: k.updatedAt,
  }));
}
