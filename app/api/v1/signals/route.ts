import { restRoute, signedJsonBody } from "@/server/http/rest";
import { SignalBody } from "@/server/schemas/decisions";
import { ingestSignal } from "@/server/services/signals";

export const dynamic = "force-dynamic";

export const POST = restRoute(["ingest"], async ({ req, db, viewer, clock, principal }) => {
  const b = await signedJsonBody(req, principal.signingSecret, SignalBody);
  const res = await ingestSignal(
    db,
    viewer,
    {
      accountId: b.account_id,
      signalType: b.signal_type,
      severity: b.severity,
      evidence: b.evidence,
      dedupeKey: b.dedupe_key,
      occurredAt: b.occurred_at,
      source: `api:${principal.keyId}`,
    },
    clock,
  );
  return Response.json({ signal_id: res.signalId, duplicate: res.duplicate }, { status: 202 });
});
