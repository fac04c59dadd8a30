import { describe, expect, it } from "vitest";
import {
  decideRecovery,
  EXECUTION_LEASE_MS,
  LEASE_EXPIRED,
  leaseEnd,
  leaseExpired,
  MAX_EXECUTION_ATTEMPTS,
  recoveryError,
} from "@/server/engine/recovery";

const started = new Date("2026-03-02T10:00:00Z");
const at = (ms: number) => new Date(started.getTime() + ms);

describe("execution leases", () => {
  it("without a stored lease, the lease ends EXECUTION_LEASE_MS after the start; a stored one wins", () => {
    expect(leaseEnd({ startedAt: started, leaseExpiresAt: null })).toEqual(at(EXECUTION_LEASE_MS));
    expect(leaseEnd({ startedAt: started, leaseExpiresAt: at(1000) })).toEqual(at(1000));
  });

  it("expires exactly at the lease end, and only for EXECUTING rows", () => {
    const row = { status: "EXECUTING", startedAt: started, leaseExpiresAt: null };
    expect(leaseExpired(row, at(EXECUTION_LEASE_MS - 1))).toBe(false);
    expect(leaseExpired(row, at(EXECUTION_LEASE_MS))).toBe(true);
    expect(leaseExpired({ ...row, status: "SUCCEEDED" }, at(EXECUTION_LEASE_MS * 2))).toBe(false);
    expect(leaseExpired({ ...row, status: "FAILED" }, at(EXECUTION_LEASE_MS * 2))).toBe(false);
  });

  it("outlives every connector's own timeout by a wide margin", () => {
    expect(EXECUTION_LEASE_MS).toBeGreaterThanOrEqual(10 * 10_000);
  });
});

describe("decideRecovery", () => {
  it("retries internal and webhook calls once, with the next attempt number", () => {
    expect(decideRecovery({ connector: "webhook", attempts: 1, killSwitchActive: false })).toEqual({ kind: "RETRY", attempt: 2 });
    expect(decideRecovery({ connector: "internal", attempts: 1, killSwitchActive: false })).toEqual({ kind: "RETRY", attempt: 2 });
  });

  it("never retries SMTP, whose receivers cannot dedupe", () => {
    expect(decideRecovery({ connector: "email", attempts: 1, killSwitchActive: false })).toEqual({
      kind: "FAIL",
      reason: LEASE_EXPIRED,
      refusal: "NOT_RETRY_SAFE",
    });
  });

  it("fails once the attempts are used up", () => {
    expect(MAX_EXECUTION_ATTEMPTS).toBe(2);
    expect(decideRecovery({ connector: "webhook", attempts: MAX_EXECUTION_ATTEMPTS, killSwitchActive: false })).toEqual({
      kind: "FAIL",
      reason: LEASE_EXPIRED,
      refusal: "ATTEMPTS_EXHAUSTED",
    });
    expect(decideRecovery({ connector: "webhook", attempts: MAX_EXECUTION_ATTEMPTS + 3, killSwitchActive: false }).kind).toBe("FAIL");
  });

  it("a kill switch refuses the retry before anything else", () => {
    for (const connector of ["webhook", "internal", "email"]) {
      expect(decideRecovery({ connector, attempts: 1, killSwitchActive: true })).toEqual({
        kind: "FAIL",
        reason: LEASE_EXPIRED,
        refusal: "KILL_SWITCH_ACTIVE",
      });
    }
  });

  it("the reason code is LEASE_EXPIRED (a contract: outcomes and the ledger carry it)", () => {
    expect(LEASE_EXPIRED).toBe("LEASE_EXPIRED");
  });

  it("each refusal reads differently and starts with the reason code", () => {
    const lines = (["NOT_RETRY_SAFE", "ATTEMPTS_EXHAUSTED", "KILL_SWITCH_ACTIVE"] as const).map((r) => recoveryError(r, 2));
    for (const l of lines) expect(l.startsWith(`${LEASE_EXPIRED}: the process running this execution stopped`)).toBe(true);
    expect(new Set(lines).size).toBe(3);
    expect(lines[0]).toContain("cannot tell a retry from a new request");
    expect(lines[1]).toContain("already been tried 2 times");
    expect(lines[2]).toContain("kill switch");
  });
});
