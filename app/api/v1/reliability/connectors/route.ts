import { reliabilityDto } from "@/server/http/reliabilityDto";
import { restRoute } from "@/server/http/rest";
import { connectorReliability } from "@/server/services/resilience";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], async ({ db, viewer, clock }) =>
  (await connectorReliability({ db, clock }, viewer)).map(reliabilityDto),
);
