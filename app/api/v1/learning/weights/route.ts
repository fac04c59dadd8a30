import { restRoute } from "@/server/http/rest";
import { listWeightsView } from "@/server/services/learning/registry";

export const dynamic = "force-dynamic";

/** The weights registry (SPEC §4.5): this tenant's and the GLOBAL versions, each with its latest shadow numbers. */
export const GET = restRoute(["read"], async ({ db, viewer }) => listWeightsView(db, viewer));
