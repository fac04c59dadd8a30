/**
 * The SIEM log stream's decisions (SPEC §4.8, §5.1 `GET/PUT /api/v1/audit/stream`): which URL may
 * receive a tenant's ledger, how long to wait after a failed delivery, what a batch looks like.
 * Pure: `now` and the rows are arguments.
 */

/** Entries per POST: big enough to catch up quickly, small enough for any receiver's body limit. */
export const STREAM_BATCH_MAX = 500;
export const STREAM_URL_MAX = 2048;
/** First retry after a failure; doubles per further failure up to the cap. */
export const STREAM_BACKOFF_BASE_MS = 5_000;
export const STREAM_BACKOFF_CAP_MS = 15 * 60_000;
/** A receiver that takes longer than this to acknowledge a batch is treated as failed. */
export const STREAM_REQUEST_TIMEOUT_MS = 10_000;
/**
 * How long one worker owns a stream it claimed. Longer than one tick's time budget plus a request
 * timeout, so a live worker never loses its claim mid-batch; a crashed one's claim lapses by itself.
 */
export const STREAM_LEASE_MS = 2 * 60_000;
/** One tick stops starting new batches after this long (the lease must outlast it). */
export const STREAM_TICK_BUDGET_MS = 50_000;
export const STREAM_ERROR_MAX = 300;

export type StreamUrlCheck = { ok: true; url: string; origin: string } | { ok: false; message: string };

/**
 * http(s) only, bounded, no userinfo (the HMAC signature authenticates deliveries). Any host is
 * allowed, loopback included: the stream is write-only and its answers never reach the caller
 * beyond a status line, so it cannot be used to read internal services.
 */
export function checkStreamUrl(raw: string): StreamUrlCheck {
  if (raw.length > STREAM_URL_MAX) return { ok: false, message: `url is longer than ${STREAM_URL_MAX} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: "url must be an absolute http(s) URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { ok: false, message: "url must use http or https" };
  if (url.username || url.password)
    return { ok: false, message: "url must not contain credentials; the HMAC signature authenticates deliveries" };
  if (url.hash) return { ok: false, message: "url must not contain a #fragment" };
  return { ok: true, url: url.toString(), origin: `${url.protocol}//${url.host}` };
}

/** Delay before the next try after `attempts` consecutive failures (≥ 1): 5 s, 10 s, 20 s, … capped. */
export function streamBackoffMs(attempts: number): number {
  const n = Math.max(1, Math.floor(attempts));
  // 2^30 already exceeds the cap; bounding the exponent keeps the arithmetic finite.
  return Math.min(STREAM_BACKOFF_CAP_MS, STREAM_BACKOFF_BASE_MS * 2 ** Math.min(n - 1, 30));
}

export function nextAttemptAfterFailure(now: Date, attempts: number): Date {
  return new Date(now.getTime() + streamBackoffMs(attempts));
}

/** Entries the receiver has not acknowledged yet; never negative (a rewound head is not "ahead"). */
export function streamLag(headSeq: number, cursorSeq: number): number {
  return Math.max(0, headSeq - cursorSeq);
}

/**
 * Whether a worker holds the stream now: a future `nextAttemptAt` without `lastError` is a claim
 * (a backoff always has its error; see repos/auditStream.ts claimAuditStream).
 */
export function streamClaimed(row: { nextAttemptAt: Date | null; lastError: string | null }, now: Date): boolean {
  return row.nextAttemptAt !== null && row.nextAttemptAt.getTime() > now.getTime() && row.lastError === null;
}

/** The short, single-line error kept on the stream row and shown to admins. */
export function streamErrorText(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > STREAM_ERROR_MAX ? `${line.slice(0, STREAM_ERROR_MAX - 1)}…` : line;
}

export interface StreamEntryRow {
  seq: number;
  id: string;
  createdAt: Date;
  type: string;
  accountId: string | null;
  correlationId: string;
  actorType: string;
  actorId: string | null;
  payload: string;
  prevHash: string;
  hash: string;
}

/**
 * The body a receiver gets: entries in ascending seq, each with the hash-chain fields so the SIEM
 * side can verify the chain itself. `payload` is parsed back to JSON (it is stored canonical).
 */
export function streamBatchBody(tenantSlug: string, rows: readonly StreamEntryRow[]) {
  return {
    tenant: tenantSlug,
    entries: rows.map((r) => ({
      seq: r.seq,
      id: r.id,
      created_at: r.createdAt.toISOString(),
      type: r.type,
      account_id: r.accountId,
      correlation_id: r.correlationId,
      actor_type: r.actorType,
      actor_id: r.actorId,
      payload: JSON.parse(r.payload) as unknown,
      prev_hash: r.prevHash,
      hash: r.hash,
    })),
  };
}
