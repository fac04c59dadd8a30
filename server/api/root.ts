import { accountsRouter } from "./routers/accounts";
import { alwaysOnRouter } from "./routers/alwaysOn";
import { apiKeysRouter } from "./routers/apiKeys";
import { approvalsRouter } from "./routers/approvals";
import { auditExportsRouter } from "./routers/auditExports";
import { auditStreamRouter } from "./routers/auditStream";
import { autonomyRouter, workRouter } from "./routers/autonomy";
import { connectorsRouter } from "./routers/connectors";
import { decisionsRouter } from "./routers/decisions";
import { digestRouter } from "./routers/digest";
import { executionsRouter } from "./routers/executions";
import { heatRouter } from "./routers/heat";
import { hooksRouter } from "./routers/hooks";
import { importsRouter } from "./routers/imports";
import { learningRouter } from "./routers/learning";
import { ledgerRouter } from "./routers/ledger";
import { meRouter } from "./routers/me";
import { metricsRouter } from "./routers/metrics";
import { nextActionsRouter } from "./routers/nextActions";
import { perceptionRouter } from "./routers/perception";
import { policyLabRouter } from "./routers/policyLab";
import { reliabilityRouter } from "./routers/reliability";
import { createCallerFactory, router } from "./trpc";

export const appRouter = router({
  me: meRouter,
  accounts: accountsRouter,
  ledger: ledgerRouter,
  apiKeys: apiKeysRouter,
  work: workRouter,
  autonomy: autonomyRouter,
  decisions: decisionsRouter,
  imports: importsRouter,
  connectors: connectorsRouter,
  perception: perceptionRouter,
  heat: heatRouter,
  nextActions: nextActionsRouter,
  learning: learningRouter,
  hooks: hooksRouter,
  approvals: approvalsRouter,
  digest: digestRouter,
  alwaysOn: alwaysOnRouter,
  auditExports: auditExportsRouter,
  auditStream: auditStreamRouter,
  metrics: metricsRouter,
  policyLab: policyLabRouter,
  reliability: reliabilityRouter,
  executions: executionsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
