/**
 * Replay (SPEC §4.7, §4.8, §5.1 `executions/:id/replay-preview`): which side effects a replay of an
 * execution would repeat, decided from the intent's earlier tool calls. Pure.
 *
 * Every execution of one intent — the original and each replay — sends the tool the ORIGINAL
 * execution's key `<original execution id>:<connector>` (`toolIdempotencyKey`), so a tool that
 * dedupes sees a replay as the same call. The ToolCall row of a replay keeps a key of its own
 * (`<replay execution id>:<connector>`; the column is unique), which is why the earlier calls for a
 * key are "the intent's calls on that connector", not a lookup by the row key.
 */

/** At most this many executions per bulk replay request (each one queues a job); the answer says when more matched. */
export const BULK_REPLAY_CAP = 100;

export type ToolCallStatus = "STARTED" | "SUCCEEDED" | "FAILED";

export interface PriorToolCall {
  connector: string;
  status: string;
}

export interface ReplaySideEffect {
  connector: string;
  /** the key the tool receives: the original execution's */
  idempotency_key: string;
  /** an earlier call with this key was made and the replay sends it again */
  would_repeat: boolean;
  /** a repeat with this key is dropped — by the receiver (webhook) or by Autopilot (a CRM write that already succeeded) */
  dedupes: boolean;
  /** false when Autopilot itself will not call the tool (the CRM write already succeeded for this key) */
  sends: boolean;
  /** the strongest earlier status for this key: SUCCEEDED, else STARTED (outcome unknown), else FAILED; null if never called */
  previous_status: ToolCallStatus | null;
  /** one sentence for the admin deciding whether to replay */
  note: string;
}

export interface ReplayPreview {
  side_effects: ReplaySideEffect[];
}

export function toolIdempotencyKey(originalExecutionId: string, connector: string): string {
  return `${originalExecutionId}:${connector}`;
}

function strongest(calls: readonly PriorToolCall[]): ToolCallStatus | null {
  for (const s of ["SUCCEEDED", "STARTED", "FAILED"] as const) if (calls.some((c) => c.status === s)) return s;
  return null;
}

/**
 * The side effects a replay would cause. `connector` is the one the replay would use now (a CRM
 * write moves from the webhook to `crm` once the tenant enabled it); `priorCalls` are the tool
 * calls of every execution of the intent.
 */
export function previewReplay(input: {
  originalExecutionId: string;
  connector: string;
  priorCalls: readonly PriorToolCall[];
}): ReplayPreview {
  const { connector } = input;
  const key = toolIdempotencyKey(input.originalExecutionId, connector);
  const previous = strongest(input.priorCalls.filter((c) => c.connector === connector));
  const effect = (e: Omit<ReplaySideEffect, "connector" | "idempotency_key" | "previous_status">): ReplayPreview => ({
    side_effects: [{ connector, idempotency_key: key, previous_status: previous, ...e }],
  });

  if (previous === null)
    return effect({
      would_repeat: false,
      dedupes: connector === "webhook",
      sends: true,
      note: `No earlier call reached the ${connector} connector for this intent; the replay makes the first one.`,
    });

  switch (connector) {
    case "webhook":
      return effect({
        would_repeat: true,
        dedupes: true,
        sends: true,
        note: "The webhook is called again with the same Idempotency-Key header; a receiver that honours it drops the repeat.",
      });
    case "crm":
      // completeExecution honours the key itself: HubSpot may ignore Idempotency-Key.
      return previous === "SUCCEEDED"
        ? effect({
            would_repeat: false,
            dedupes: true,
            sends: false,
            note: "The CRM write already succeeded for this key; Autopilot reuses its recorded response and sends nothing.",
          })
        : effect({
            would_repeat: true,
            dedupes: false,
            sends: true,
            note: "The CRM write is sent again with the same key; HubSpot may ignore Idempotency-Key, so a write that reached it before failing can apply twice.",
          });
    case "internal":
      // Our own connector: an artifact exists exactly when the earlier call succeeded.
      return effect({
        would_repeat: previous === "SUCCEEDED",
        dedupes: false,
        sends: true,
        note:
          previous === "SUCCEEDED"
            ? "A second internal artifact (note, task, brief…) is written beside the first."
            : "The earlier call wrote no artifact; the replay writes one.",
      });
    default:
      return effect({
        would_repeat: true,
        dedupes: false,
        sends: true,
        note: "The email is sent again over SMTP; mail servers do not dedupe, so the recipient may get it twice.",
      });
  }
}

