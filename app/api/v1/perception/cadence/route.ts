import { jsonBody, restRoute } from "@/server/http/rest";
import { CadencePutBody, cadenceFromRest, cadenceToRest } from "@/server/schemas/perception";
import { getCadence, putCadence } from "@/server/services/perception";

export const dynamic = "force-dynamic";

const cadenceDto = (c: Awaited<ReturnType<typeof getCadence>>) => ({
  tiers: cadenceToRest(c.tiers),
  defaults: cadenceToRest(c.defaults),
  updated_at: c.updatedAt?.toISOString() ?? null,
});

export const GET = restRoute(["read"], async ({ db, viewer }) => cadenceDto(await getCadence(db, viewer)));

export const PUT = restRoute(["admin"], async ({ req, db, viewer, clock }) => {
  const b = await jsonBody(req, CadencePutBody);
  return cadenceDto(await putCadence(db, viewer, { tiers: cadenceFromRest(b.tiers), reason: b.reason }, clock));
});
