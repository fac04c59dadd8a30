import { connectorDepsFromEnv } from "@/server/http/deps";
import { replayResultDto } from "@/server/http/replayDto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { ReplayBody } from "@/server/schemas/reliability";
import { IdParam } from "@/server/schemas/rest";
import { replayExecution } from "@/server/services/replay";

export const dynamic = "force-dynamic";

/**
 * SPEC §5.1: `{ replay_reason, requested_by }` → 201 `{ execution_id, replay_of, status: "QUEUED" }`:
 * the new execution exists and its job is queued (the `decisions` tick runs it); its result is the
 * execution's status (`GET …/executions/<execution_id>/replay-preview`). Still running or queued,
 * another replay of the intent pending, or a kill switch on → 409.
 */
export const POST = restRoute<{ id: string }>(["admin"], async ({ req, params, db, clock, viewer }) => {
  const { id } = IdParam.parse(params);
  const b = await jsonBody(req, ReplayBody);
  const r = await replayExecution({ db, clock, connectors: connectorDepsFromEnv() }, viewer, id, {
    replayReason: b.replay_reason,
    requestedBy: b.requested_by,
  });
  return Response.json(replayResultDto(r), { status: 201 });
});
