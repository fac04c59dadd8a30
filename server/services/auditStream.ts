import { randomBytes } from "node:crypto";
import type { Clock } from "../clock";
import { deliverSignedJson } from "../connectors/webhook";
import type { Db } from "../db";
import {
  checkStreamUrl,
  nextAttemptAfterFailure,
  STREAM_BATCH_MAX,
  STREAM_LEASE_MS,
  STREAM_REQUEST_TIMEOUT_MS,
  STREAM_TICK_BUDGET_MS,
  streamBatchBody,
  streamErrorText,
  streamLag,
} from "../engine/auditStream";
import { displayUrl } from "../engine/redact";
import { badRequest } from "../errors";
import {
  advanceAuditStream,
  claimAuditStream,
  findAuditStream,
  ledgerEntriesAfter,
  listDueAuditStreams,
  releaseAuditStream,
  tenantSlugOf,
  upsertAuditStream,
} from "../repos/auditStream";
import { appendLedger, ledgerHead } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import type { AuditStreamPut } from "../schemas/auditStream";

/**
 * The SIEM log stream (SPEC §4.8, §5.1 `GET/PUT /api/v1/audit/stream`, job `audit-stream`): the
 * tenant's ledger entries POSTed in seq order, in batches, signed like webhook deliveries
 * (`x-autopilot-timestamp`, `x-autopilot-signature: sha256=HMAC(secret, "<ts>.<body>")`), retried
 * with backoff until a 2xx. Delivery is at least once: a receiver deduplicates by `seq`.
 */

export async function getAuditStream(db: Db, viewer: Viewer) {
  const [row, head] = await Promise.all([findAuditStream(db, viewer.tenantId), ledgerHead(db, viewer.tenantId)]);
  const headSeq = head?.seq ?? 0;
  if (!row) return { configured: false as const, headSeq };
  return {
    configured: true as const,
    // The path or query of a SIEM URL is often its credential (HEC tokens): shown as origin + fingerprint.
    url: displayUrl(row.url),
    enabled: row.enabled,
    cursorSeq: row.cursorSeq,
    headSeq,
    lag: streamLag(headSeq, row.cursorSeq),
    attempts: row.attempts,
    lastError: row.lastError,
    lastDeliveredAt: row.lastDeliveredAt,
    nextAttemptAt: row.nextAttemptAt,
  };
}

/**
 * Create or change the stream. The signing secret is generated here and returned only from this
 * call (created, or `rotate_secret`). A new stream starts at seq 0, not at the head: the SIEM gets
 * the whole chain, so it can verify it from the genesis entry on. `url` may be left out to keep
 * the stored one (the GET shows it only as origin + fingerprint).
 */
export async function putAuditStream(db: Db, viewer: Viewer, input: AuditStreamPut, clock: Clock) {
  const now = clock.now();
  const { secret } = await inTransaction(db, async (tx) => {
    const existing = await findAuditStream(tx, viewer.tenantId);
    const raw = input.url ?? existing?.url;
    if (raw === undefined) throw badRequest("url", "url is required to create the stream");
    const checked = checkStreamUrl(raw);
    if (!checked.ok) throw badRequest("url", checked.message);
    const secret = !existing || input.rotate_secret ? `whsec_${randomBytes(32).toString("base64url")}` : undefined;
    await upsertAuditStream(tx, viewer.tenantId, { url: checked.url, enabled: input.enabled, secret }, now);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "AUDIT_STREAM_CHANGED",
        actor: viewer.actor,
        // Origin only: the rest of the URL may be the receiver's credential; the secret never.
        payload: { origin: checked.origin, enabled: input.enabled, secret_rotated: secret !== undefined },
      },
      now,
    );
    return { secret };
  });
  return { ...(await getAuditStream(db, viewer)), secret: secret ?? null };
}

export interface AuditStreamDeps {
  db: Db;
  clock: Clock;
  fetchImpl?: typeof fetch;
  /** per request; tests shorten it to exercise a receiver that hangs */
  timeoutMs?: number;
}

