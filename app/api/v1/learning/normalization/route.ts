import { restRoute } from "@/server/http/rest";
import { normalizationGap } from "@/server/services/normalize";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], ({ db, viewer, clock }) => normalizationGap(db, viewer, clock));
