import { ApiKeyCreateInput, ApiKeyRevokeInput } from "../../schemas/apiKeys";
import { createApiKey, listTenantApiKeys, revokeTenantApiKey } from "../../services/apiKeys";
import { adminProcedure, router } from "../trpc";

export const apiKeysRouter = router({
  list: adminProcedure.query(({ ctx }) => listTenantApiKeys(ctx.db, ctx.viewer)),
  create: adminProcedure.input(ApiKeyCreateInput).mutation(async ({ ctx, input }) => {
    const { key, record } = await createApiKey(ctx.db, { tenantId: ctx.viewer.tenantId, ...input, actor: ctx.viewer.actor }, ctx.clock);
    // The plaintext key is returned exactly once, here; only its hash is stored.
    return { key, record };
  }),
  revoke: adminProcedure.input(ApiKeyRevokeInput).mutation(({ ctx, input }) => revokeTenantApiKey(ctx.db, ctx.viewer, input.id, ctx.clock)),
});
