import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "@/server/api/root";
import { fixedClock } from "@/server/clock";
import { parseLedgerPayload } from "@/server/engine/ledgerPayloads";
import { queueHandlers } from "@/server/jobs/registry";
import type { Viewer } from "@/server/repos/scope";
import { updateCrmAccount } from "@/server/services/accounts";
import { type DecisionDeps, fireDueTriggers } from "@/server/services/decisions";
import { runWorkerTick } from "@/server/services/jobQueue";
import { listLedgerEntries } from "@/server/services/ledger";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { ingestSignal } from "@/server/services/signals";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { autonomous, deps as gateDeps, intent, submitIntent } from "../helpers/gate";

/**
 * The payload union is a read-side contract for what the production paths write. This drives the
 * real services (gate, reviews, config, keys, CRM update, signals → trigger → decision run) and
 * reads back every entry through the same service the ledger explorer uses: each must parse as its
 * own type, none as UNRECOGNIZED.
 */

let t: TestDb;
let a: TestTenant;
const clock = fixedClock("2026-03-02T10:00:00Z");
const system = (tenant: TestTenant): Viewer => ({ tenantId: tenant.id, actor: { type: "SYSTEM", id: "test" }, role: null, userId: null });

beforeAll(async () => {
  t = await freshDb();
  a = await makeTenant(t.db);
});
afterAll(() => t.cleanup());

describe(`ledger payloads written on ${TEST_PROVIDER}`, () => {
  it("every entry the production paths write parses as its own variant", async () => {
    const admin = createCaller({ db: t.db, clock, session: a.admin.session });
    const seller = createCaller({ db: t.db, clock, session: a.seller.session });
    const account = a.accounts.seller[0] as string;

    // Config writes, an autonomous execution, budget use.
    await autonomous(t.db, a.admin.viewer, "CREATE_INTERNAL_TASK", { accountId: account, maxPerDay: 3 });
    expect((await submitIntent(gateDeps(t.db), a.admin.viewer, intent(account))).decision).toBe("AUTO_EXECUTE");
    // Human review: approve with an edit, reject.
    const draft = () =>
      submitIntent(
        gateDeps(t.db),
        a.admin.viewer,
        intent(account, { actionType: "DRAFT_EMAIL", parameters: { to: "c1@example.test", subject: "Renewal", body: "Hi" } }),
      );
    const p1 = (await draft()).actionIntentId;
    const p2 = (await draft()).actionIntentId;
    await seller.work.approve({ id: p1, editedParameters: { subject: "Renewal — new terms" } });
    await seller.work.reject({ id: p2, reason: "not now" });
    // Kill switch, API keys, a CRM update.
    await admin.autonomy.setKillSwitch({ scope: "TENANT", enabled: true, reason: "incident" });
    await admin.autonomy.setKillSwitch({ scope: "TENANT", enabled: false, reason: "resolved" });
    const key = await admin.apiKeys.create({ name: "crm", scopes: ["ingest"] });
    await admin.apiKeys.revoke({ id: key.record.id });
    await updateCrmAccount(t.db, a.admin.viewer, account, { posture: "AT_RISK" }, clock);
    // A signal through the decision layer.
    await ingestSignal(
      t.db,
      system(a),
      { accountId: account, signalType: "SUPPORT_RISK_EMERGING", severity: "high", evidence: { open_p1_tickets: 2 }, source: "test" },
      clock,
    );
    clock.advance(10 * 60_000);
    await fireDueTriggers(t.db, clock);
    const decisionDeps: DecisionDeps & { workerId: string } = {
      db: t.db,
      clock,
      synthesizer: rulesSynthesizer,
      connectors: { smtp: null },
      workerId: "payloads",
    };
    await runWorkerTick(t.db, queueHandlers(decisionDeps), { owner: "payloads", leaseSeconds: 120, maxJobs: 100, clock });

    const entries = [];
    let cursor: string | undefined;
    do {
      const page = await listLedgerEntries(t.db, a.admin.viewer, {}, { limit: 100, cursor });
      entries.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);

    const types = new Set(entries.map((e) => e.type));
    // The flows above reach these; if one stops being written, this test should be revisited.
    for (const expected of [
      "CONFIG_CHANGED",
      "INTENT_PROPOSED",
      "POLICY_EVALUATED",
      "BUDGET_CONSUMED",
      "EXECUTION_STARTED",
      "EXECUTION_SUCCEEDED",
      "OUTCOME_RECORDED",
      "APPROVAL_REQUESTED",
      "INTENT_APPROVED",
      "INTENT_REJECTED",
      "KILL_SWITCH_CHANGED",
      "API_KEY_CREATED",
      "API_KEY_REVOKED",
      "ACCOUNT_UPDATED",
      "SIGNAL_RECEIVED",
      "TRIGGER_FIRED",
      "COST_GATE_EVALUATED",
      "DECISION_SYNTHESIZED",
    ]) {
      expect(types, expected).toContain(expected);
    }
    for (const e of entries) {
      const parsed = parseLedgerPayload(e.type, e.payload);
      expect(parsed.type, `${e.type} ${JSON.stringify(e.payload)}`).toBe(e.type);
    }
  });
});
