import type { Tx } from "../../db";
import { actionSpec } from "../../engine/actions";
import { type AlwaysOnReason, alwaysOnApplies, missingForAlwaysOn } from "../../engine/alwaysOn";
import { activeKillSwitch, isAllowlisted, resolveMode } from "../../engine/autonomy";
import { readBudgetSettings } from "../../engine/budget";
import { evaluatePolicy, notOptedIn, type PolicyInput, type PolicyResult } from "../../engine/policy";
import { readDigestFacts, readOptIns } from "../../repos/alwaysOn";
import { DEFAULT_TENANT_POLICY, loadGateConfig } from "../../repos/autonomy";
import { resolveConnector } from "../crmWrites";
import { GateConfigError } from "./types";

/**
 * Read the configuration (cached while `configVersion` is unchanged) and run the pure policy.
 * Reads only. Stored configuration that cannot be read throws GateConfigError: the caller fails
 * closed, because reading a broken restriction as "no restriction" would widen autonomy.
 */
export async function evaluate(
  tx: Tx,
  tenantId: string,
  intent: {
    accountId: string;
    actionType: string;
    confidence: number;
    riskLevel: string;
    blockingUnknowns: string[];
    lifecycle: string;
    source: string;
    ownerId: string | null;
  },
  configVersion: number,
) {
  const cfg = await loadGateConfig(tx, tenantId, intent.accountId, configVersion);
  const tenantPolicy = cfg.policy ?? DEFAULT_TENANT_POLICY;
  if (!validThreshold(tenantPolicy.minConfidence) || !validThreshold(tenantPolicy.prospectMinConfidence))
    throw new GateConfigError("The workspace's confidence thresholds are unreadable, so autopilot is asking you instead.");
  const budget = readBudgetSettings(cfg.budget);
  if (!budget.ok)
    throw new GateConfigError(`The stored autonomy budget is damaged (${budget.problem}), so autopilot is asking you instead.`);
  const spec = actionSpec(intent.actionType);
  const mode = resolveMode(cfg.modes, intent.accountId, intent.actionType);
  // A CRM write goes out through the crm connector when the tenant enabled it, else through the
  // webhook: a switch on either the declared connector or the one that would carry it stops it.
  const connector = await resolveConnector(tx, tenantId, intent.actionType);
  const kill =
    activeKillSwitch(cfg.killSwitches, intent.actionType, spec?.connector) ??
    activeKillSwitch(cfg.killSwitches, intent.actionType, connector);
  const input: PolicyInput = {
    actionType: intent.actionType,
    confidence: intent.confidence,
    riskLevel: intent.riskLevel,
    lifecycle: intent.lifecycle,
    mode: mode.mode,
    allowlisted: isAllowlisted(cfg.allowlist, intent.accountId, intent.actionType),
    blockingUnknowns: intent.blockingUnknowns,
    killSwitch: kill ? { scope: kill.scope, key: kill.key, reason: kill.reason } : null,
    thresholds: {
      minConfidence: tenantPolicy.minConfidence,
      prospectMinConfidence: tenantPolicy.prospectMinConfidence,
      version: tenantPolicy.version,
    },
  };
  const policy = evaluatePolicy(input);
  const alwaysOn = await alwaysOnGate(tx, tenantId, intent, policy);
  return {
    input,
    result: alwaysOn.result,
    alwaysOnMissing: alwaysOn.missing,
    modeSource: mode.source,
    budget: budget.settings,
    // for log-only proposals (logOnly.ts): the rows the proposed changes apply to
    allowlist: cfg.allowlist,
    proposals: cfg.proposals,
  };
}

/** What always-on lacks for this intent's account now (log-only mode asks when the active policy did not). */
export async function alwaysOnMissingNow(tx: Tx, tenantId: string, accountId: string, ownerId: string | null) {
  const [optIns, ownerDigest] = await Promise.all([readOptIns(tx, tenantId, accountId), readDigestFacts(tx, tenantId, ownerId)]);
  return missingForAlwaysOn({ tenantOptedIn: optIns.tenant, accountOptedIn: optIns.account, ownerDigest });
}

/**
 * Always-on (SPEC §4.6): a decision run's proposal that policy would auto-execute runs only with
 * the tenant's and the account's opt-in and a digest for the account's owner; otherwise it waits
 * as NOT_OPTED_IN. Decided here, before the budget is settled, so a waiting proposal takes no
 * unit. The reads happen only when the rule applies (the gate is a hot path), inside the
 * admission transaction: opt-ins and digest settings are written through withConfigWrite, so a
 * change that commits while this admission decides sends it round again on the new state.
 */
async function alwaysOnGate(
  tx: Tx,
  tenantId: string,
  intent: { accountId: string; source: string; ownerId: string | null },
  policy: PolicyResult,
): Promise<{ result: PolicyResult; missing: AlwaysOnReason[] | null }> {
  if (!alwaysOnApplies(intent.source, policy.decision)) return { result: policy, missing: null };
  const missing = await alwaysOnMissingNow(tx, tenantId, intent.accountId, intent.ownerId);
  return { result: missing.length > 0 ? notOptedIn(policy, missing) : policy, missing };
}

const validThreshold = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n >= 0 && n <= 1;
