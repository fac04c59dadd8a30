import { randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { ACTION_TYPE_NAMES, ACTION_TYPES, type ActionType } from "../engine/actions";
import type { Actor } from "../engine/ledger";
import { notFound } from "../errors";
import { createImportedAccount } from "../repos/imports";
import { appendLedgerBatch, type LedgerAppend, ledgerHead } from "../repos/ledger";
import { demoAccountIds } from "../repos/seed";
import { findTenantBySlug, listMembers } from "../repos/tenants";
import { inTransaction } from "../repos/tx";
import { LIFECYCLES, POSTURES } from "../schemas/common";
import { DEMO_SIGNALS, INDUSTRIES, PREFIXES, prng, SUFFIXES } from "./seed";

/**
 * Bulk fixtures for benchmarks and scale tests (`npm run cli -- fixtures`): accounts through the
 * import's account writer and ledger entries through `appendLedgerBatch`, so the chain is exactly
 * what production writes (hash-linked, dense seq, redacted payloads) and `ledger verify` passes.
 * The entries tell stories — a signal, the trigger it fired, the proposed intent, the gate's
 * decision, then execution or approval — on one correlation id each, spread over the last 30 days.
 * They are ledger rows only (no intents or executions behind them): enough for exports, streams,
 * the explorer and verification at scale, never for the gate or learning.
 */

const LEDGER_BATCH = 2_000;
const ACCOUNT_BATCH = 250;
const SPAN_MS = 30 * 86_400_000;
const REGIONS = ["", " EMEA", " APAC", " Americas", " Holdings", " Group", " International", " Labs"];
const GATE: Actor = { type: "SYSTEM", id: "gate" };
const EXECUTOR: Actor = { type: "SYSTEM", id: "executor" };

export interface FixtureProgress {
  phase: "accounts" | "ledger";
  done: number;
  total: number;
}

export interface FixtureOptions {
  tenantSlug: string;
  accounts?: number;
  ledgerRows?: number;
  /** fixed by default so two runs on fresh databases write the same shapes (ids and times differ) */
  seed?: number;
  onProgress?: (p: FixtureProgress) => void;
}

type Draft = Omit<LedgerAppend, "tenantId">;
type Rand = ReturnType<typeof prng>;

/** One correlated story: the entries a signal leads to, in the order the real services write them. */
function story(r: Rand, accountId: string | null, sellers: string[]): Draft[] {
  const correlationId = randomUUID();
  const at = (d: Omit<Draft, "accountId" | "correlationId">): Draft => ({ ...d, accountId, correlationId }) as Draft;
  const signal = r.pick(DEMO_SIGNALS);
  const out: Draft[] = [
    at({
      type: "SIGNAL_RECEIVED",
      actor: { type: "SYSTEM", id: "intake" },
      payload: {
        signal_id: `sig_${randomUUID()}`,
        signal_type: signal.type,
        severity: signal.severity,
        evidence: signal.evidence(r),
        source: r.pick(["crm", "product_usage", "support", "api"]),
      },
    }),
  ];
  // Most signals are coalesced into a window and suppressed; the rest fire a decision run.
  if (r.next() < 0.3) {
    out.push(
      at({
        type: "TRIGGER_SUPPRESSED",
        actor: { type: "SYSTEM", id: "triggers" },
        payload: { trigger_type: "SIGNAL_ARRIVED", reason: "COALESCED", coalesced_events: r.int(2, 6) },
      }),
    );
    return out;
  }
  const runId = `run_${randomUUID()}`;
  const intentId = `int_${randomUUID()}`;
  const actionType: ActionType = r.pick(ACTION_TYPE_NAMES);
  const spec = ACTION_TYPES[actionType];
  const confidence = Math.round((0.55 + r.next() * 0.44) * 100) / 100;
  out.push(
    at({
      type: "TRIGGER_FIRED",
      actor: { type: "SYSTEM", id: "triggers" },
      payload: { trigger_type: "SIGNAL_ARRIVED", run_id: runId, source: "system" },
    }),
    at({
      type: "INTENT_PROPOSED",
      actor: { type: "SYSTEM", id: "synthesizer" },
      payload: {
        action_intent_id: intentId,
        action_type: actionType,
        confidence,
        risk_level: spec.risk,
        why: [`${signal.type.toLowerCase().replaceAll("_", " ")} on this account`],
        source: "DECISION",
      },
    }),
  );
  const auto = spec.mayAutoExecute && !spec.externalContact && r.next() < 0.6;
  out.push(
    at({
      type: "POLICY_EVALUATED",
      actor: GATE,
      payload: auto
        ? {
            action_intent_id: intentId,
            action_type: actionType,
            decision: "AUTO_EXECUTE",
            reason: "POLICY_SATISFIED",
            policy_clause: "P13.auto-execute",
            clauses: ["P13.auto-execute"],
            mode: "AUTO_EXECUTE",
            allowlisted: true,
          }
        : {
            action_intent_id: intentId,
            action_type: actionType,
            decision: "REQUIRE_APPROVAL",
            reason: spec.externalContact ? "EXTERNAL_CONTACT" : "MODE_APPROVAL_REQUIRED",
            mode: "APPROVAL_REQUIRED",
            allowlisted: false,
          },
    }),
  );
  const executionId = `exe_${randomUUID()}`;
  const execute = (approvalSource: string) => {
    const ok = r.next() < 0.93;
    out.push(
      at({
        type: "EXECUTION_STARTED",
        actor: EXECUTOR,
        payload: {
          execution_id: executionId,
          action_intent_id: intentId,
          action_type: actionType,
          approval_source: approvalSource,
          auto_executed: auto,
        },
      }),
      ok
        ? at({
            type: "EXECUTION_SUCCEEDED",
            actor: EXECUTOR,
            payload: { execution_id: executionId, action_intent_id: intentId, connector: spec.connector, auto_executed: auto },
          })
        : at({
            type: "EXECUTION_FAILED",
            actor: EXECUTOR,
            payload: {
              execution_id: executionId,
              action_intent_id: intentId,
              connector: spec.connector,
              error: "connector timed out",
              retryable: true,
            },
          }),
      at({
        type: "OUTCOME_RECORDED",
        actor: { type: "SYSTEM", id: "outcomes" },
        payload: { action_intent_id: intentId, execution_id: executionId, label: ok ? "EXECUTION_SUCCEEDED" : "EXECUTION_FAILED" },
      }),
    );
  };
  if (auto) {
    out.push(
      at({
        type: "BUDGET_CONSUMED",
        actor: GATE,
        payload: { action_intent_id: intentId, date_key: "fixture", cap: 50, consumed: r.int(1, 50) },
      }),
    );
    execute("POLICY");
    return out;
  }
  out.push(at({ type: "APPROVAL_REQUESTED", actor: GATE, payload: { action_intent_id: intentId, reason: "MODE_APPROVAL_REQUIRED" } }));
  const reviewer: Actor = { type: "USER", id: sellers.length ? r.pick(sellers) : null };
  if (r.next() < 0.75) {
    out.push(at({ type: "INTENT_APPROVED", actor: reviewer, payload: { action_intent_id: intentId, edited: false } }));
    execute("HUMAN");
  } else {
    out.push(
      at({ type: "INTENT_REJECTED", actor: reviewer, payload: { action_intent_id: intentId, reason: "not the right moment" } }),
      at({
        type: "OUTCOME_RECORDED",
        actor: { type: "SYSTEM", id: "outcomes" },
        payload: { action_intent_id: intentId, label: "IDEA_REJECTED" },
      }),
    );
  }
  return out;
}

export async function writeFixtures(
  db: Db,
  clock: Clock,
  opts: FixtureOptions,
): Promise<{ accounts: number; ledgerRows: number; headSeq: number }> {
  const tenant = await findTenantBySlug(db, opts.tenantSlug);
  if (!tenant) throw notFound(`tenant "${opts.tenantSlug}"`);
  const accountsWanted = opts.accounts ?? 0;
  const rowsWanted = opts.ledgerRows ?? 0;
  const r = prng(opts.seed ?? 11);
  const members = await listMembers(db, tenant.id);
  const sellers = members.filter((m) => m.role === "SELLER").map((m) => m.userId);
  const owners = sellers.length ? sellers : members.map((m) => m.userId);
  const now = clock.now();

  // Accounts: through the import's writer, with an external id unique to this run so a second
  // run adds accounts rather than colliding with the first.
  const run = randomUUID().slice(0, 8);
  const accountIds: string[] = [];
  for (let i = 0; i < accountsWanted; i += ACCOUNT_BATCH) {
    const n = Math.min(ACCOUNT_BATCH, accountsWanted - i);
    const created = await inTransaction(db, async (tx) => {
      const ids: string[] = [];
      for (let j = i; j < i + n; j++) {
        const base = `${PREFIXES[j % PREFIXES.length]} ${SUFFIXES[Math.floor(j / PREFIXES.length) % SUFFIXES.length]}`;
        const cycle = Math.floor(j / (PREFIXES.length * SUFFIXES.length));
        const name = `${base}${REGIONS[cycle % REGIONS.length]}${cycle >= REGIONS.length ? ` ${Math.floor(cycle / REGIONS.length) + 1}` : ""}`;
        const domain = `${name.toLowerCase().replace(/[^a-z0-9]+/g, "")}.example.com`;
        const lifecycle = r.pick(LIFECYCLES);
        const a = await createImportedAccount(
          tx,
          tenant.id,
          {
            externalId: `fixture-${run}-${j}`,
            name,
            domain,
            industry: r.pick(INDUSTRIES),
            ownerId: owners.length ? r.pick(owners) : undefined,
            lifecycle,
            posture: r.pick(POSTURES),
            arrCents: lifecycle === "CUSTOMER" ? r.int(12, 480) * 100_000 : 0,
          },
          now,
        );
        ids.push(a.id);
      }
      return ids;
    });
    accountIds.push(...created);
    opts.onProgress?.({ phase: "accounts", done: accountIds.length, total: accountsWanted });
  }

  // Ledger: stories cut into batches of LEDGER_BATCH rows, one transaction each. A batch is one
  // `now` (appendLedgerBatch stamps the whole batch), so time advances per batch across the last
  // 30 days, ending at the clock's now; a story cut at a batch edge simply spans two moments.
  const pool = accountIds.length ? accountIds : (await demoAccountIds(db, tenant.id)).map((a) => a.id);
  const batches = Math.ceil(rowsWanted / LEDGER_BATCH);
  let pending: Draft[] = [];
  let written = 0;
  for (let b = 0; b < batches; b++) {
    const size = Math.min(LEDGER_BATCH, rowsWanted - written);
    while (pending.length < size) pending.push(...story(r, pool.length ? r.pick(pool) : null, sellers));
    const batch = pending.slice(0, size);
    pending = pending.slice(size);
    const at = new Date(now.getTime() - Math.round((SPAN_MS * (batches - 1 - b)) / Math.max(1, batches - 1)));
    await inTransaction(db, (tx) => appendLedgerBatch(tx, tenant.id, batch, at));
    written += size;
    opts.onProgress?.({ phase: "ledger", done: written, total: rowsWanted });
  }
  const head = await ledgerHead(db, tenant.id);
  return { accounts: accountIds.length, ledgerRows: written, headSeq: head?.seq ?? 0 };
}
