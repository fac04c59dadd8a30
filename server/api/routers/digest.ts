import { DigestGetInput, DigestSettingsInput, DigestSettingsSaveInput } from "../../schemas/digest";
import { digestFor } from "../../services/digest/compose";
import { digestSettingsFor, saveDigestSettings } from "../../services/digest/settings";
import { router, tenantProcedure } from "../trpc";

/**
 * The daily digest (SPEC §4.6). Everyone reads and sets their own; an admin reads and sets any
 * member's, an auditor reads any; a seller asking for someone else's gets not found.
 */
export const digestRouter = router({
  get: tenantProcedure
    .input(DigestGetInput)
    .query(({ ctx, input }) => digestFor(ctx.db, ctx.viewer, { userId: input.userId, date: input.date }, ctx.clock.now())),
  settings: tenantProcedure
    .input(DigestSettingsInput)
    .query(({ ctx, input }) => digestSettingsFor(ctx.db, ctx.viewer, input.userId, ctx.clock.now())),
  saveSettings: tenantProcedure.input(DigestSettingsSaveInput).mutation(({ ctx, input }) => {
    const { userId, ...patch } = input;
    return saveDigestSettings(ctx.db, ctx.viewer, userId, patch, ctx.clock);
  }),
});
