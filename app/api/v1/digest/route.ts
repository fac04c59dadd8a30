import { queryParams, restRoute } from "@/server/http/rest";
import { DigestQuery } from "@/server/schemas/digest";
import { digestFor } from "@/server/services/digest/compose";

export const dynamic = "force-dynamic";

/** A user's daily digest (SPEC §5.1): `?date=YYYY-MM-DD&user_id=`; an API key names the user. */
export const GET = restRoute(["read"], async ({ req, db, viewer, clock }) => {
  const q = queryParams(req, DigestQuery);
  return digestFor(db, viewer, { userId: q.user_id, date: q.date }, clock.now());
});