interface StreamOutcome {
  tenant: string;
  sent: number;
  batches: number;
  cursorSeq: number;
  error?: string;
}

/**
 * One tick of the `audit-stream` job: every due stream (or only `tenantId`'s), each claimed so no
 * two workers send the same tenant's batches concurrently. `force` is an admin's "send now": it
 * also skips the tenant's backoff (never another worker's claim).
 */
export async function runAuditStreamTick(deps: AuditStreamDeps, only?: { tenantId: string; force?: boolean }) {
  const due = only?.force ? [{ tenantId: only.tenantId }] : await listDueAuditStreams(deps.db, deps.clock.now(), only?.tenantId);
  const streams: StreamOutcome[] = [];
  for (const { tenantId } of due) {
    const outcome = await streamTenant(deps, tenantId, only?.force ?? false);
    if (outcome) streams.push(outcome);
  }
  return { ok: streams.every((s) => !s.error), streams };
}

/** Send now, for one tenant (the UI button). */
export async function sendAuditStreamNow(deps: AuditStreamDeps, viewer: Viewer) {
  const { streams } = await runAuditStreamTick(deps, { tenantId: viewer.tenantId, force: true });
  const outcome = streams[0];
  return {
    claimed: outcome !== undefined,
    sent: outcome?.sent ?? 0,
    error: outcome?.error ?? null,
    stream: await getAuditStream(deps.db, viewer),
  };
}

async function streamTenant(deps: AuditStreamDeps, tenantId: string, force: boolean): Promise<StreamOutcome | null> {
  const { db, clock } = deps;
  const started = clock.now();
  const lease = new Date(started.getTime() + STREAM_LEASE_MS);
  const row = await claimAuditStream(db, tenantId, started, lease, force);
  if (!row) return null;
  const slug = await tenantSlugOf(db, tenantId);
  let cursor = row.cursorSeq;
  const outcome: StreamOutcome = { tenant: slug, sent: 0, batches: 0, cursorSeq: cursor };
  for (;;) {
    const rows = await ledgerEntriesAfter(db, tenantId, cursor, STREAM_BATCH_MAX);
    const last = rows.at(-1);
    if (!last) {
      await releaseAuditStream(db, tenantId, lease, { nextAttemptAt: null });
      return outcome;
    }
    const res = await deliverSignedJson(
      { url: row.url, secret: row.secret, timeoutMs: deps.timeoutMs ?? STREAM_REQUEST_TIMEOUT_MS },
      `audit-stream-${rows[0]?.seq}-${last.seq}`,
      () => streamBatchBody(slug, rows),
      deps.fetchImpl,
      () => clock.now(),
    );
    if (!res.ok) {
      const attempts = row.attempts + 1;
      // deliverSignedJson's errors name the host and a fingerprint, never the path, query or secret.
      const lastError = streamErrorText(res.error);
      await releaseAuditStream(db, tenantId, lease, {
        nextAttemptAt: nextAttemptAfterFailure(clock.now(), attempts),
        failure: { lastError, attempts },
      });
      return { ...outcome, error: lastError };
    }
    if (!(await advanceAuditStream(db, tenantId, { lease, url: row.url, secret: row.secret }, cursor, last.seq, clock.now()))) {
      // The configuration changed under us: give the claim back (a no-op if it lapsed and another
      // worker holds the stream now — that worker owns the cursor).
      await releaseAuditStream(db, tenantId, lease, { nextAttemptAt: null });
      return outcome;
    }
    row.attempts = 0;
    cursor = last.seq;
    outcome.sent += rows.length;
    outcome.batches += 1;
    outcome.cursorSeq = cursor;
    if (clock.now().getTime() - started.getTime() >= STREAM_TICK_BUDGET_MS) {
      // Out of time with more to send: due again at once for the next tick.
      await releaseAuditStream(db, tenantId, lease, { nextAttemptAt: null });
      return outcome;
    }
  }
}
