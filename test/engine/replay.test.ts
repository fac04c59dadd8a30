import { describe, expect, it } from "vitest";
import { describeEntry } from "@/components/ledger/describe";
import { LEDGER_PAYLOAD_SCHEMAS } from "@/server/engine/ledgerPayloads";
import {
  killSwitchRefusal,
  latestFailedPerIntent,
  pendingExecution,
  previewReplay,
  queuedReplayFate,
  replayEndEntry,
  replayJobKey,
  replayRefusal,
  toolIdempotencyKey,
} from "@/server/engine/replay";

const preview = (connector: string, statuses: string[], others: { connector: string; status: string }[] = []) =>
  previewReplay({
    originalExecutionId: "exec_orig",
    connector,
    priorCalls: [...statuses.map((status) => ({ connector, status })), ...others],
  }).side_effects;

describe("previewReplay", () => {
  it("names the key the tool receives: the original execution's, whatever the replay's own id", () => {
    expect(toolIdempotencyKey("exec_orig", "webhook")).toBe("exec_orig:webhook");
    expect(preview("webhook", ["FAILED"])).toEqual([
      expect.objectContaining({ connector: "webhook", idempotency_key: "exec_orig:webhook", previous_status: "FAILED" }),
    ]);
  });

  it("a webhook call repeats with the same Idempotency-Key, which the receiver dedupes", () => {
    expect(preview("webhook", ["SUCCEEDED"])[0]).toMatchObject({ would_repeat: true, dedupes: true, sends: true });
    expect(preview("webhook", ["FAILED"])[0]).toMatchObject({ would_repeat: true, dedupes: true, sends: true });
  });

  it("a CRM write that already succeeded for the key is not sent again; a failed one is, and HubSpot may not dedupe it", () => {
    expect(preview("crm", ["FAILED", "SUCCEEDED"])[0]).toMatchObject({
      would_repeat: false,
      dedupes: true,
      sends: false,
      previous_status: "SUCCEEDED",
    });
    expect(preview("crm", ["FAILED"])[0]).toMatchObject({ would_repeat: true, dedupes: false, sends: true });
    // A call a dead process left STARTED may have reached HubSpot: it counts as a repeat.
    expect(preview("crm", ["FAILED", "STARTED"])[0]).toMatchObject({ would_repeat: true, previous_status: "STARTED" });
  });

  it("email does not dedupe: a repeated send reaches the recipient again", () => {
    expect(preview("email", ["SUCCEEDED"])[0]).toMatchObject({ would_repeat: true, dedupes: false, sends: true });
    expect(preview("email", ["FAILED"])[0]).toMatchObject({ would_repeat: true, dedupes: false });
  });

  it("internal writes a second artifact only when the first call wrote one", () => {
    expect(preview("internal", ["SUCCEEDED"])[0]).toMatchObject({ would_repeat: true, dedupes: false, sends: true });
    expect(preview("internal", ["FAILED"])[0]).toMatchObject({ would_repeat: false, dedupes: false, sends: true });
  });

  it("no earlier call on the replay's connector (the CRM write moved from webhook to crm): nothing repeats, the call is made", () => {
    const [e] = preview("crm", [], [{ connector: "webhook", status: "FAILED" }]);
    expect(e).toMatchObject({
      connector: "crm",
      idempotency_key: "exec_orig:crm",
      would_repeat: false,
      sends: true,
      previous_status: null,
    });
  });
});

describe("replayRefusal", () => {
  it("only finished executions can be replayed", () => {
    expect(replayRefusal("SUCCEEDED")).toBeNull();
    expect(replayRefusal("FAILED")).toBeNull();
    expect(replayRefusal("EXECUTING")).toBe("NOT_TERMINAL");
    expect(replayRefusal("QUEUED")).toBe("NOT_TERMINAL");
  });

  it("a queued or running execution of the intent blocks another replay; a finished one does not", () => {
    expect(pendingExecution("QUEUED")).toBe(true);
    expect(pendingExecution("EXECUTING")).toBe(true);
    expect(pendingExecution("SUCCEEDED")).toBe(false);
    expect(pendingExecution("FAILED")).toBe(false);
  });
});

