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
