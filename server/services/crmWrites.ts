import { CrmError } from "../connectors/hubspot";
import type { ConnectorCall, ConnectorResult } from "../connectors/types";
import type { DbOrTx } from "../db";
import { actionSpec } from "../engine/actions";
import { companyProperties, dealProperties, dealStageId } from "../engine/crmMapping";
import { redactText } from "../engine/redact";
import { AppError } from "../errors";
import { findConnectorConfig } from "../repos/connectors";
import { accountById, opportunityById } from "../repos/crm";
import { type CrmDeps, crmClient } from "./crmSync";

/**
 * Approved CRM writes (SPEC §4.4) through the tenant's HubSpot connection: UPDATE_ACCOUNT_FIELDS →
 * PATCH company, CREATE_OPPORTUNITY → POST deal (associated with the company), and
 * UPDATE_OPPORTUNITY_STAGE → PATCH deal, each carrying the execution's tool idempotency key.
 */

/**
 * The connector that carries an action out for this tenant now. Types registered with the `crm`
 * connector use it once the tenant enabled it; until then they keep today's path, the signed
 * webhook (the tenant's CRM middleware). Read fresh on every call: config, never cached.
 */
export async function resolveConnector(db: DbOrTx, tenantId: string, actionType: string): Promise<string> {
  const declared = actionSpec(actionType)?.connector ?? "internal";
  if (declared !== "crm") return declared;
  return (await findConnectorConfig(db, tenantId, "CRM"))?.enabled ? "crm" : "webhook";
}

const fail = (error: string, retryable = false): ConnectorResult => ({ ok: false, error, retryable });

export async function executeCrmWrite(deps: CrmDeps, call: ConnectorCall, opts: { retry: boolean }): Promise<ConnectorResult> {
  try {
    const client = await crmClient(deps, call.tenantId);
    if (!client) return fail("The crm connector is not enabled for this tenant; nothing was sent");
    const account = await accountById(deps.db, call.tenantId, call.accountId);
    switch (call.actionType) {
      case "UPDATE_ACCOUNT_FIELDS": {
        if (!account?.externalId) return fail("This account is not linked to a CRM company (no external id); nothing was sent");
        const { properties, refused } = companyProperties(call.parameters.fields);
        if (refused.length > 0) return fail(`These fields cannot be written to the CRM: ${refused.join(", ")}; nothing was sent`);
        if (Object.keys(properties).length === 0) return fail("No fields to update; nothing was sent");
        await client.updateCompany(account.externalId, properties, call.idempotencyKey);
        return {
          ok: true,
          response: { crm: "hubspot", object: "company", id: account.externalId, properties: Object.keys(properties).sort() },
        };
      }
      case "CREATE_OPPORTUNITY": {
        // A create cannot be repeated safely when the CRM may ignore the idempotency key.
        if (opts.retry)
          return fail("A deal create interrupted mid-call is not re-sent (the CRM may not honour the idempotency key); check HubSpot");
        const res = await client.createDeal(dealProperties(call.parameters), account?.externalId ?? null, call.idempotencyKey);
        return { ok: true, response: { crm: "hubspot", object: "deal", id: String(res.id ?? "") } };
      }
      case "UPDATE_OPPORTUNITY_STAGE": {
        const p = call.parameters;
        const oppId =
          typeof p.opportunity_id === "string" ? p.opportunity_id : typeof p.opportunityId === "string" ? p.opportunityId : null;
        const stage = typeof p.stage === "string" ? p.stage.toUpperCase() : null;
        const stageId = stage ? dealStageId(stage) : null;
        if (!oppId || !stageId) return fail("UPDATE_OPPORTUNITY_STAGE needs opportunity_id and a known stage; nothing was sent");
        const opp = await opportunityById(deps.db, call.tenantId, oppId);
        if (!opp || opp.accountId !== call.accountId) return fail("That opportunity is not on this account; nothing was sent");
        if (!opp.externalId) return fail("This opportunity is not linked to a CRM deal (no external id); nothing was sent");
        await client.updateDeal(opp.externalId, { dealstage: stageId }, call.idempotencyKey);
        return { ok: true, response: { crm: "hubspot", object: "deal", id: opp.externalId, stage } };
      }
      default:
        return fail(`The crm connector does not carry out ${call.actionType}`);
    }
  } catch (err) {
    if (err instanceof CrmError) return fail(err.message, err.retryable);
    if (err instanceof AppError) return fail(redactText(err.message));
    return fail(`CRM write failed (${err instanceof Error ? err.name : "error"})`, true);
  }
}