describe("queued replays", () => {
  it("one job per replay execution, keyed by it", () => {
    expect(replayJobKey("e2")).toBe("replay:e2");
  });

  it("wait while their job can still run, however long backpressure defers it", () => {
    expect(queuedReplayFate({ status: "QUEUED", lastError: "CONCURRENCY_LIMIT: …" })).toEqual({ kind: "WAIT" });
    expect(queuedReplayFate({ status: "LEASED", lastError: null })).toEqual({ kind: "WAIT" });
  });

  it("end FAILED once their job ended without starting them, saying why", () => {
    expect(queuedReplayFate({ status: "FAILED", lastError: "lease expired after 5 attempts" })).toEqual({
      kind: "FAIL",
      error: "REPLAY_JOB_FAILED: the replay never started: its job failed (lease expired after 5 attempts)",
    });
    expect(queuedReplayFate(null)).toMatchObject({ kind: "FAIL", error: expect.stringContaining("its job is missing") });
    expect(queuedReplayFate({ status: "DONE", lastError: null })).toMatchObject({ kind: "FAIL" });
  });

  it("a kill switch's refusal names the switch and its reason", () => {
    expect(killSwitchRefusal({ scope: "CONNECTOR", key: "webhook", reason: "vendor incident" })).toBe(
      "Refused: the CONNECTOR kill switch webhook is on (vendor incident)",
    );
    expect(killSwitchRefusal({ scope: "TENANT", key: "", reason: "stop" })).toBe("Refused: the TENANT kill switch is on (stop)");
  });
});

describe("latestFailedPerIntent", () => {
  const at = (m: number) => new Date(Date.UTC(2026, 2, 2, 10, m));
  it("keeps an intent's failure only when it is the intent's latest execution", () => {
    const failedOriginal = { id: "e1", intentId: "i1", status: "FAILED", startedAt: at(0) };
    const laterReplay = { id: "e2", intentId: "i1", status: "SUCCEEDED", startedAt: at(5) };
    const lonelyFailure = { id: "e3", intentId: "i2", status: "FAILED", startedAt: at(1) };
    const failedReplay = { id: "e5", intentId: "i3", status: "FAILED", startedAt: at(9) };
    const failedOriginal3 = { id: "e4", intentId: "i3", status: "FAILED", startedAt: at(2) };
    const picked = latestFailedPerIntent(
      [failedOriginal, lonelyFailure, failedOriginal3, failedReplay],
      [failedOriginal, laterReplay, lonelyFailure, failedOriginal3, failedReplay],
    );
    expect(picked.map((e) => e.id)).toEqual(["e3", "e5"]);
  });
});

describe("REPLAY_* in the ledger explorer", () => {
  it("reads as a sentence, naming who asked and why, and a refusal before any execution", () => {
    const ids = { action_intent_id: "i1", original_execution_id: "e1" };
    expect(describeEntry("REPLAY_REQUESTED", { ...ids, replay_reason: "receiver was down", requested_by: "ops@x.test" })).toBe(
      "Replay of execution e1 requested by ops@x.test: “receiver was down”",
    );
    expect(
      describeEntry("REPLAY_REQUESTED", { ...ids, replay_reason: "receiver was down", requested_by: "ops@x.test", execution_id: "e2" }),
    ).toBe("Replay of execution e1 requested by ops@x.test: “receiver was down” — queued as execution e2");
    expect(describeEntry("REPLAY_COMPLETED", { ...ids, execution_id: "e2" })).toBe("Replay succeeded (execution e2)");
    expect(describeEntry("REPLAY_FAILED", { ...ids, execution_id: null, error: "Refused: kill switch" })).toBe(
      "Replay failed before it started: Refused: kill switch",
    );
  });
});

describe("replayEndEntry", () => {
  it("ends a replay as REPLAY_COMPLETED or REPLAY_FAILED with its error, in the payload schemas' shape", () => {
    const ids = { actionIntentId: "i1", originalExecutionId: "e1", executionId: "e2" };
    const ok = replayEndEntry(ids, { ok: true });
    const failed = replayEndEntry(ids, { ok: false, error: "Execution lease expired" });
    expect(ok).toEqual({ type: "REPLAY_COMPLETED", payload: { action_intent_id: "i1", original_execution_id: "e1", execution_id: "e2" } });
    expect(failed).toMatchObject({ type: "REPLAY_FAILED", payload: { execution_id: "e2", error: "Execution lease expired" } });
    expect(LEDGER_PAYLOAD_SCHEMAS[ok.type].safeParse(ok.payload).success).toBe(true);
    expect(LEDGER_PAYLOAD_SCHEMAS[failed.type].safeParse(failed.payload).success).toBe(true);
  });
});
