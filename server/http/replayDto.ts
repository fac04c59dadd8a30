import type { BulkReplayPreview, BulkReplayResult, FailedExecutionView, ReplayPreviewView, ReplayResult } from "../services/replay";

/** snake_case REST v1 shapes of replay (SPEC §5.1 `executions/:id/replay-preview`, `executions/:id/replay`). */

export function replayPreviewDto(v: ReplayPreviewView) {
  return {
    execution_id: v.executionId,
    action_intent_id: v.actionIntentId,
    action_type: v.actionType,
    status: v.status,
    replayable: v.refusal === null && v.killSwitch === null,
    kill_switch: v.killSwitch,
    side_effects: v.sideEffects,
  };
}

export function replayResultDto(r: ReplayResult) {
  return { execution_id: r.executionId, replay_of: r.replayOf, status: r.status };
}

function failedDto(v: FailedExecutionView) {
  return {
    execution_id: v.executionId,
    action_intent_id: v.actionIntentId,
    action_type: v.actionType,
    account_id: v.accountId,
    account_name: v.accountName,
    connector: v.connector,
    error: v.error,
    started_at: v.startedAt.toISOString(),
    finished_at: v.finishedAt?.toISOString() ?? null,
    replay_of: v.replayOf,
    later_execution: v.laterExecution ? { execution_id: v.laterExecution.executionId, status: v.laterExecution.status } : null,
  };
}

export function bulkReplayPreviewDto(p: BulkReplayPreview) {
  return {
    dry_run: true,
    items: p.items.map((i) => ({ ...failedDto(i), side_effects: i.sideEffects })),
    cap: p.cap,
    truncated: p.truncated,
  };
}

export function bulkReplayResultDto(r: BulkReplayResult) {
  return {
    dry_run: false,
    items: r.items.map((i) => ({ replay_of: i.replayOf, execution_id: i.executionId, status: i.status, error: i.error })),
    cap: r.cap,
    truncated: r.truncated,
  };
}
