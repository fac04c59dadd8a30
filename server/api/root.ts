import { accountsRouter } from "./routers/accounts";
import { apiKeysRouter } from "./routers/apiKeys";
import { autonomyRouter, workRouter } from "./routers/autonomy";
import { decisionsRouter } from "./routers/decisions";
import { heatRouter } from "./routers/heat";
import { ledgerRouter } from "./routers/ledger";
import { meRouter } from "./routers/me";
import { createCallerFactory, router } from "./trpc";

export const appRouter = router({
  me: meRouter,
  accounts: accountsRouter,
  ledger: ledgerRouter,
  apiKeys: apiKeysRouter,
  work: workRouter,
  autonomy: autonomyRouter,
  decisions: decisionsRouter,
  heat: heatRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