/**
 * The entry that ends a replay, for the transaction that finishes its execution — whoever finishes
 * it: the request that started it, or the executions sweeper after a crash or a deferral.
 */
export function replayEndEntry(
  ids: { actionIntentId: string; originalExecutionId: string; executionId: string },
  result: { ok: true } | { ok: false; error: string },
) {
  const payload = { action_intent_id: ids.actionIntentId, original_execution_id: ids.originalExecutionId, execution_id: ids.executionId };
  return result.ok
    ? { type: "REPLAY_COMPLETED" as const, payload }
    : { type: "REPLAY_FAILED" as const, payload: { ...payload, error: result.error } };
}

/** Which executions a replay may start from: terminal ones only (a QUEUED or EXECUTING one still owns its call). */
export function replayRefusal(status: string): "NOT_TERMINAL" | null {
  return status === "SUCCEEDED" || status === "FAILED" ? null : "NOT_TERMINAL";
}

/**
 * An execution of the intent that is still to run (QUEUED: a replay waiting for its job) or running
 * (EXECUTING): while one exists, another replay of the intent is refused (REPLAY_IN_PROGRESS).
 */
export function pendingExecution(status: string): boolean {
  return status === "QUEUED" || status === "EXECUTING";
}

/** The replay job's dedupe key: one job per replay execution, however often its enqueue is retried. */
export function replayJobKey(executionId: string): string {
  return `replay:${executionId}`;
}

/** Why a replay is refused by a kill switch — the sentence in the 409, the execution's error and REPLAY_FAILED. */
export function killSwitchRefusal(kill: { scope: string; key: string; reason: string }): string {
  return `Refused: the ${kill.scope} kill switch${kill.key ? ` ${kill.key}` : ""} is on (${kill.reason})`;
}

/**
 * What becomes of a QUEUED replay execution given its job (looked up by `replayJobKey`). The job is
 * queued in the transaction that creates the execution, so while that job can still run (QUEUED,
 * LEASED) the replay waits for it — however long backpressure defers it. A job that ended without
 * starting it (FAILED after its last attempt; DONE or missing cannot happen but must not strand
 * it either) leaves nobody to start it: the replay ends FAILED.
 */
export function queuedReplayFate(
  job: { status: string; lastError: string | null } | null,
): { kind: "WAIT" } | { kind: "FAIL"; error: string } {
  if (job && (job.status === "QUEUED" || job.status === "LEASED")) return { kind: "WAIT" };
  const why = !job
    ? "its job is missing"
    : job.status === "FAILED"
      ? `its job failed${job.lastError ? ` (${job.lastError})` : ""}`
      : "its job ended without starting it";
  return { kind: "FAIL", error: `REPLAY_JOB_FAILED: the replay never started: ${why}` };
}

/**
 * Bulk replay picks, per intent, only its latest execution and only when that one FAILED: an
 * intent whose failure was already replayed successfully (or is being replayed) is not replayed again.
 */
export function latestFailedPerIntent<E extends { id: string; intentId: string; status: string; startedAt: Date }>(
  candidates: readonly E[],
  allOfTheirIntents: readonly { id: string; intentId: string; startedAt: Date }[],
): E[] {
  const latest = new Map<string, { id: string; startedAt: Date }>();
  for (const e of allOfTheirIntents) {
    const cur = latest.get(e.intentId);
    if (!cur || e.startedAt > cur.startedAt || (e.startedAt.getTime() === cur.startedAt.getTime() && e.id > cur.id))
      latest.set(e.intentId, e);
  }
  return candidates.filter((c) => c.status === "FAILED" && latest.get(c.intentId)?.id === c.id);
}
