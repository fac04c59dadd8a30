import type { Tx } from "../../db";
import { actionSpec } from "../../engine/actions";
import { activeKillSwitch, isAllowlisted, resolveMode } from "../../engine/autonomy";
import { readBudgetSettings } from "../../engine/budget";
import { evaluatePolicy, type PolicyInput } from "../../engine/policy";
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
  intent: { accountId: string; actionType: string; confidence: number; riskLevel: string; blockingUnknowns: string[]; lifecycle: string },
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
  return { input, result: evaluatePolicy(input), modeSource: mode.source, budget: budget.settings };
}

const validThreshold = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n >= 0 && n <= 1;
