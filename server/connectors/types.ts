/**
 * The contract every outbound connector implements. Connectors are pure I/O adapters: they never
 * touch the database; the calling service persists the ToolCall row and writes the ledger.
 */
export interface ConnectorCall {
  tenantId: string;
  accountId: string;
  executionId: string;
  actionType: string; // e.g. "SEND_EMAIL", "REQUEST_RENEWAL_MEETING"
  parameters: Record<string, unknown>;
  target: Record<string, unknown>;
  /** stable per tool call; sent to the tool so a retried delivery is a no-op downstream */
  idempotencyKey: string;
  correlationId: string;
}

export type ConnectorResult =
  | { ok: true; response: Record<string, unknown> } // response: small, JSON-safe, NO secrets
  | { ok: false; error: string; retryable: boolean }; // error: human-readable, NO secrets

/**
 * The resilience wrapper (services/resilience.ts) refused a request before it was sent: the
 * connector's breaker is open (`BREAKER_OPEN`) or it has no free concurrency slot
 * (`CONCURRENCY_LIMIT`). Nothing reached the connector; try again after `retryAfterSeconds`.
 */
export class CallRefusedError extends Error {
  constructor(
    readonly reason: "BREAKER_OPEN" | "CONCURRENCY_LIMIT",
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = "CallRefusedError";
  }
}
