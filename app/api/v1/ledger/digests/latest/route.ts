import { restRoute } from "@/server/http/rest";
import { latestDigest } from "@/server/services/ledgerDigest";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], ({ db, viewer }) => latestDigest(db, viewer));
