import { connectorDepsFromEnv, connectorSecretKeyFromEnv } from "../../http/deps";
import { ConnectorNameInput, ConnectorPutInput } from "../../schemas/connectors";
import { getConnector, listConnectors, putConnector } from "../../services/connectors";
import { syncCrm } from "../../services/crmSync";
import { adminProcedure, auditProcedure, router } from "../trpc";

/**
 * Connectors admin page: every connector's settings and the CRM's sync state. The token is
 * write-only (answers say `tokenSet`); settings are configuration, written through withConfigWrite.
 */
export const connectorsRouter = router({
  list: auditProcedure.query(({ ctx }) => listConnectors(ctx.db, ctx.viewer, connectorDepsFromEnv().smtp !== null)),
  get: auditProcedure
    .input(ConnectorNameInput)
    .query(({ ctx, input }) => getConnector({ db: ctx.db, smtpConfigured: connectorDepsFromEnv().smtp !== null }, ctx.viewer, input.name)),
  put: adminProcedure.input(ConnectorPutInput).mutation(async ({ ctx, input }) => {
    const { name, ...settings } = input;
    const view = await putConnector(
      { db: ctx.db, clock: ctx.clock, secretKey: connectorSecretKeyFromEnv(), smtpConfigured: connectorDepsFromEnv().smtp !== null },
      ctx.viewer,
      name,
      settings,
    );
    return view;
  }),
  /** "Sync now": one CRM pull for the viewer's tenant, bounded by the CRM's rate limit. */
  syncNow: adminProcedure.mutation(({ ctx }) =>
    syncCrm({ db: ctx.db, clock: ctx.clock, connectors: connectorDepsFromEnv() }, ctx.viewer.tenantId),
  ),
});
