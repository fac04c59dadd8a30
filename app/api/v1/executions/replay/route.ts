import { connectorDepsFromEnv } from "@/server/http/deps";
import { bulkReplayPreviewDto, bulkReplayResultDto } from "@/server/http/replayDto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { BulkReplayBody } from "@/server/schemas/reliability";
import { bulkReplay, bulkReplayPreview } from "@/server/services/replay";

export const dynamic = "force-dynamic";

/**
 * Bulk replay of the failed executions of [from, to) — per intent its latest execution when that
 * one failed, newest first, at most `cap` per request (`truncated` says more matched). Each one is
 * queued (a new QUEUED execution and its job; item status QUEUED) or refused (REFUSED with the
 * reason); nothing is sent in the request. `dry_run: true` → the list with each one's side effects,
 * nothing replayed.
 */
export const POST = restRoute(["admin"], async ({ req, db, clock, viewer }) => {
  const b = await jsonBody(req, BulkReplayBody);
  const range = { from: new Date(b.from), to: new Date(b.to) };
  if (b.dry_run) return bulkReplayPreviewDto(await bulkReplayPreview(db, viewer, range));
  const r = await bulkReplay({ db, clock, connectors: connectorDepsFromEnv() }, viewer, {
    ...range,
    replayReason: b.replay_reason,
    requestedBy: b.requested_by,
  });
  return bulkReplayResultDto(r);
});
