import { tenantsWithConnectorEnabled } from "../repos/connectorState";
import { type SyncResult, syncCrm } from "../services/crmSync";
import type { JobDeps } from "./registry";

/**
 * The `crm-sync` job: one incremental pull per tenant whose crm connector is enabled. A tenant
 * that is throttled, already syncing, or behind an open breaker is not a job failure (it resumes
 * next tick); a rejected token or an unexpected failure is.
 */
export async function runCrmSyncTick(deps: JobDeps) {
  const tenants: { tenantId: string; status: SyncResult["status"]; counts: SyncResult["counts"]; error: string | null }[] = [];
  for (const tenantId of await tenantsWithConnectorEnabled(deps.db, "CRM")) {
    const r = await syncCrm({ db: deps.db, clock: deps.clock, connectors: deps.connectors }, tenantId);
    tenants.push({ tenantId, status: r.status, counts: r.counts, error: r.error });
  }
  const ok = tenants.every(
    (t) =>
      t.status === "OK" ||
      t.status === "THROTTLED" ||
      t.status === "ALREADY_RUNNING" ||
      t.status === "NOT_ENABLED" ||
      t.status === "BREAKER_OPEN" ||
      t.status === "DEFERRED",
  );
  return { ok, tenants };
}
