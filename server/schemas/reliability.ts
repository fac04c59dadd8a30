import { z } from "zod";
import { ConnectorName } from "./connectors";

/**
 * Reliability (SPEC §4.7, §5.1 `reliability/connectors`, `executions/:id/replay-preview`,
 * `executions/:id/replay`): the shapes REST v1, tRPC and the reliability page share.
 */

export const BREAKER_STATES = ["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN"] as const;
export type BreakerStateName = (typeof BREAKER_STATES)[number];

/** `PUT /api/v1/reliability/connectors/:name` body: force a connector open (isolate it) or close it. */
export const ReliabilityPutBody = z.strictObject({
  forced_open: z.boolean(),
  reason: z.string().trim().min(1, "reason is required").max(500),
});
export type ReliabilityPutBody = z.infer<typeof ReliabilityPutBody>;

/** The tRPC form of the same write. */
export const ReliabilityPutInput = z.strictObject({
  name: ConnectorName,
  forcedOpen: z.boolean(),
  reason: z.string().trim().min(1, "reason is required").max(500),
});
export type ReliabilityPutInput = z.infer<typeof ReliabilityPutInput>;

/** `POST /api/v1/executions/:id/replay` body. */
export const ReplayBody = z.strictObject({
  replay_reason: z.string().trim().min(1, "replay_reason is required").max(500),
  requested_by: z.string().trim().min(1, "requested_by is required").max(200),
});
export type ReplayBody = z.infer<typeof ReplayBody>;

/** Bulk replay of the failed executions of a time range (same preview first). */
export const BulkReplayBody = z.strictObject({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  replay_reason: z.string().trim().min(1, "replay_reason is required").max(500),
  requested_by: z.string().trim().min(1, "requested_by is required").max(200),
  /** preview only: list what would be replayed and which side effects would repeat */
  dry_run: z.boolean().optional(),
});
export type BulkReplayBody = z.infer<typeof BulkReplayBody>;

// ── tRPC inputs of the `executions` router (replay; the reliability page) ──

/** an ISO timestamp with offset, or a Date (superjson carries Dates from the page) */
const IsoDate = z.union([z.date(), z.iso.datetime({ offset: true }).transform((s) => new Date(s))]);
const ExecutionId = z.string().trim().min(1, "executionId is required").max(64);
const ReplayReason = z.string().trim().min(1, "replayReason is required").max(500);

/** `executions.failed`: FAILED executions newest first, optionally from ≤ finished < to. */
export const FailedExecutionsInput = z
  .object({
    from: IsoDate.optional(),
    to: IsoDate.optional(),
    limit: z.number().int().min(1).max(100).default(50),
    cursor: z.string().min(1).max(512).optional(),
  })
  .default({ limit: 50 });

export const ReplayPreviewInput = z.object({ executionId: ExecutionId });
/** requested_by is the signed-in viewer, never input. */
export const ReplayInput = z.object({ executionId: ExecutionId, replayReason: ReplayReason });
export const BulkReplayPreviewInput = z.object({ from: IsoDate, to: IsoDate });
export const BulkReplayInput = z.object({ from: IsoDate, to: IsoDate, replayReason: ReplayReason });

/** The reliability page's charts: the last `hours` (default 6, at most 48). */
export const ReliabilitySeriesInput = z.strictObject({ hours: z.number().int().min(1).max(48).default(6) }).default({ hours: 6 });
