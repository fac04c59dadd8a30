/**
 * Recovering an execution whose process died during the connector call (SPEC §4.7 crash safety).
 *
 * `runExecution` starts an execution in one transaction, calls the connector outside any
 * transaction and finishes in a second one. A crash in between leaves the row EXECUTING for
 * ever; the executions sweeper asks this module what to do once the row's lease has expired.
 */

/**
 * How long an execution may stay EXECUTING before a sweeper may take it over. Far above every
 * connector's own timeout (10 s for the webhook and SMTP) so a live, slow call is never raced.
 */
export const EXECUTION_LEASE_MS = 5 * 60_000;

/** The original attempt plus one retry by a sweeper; a retry that crashes too ends FAILED. */
export const MAX_EXECUTION_ATTEMPTS = 2;

/** The reason a recovered execution carries in its error, outcome and ledger entries. */
export const LEASE_EXPIRED = "LEASE_EXPIRED";

/** When the lease of an execution ends: the stored lease, else the first attempt's implicit one. */
export function leaseEnd(e: { startedAt: Date; leaseExpiresAt: Date | null }): Date {
  return e.leaseExpiresAt ?? new Date(e.startedAt.getTime() + EXECUTION_LEASE_MS);
}

export function leaseExpired(e: { status: string; startedAt: Date; leaseExpiresAt: Date | null }, now: Date): boolean {
  return e.status === "EXECUTING" && leaseEnd(e).getTime() <= now.getTime();
}

/**
 * Connectors whose call may be repeated: the internal connector only writes in the finishing
 * transaction, and the webhook receiver (CRM middleware, Zapier, Slack relay) dedupes on the
 * unchanged `idempotency-key`. SMTP has no such key an MTA honours: a retry could mail twice.
 */
export const RETRY_SAFE_CONNECTORS: readonly string[] = ["internal", "webhook"];

export type RecoveryRefusal = "NOT_RETRY_SAFE" | "ATTEMPTS_EXHAUSTED" | "KILL_SWITCH_ACTIVE";

export type Recovery = { kind: "RETRY"; attempt: number } | { kind: "FAIL"; reason: typeof LEASE_EXPIRED; refusal: RecoveryRefusal };

export function decideRecovery(input: { connector: string; attempts: number; killSwitchActive: boolean }): Recovery {
  const fail = (refusal: RecoveryRefusal): Recovery => ({ kind: "FAIL", reason: LEASE_EXPIRED, refusal });
  // A switch turned on while the call hung is a person saying "stop": never re-send behind it.
  if (input.killSwitchActive) return fail("KILL_SWITCH_ACTIVE");
  if (!RETRY_SAFE_CONNECTORS.includes(input.connector)) return fail("NOT_RETRY_SAFE");
  if (input.attempts >= MAX_EXECUTION_ATTEMPTS) return fail("ATTEMPTS_EXHAUSTED");
  return { kind: "RETRY", attempt: input.attempts + 1 };
}

/** The sentence stored as the execution's error and shown in the timeline. */
export function recoveryError(refusal: RecoveryRefusal, attempts: number): string {
  const why =
    refusal === "KILL_SWITCH_ACTIVE"
      ? "a kill switch now covers it, so it was not retried"
      : refusal === "NOT_RETRY_SAFE"
        ? "its connector cannot tell a retry from a new request, so it was not retried"
        : `it had already been tried ${attempts} times`;
  return `${LEASE_EXPIRED}: the process running this execution stopped before it finished and ${why}`;
}
