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
