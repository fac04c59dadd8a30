/**
 * Autonomy modes and their precedence (SPEC §4.1). First match wins:
 * account+type → tenant+type → account default → tenant default → global default.
 * The global default is APPROVAL_REQUIRED: a missing configuration never means AUTO_EXECUTE.
 */
export const AUTONOMY_MODES = ["PROPOSE_ONLY", "APPROVAL_REQUIRED", "AUTO_EXECUTE", "DISABLED"] as const;
export type AutonomyMode = (typeof AUTONOMY_MODES)[number];

export const GLOBAL_DEFAULT_MODE: AutonomyMode = "APPROVAL_REQUIRED";

/** accountKey / actionType "" mean "any" (see the models). */
export interface ModeRow {
  accountKey: string;
  actionType: string;
  mode: string;
}

export type ModeSource = "ACCOUNT_TYPE" | "TENANT_TYPE" | "ACCOUNT_DEFAULT" | "TENANT_DEFAULT" | "GLOBAL_DEFAULT";

export function resolveMode(rows: readonly ModeRow[], accountId: string, actionType: string): { mode: AutonomyMode; source: ModeSource } {
  const find = (acc: string, type: string) => rows.find((r) => r.accountKey === acc && r.actionType === type);
  const order: [string, string, ModeSource][] = [
    [accountId, actionType, "ACCOUNT_TYPE"],
    ["", actionType, "TENANT_TYPE"],
    [accountId, "", "ACCOUNT_DEFAULT"],
    ["", "", "TENANT_DEFAULT"],
  ];
  for (const [acc, type, source] of order) {
    const row = find(acc, type);
    // An unreadable stored mode fails closed to the global default rather than to anything wider.
    if (row && (AUTONOMY_MODES as readonly string[]).includes(row.mode)) return { mode: row.mode as AutonomyMode, source };
  }
  return { mode: GLOBAL_DEFAULT_MODE, source: "GLOBAL_DEFAULT" };
}

export interface AllowRow {
  accountKey: string;
  actionType: string;
}

/** Allowlisted if listed tenant-wide or for this account. */
export function isAllowlisted(rows: readonly AllowRow[], accountId: string, actionType: string) {
  return rows.some((r) => r.actionType === actionType && (r.accountKey === "" || r.accountKey === accountId));
}

export const KILL_SWITCH_SCOPES = ["GLOBAL", "TENANT", "ACTION_TYPE", "CONNECTOR"] as const;
export type KillSwitchScope = (typeof KILL_SWITCH_SCOPES)[number];

export interface KillSwitchRow {
  scope: string;
  key: string;
  enabled: boolean;
  reason: string;
}

/** The first enabled switch that covers this action (global, tenant, its type, its connector). */
export function activeKillSwitch(rows: readonly KillSwitchRow[], actionType: string, connector: string | undefined): KillSwitchRow | null {
  return (
    rows.find(
      (r) =>
        r.enabled &&
        (r.scope === "GLOBAL" ||
          r.scope === "TENANT" ||
          (r.scope === "ACTION_TYPE" && r.key === actionType) ||
          (r.scope === "CONNECTOR" && connector !== undefined && r.key === connector)),
    ) ?? null
  );
}
