import { snake } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { WhatIfBody } from "@/server/schemas/policyLab";
import { runWhatIf } from "@/server/services/policyLab";

export const dynamic = "force-dynamic";

/** Replay a period's stored evaluations with proposed changes; writes nothing. */
export const POST = restRoute(["admin"], async ({ req, db, viewer }) =>
  snake(await runWhatIf(db, viewer, await jsonBody(req, WhatIfBody))),
);
