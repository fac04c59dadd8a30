import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as explanationGet } from "@/app/api/v1/autonomy/ledger/explanation/route";
import { GET as ledgerGet } from "@/app/api/v1/ledger/route";
import { POST as signalsPost } from "@/app/api/v1/signals/route";
import { fixedClock } from "@/server/clock";
import { addressesIn } from "@/server/engine/synthesis";
import { queueHandlers } from "@/server/jobs/registry";
import { createApiKey } from "@/server/services/apiKeys";
import { fireDueTriggers } from "@/server/services/decisions";
import { runWorkerTick } from "@/server/services/jobQueue";
import { verifyLedger } from "@/server/services/ledger";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { alwaysOn, autonomous } from "../helpers/gate";

/**
 * One pushed signal is one story (SPEC §2, §4.3): followed over REST by its correlation id from
 * SIGNAL_RECEIVED to OUTCOME_RECORDED, and named by id in the explanation of what it led to.
 */
let t: TestDb;
let a: TestTenant;
let b: TestTenant;
let key: string;

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  key = (
    await createApiKey(
      t.db,
      { tenantId: a.id, name: "crm", scopes: ["ingest", "read"], actor: { type: "SYSTEM", id: "t" } },
      fixedClock(new Date()),
    )
  ).key;
});
afterAll(() => t.cleanup());

const get = async (handler: (req: Request) => Promise<Response>, path: string) => {
  const res = await handler(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${key}` } }));
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};
const push = async (body: Record<string, unknown>) => {
  const res = await signalsPost(
    new Request("http://127.0.0.1/api/v1/signals", {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    }),
  );
  expect(res.status).toBe(202);
  return ((await res.json()) as { signal_id: string }).signal_id;
};

/** What the scheduler and the worker do once the debounce window is due. */
async function decideAfter(seconds: number) {
  // The REST edge runs on the system clock; the jobs run a little later on an injected one.
  const clock = fixedClock(new Date(Date.now() + seconds * 1000));
  const fired = await fireDueTriggers(t.db, clock);
  await runWorkerTick(t.db, queueHandlers({ db: t.db, clock, synthesizer: rulesSynthesizer, connectors: { smtp: null }, workerId: "w" }), {
    owner: "w",
    leaseSeconds: 120,
    maxJobs: 50,
    clock,
  });
  return fired;
}

type Entry = { seq: number; type: string; correlation_id: string; payload: Record<string, unknown> };

describe(`one story per signal on ${TEST_PROVIDER}`, () => {
  it("a REST signal is followed by its correlation id from SIGNAL_RECEIVED to OUTCOME_RECORDED; coalesced signals join it; the explanation names both", async () => {
    const account = a.accounts.seller[0] as string;
    const it = await t.db.contact.create({
      data: { tenantId: a.id, accountId: account, name: "Ivan Ito", email: "ivan@customer.example", title: "IT Director" },
    });
    await autonomous(t.db, a.admin.viewer, "FLAG_FOR_REVIEW", { maxPerDay: 5 });
    await alwaysOn(t.db, a.admin.viewer, [account]); // a decision run's proposal runs alone only with always-on

    const first = await push({
      account_id: account,
      signal_type: "SUPPORT_RISK_EMERGING",
      severity: "high",
      evidence: { open_p1_tickets: 2 },
    });
    const second = await push({
      account_id: account,
      signal_type: "SUPPORT_RISK_EMERGING",
      severity: "critical",
      evidence: { open_p1_tickets: 3 },
    });
    // Another account's signal is another story.
    const elsewhere = await push({
      account_id: a.accounts.seller[1],
      signal_type: "SUPPORT_RISK_EMERGING",
      severity: "high",
      evidence: {},
    });

    const received = (await get(ledgerGet, `/api/v1/ledger?type=SIGNAL_RECEIVED&limit=50`)).items as Entry[];
    const story = received.find((e) => e.payload.signal_id === first)?.correlation_id as string;
    expect(story).toEqual(expect.any(String));
    expect(received.find((e) => e.payload.signal_id === second)?.correlation_id).toBe(story);
    expect(received.find((e) => e.payload.signal_id === elsewhere)?.correlation_id).not.toBe(story);

    expect((await decideAfter(150)).fired).toBe(2);

    const entries = ((await get(ledgerGet, `/api/v1/ledger?correlation_id=${encodeURIComponent(story)}&limit=100`)).items as Entry[]).sort(
      (x, y) => x.seq - y.seq,
    );
    const types = entries.map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(["SIGNAL_RECEIVED", "SIGNAL_RECEIVED", "TRIGGER_SUPPRESSED"]);
    for (const step of [
      "TRIGGER_FIRED",
      "COST_GATE_EVALUATED",
      "DECISION_SYNTHESIZED",
      "INTENT_PROPOSED",
      "POLICY_EVALUATED",
      "BUDGET_CONSUMED",
      "EXECUTION_SUCCEEDED",
      "OUTCOME_RECORDED",
    ]) {
      expect(types).toContain(step);
    }
    // In spine order: the trigger before the gate, the gate before synthesis, synthesis before the outcome.
    expect(types.indexOf("TRIGGER_FIRED")).toBeLessThan(types.indexOf("COST_GATE_EVALUATED"));
    expect(types.indexOf("COST_GATE_EVALUATED")).toBeLessThan(types.indexOf("INTENT_PROPOSED"));
    expect(types.lastIndexOf("OUTCOME_RECORDED")).toBeGreaterThan(types.indexOf("POLICY_EVALUATED"));
    expect(entries.find((e) => e.type === "TRIGGER_FIRED")?.payload.signal_ids).toEqual([first, second]);
    // Nothing of the other account's story leaked into this one.
    expect(entries.every((e) => e.payload.signal_id === undefined || [first, second].includes(e.payload.signal_id as string))).toBe(true);

    const synthesized = entries.find((e) => e.type === "DECISION_SYNTHESIZED")?.payload as {
      proposals: { action_intent_id: string; action_type: string; status: string }[];
    };
    const flag = synthesized.proposals.find((p) => p.action_type === "FLAG_FOR_REVIEW");
    expect(flag?.status).toBe("SUCCEEDED");
    const email = synthesized.proposals.find((p) => p.action_type === "SEND_EMAIL");
    expect(email?.status).toBe("PENDING_APPROVAL");

    // Every address in every proposal of the story is one of the account's contacts.
    const contacts = new Set((await t.db.contact.findMany({ where: { accountId: account } })).map((c) => c.email));
    const proposed = entries.filter((e) => e.type === "INTENT_PROPOSED");
    expect(proposed.length).toBe(synthesized.proposals.length);
    for (const p of proposed) for (const addr of addressesIn(p.payload.parameters)) expect(contacts.has(addr)).toBe(true);
    expect(proposed.find((p) => p.payload.action_type === "SEND_EMAIL")?.payload.parameters).toMatchObject({
      to: "ivan@customer.example",
      contact_id: it.id,
    });

    for (const intentId of [flag?.action_intent_id, email?.action_intent_id]) {
      const x = await get(explanationGet, `/api/v1/autonomy/ledger/explanation?action_intent_id=${intentId}`);
      expect(x.correlation_id).toBe(story);
      const knew = x.what_it_knew as {
        signals: { id: string; type: string; seq: number | null }[];
        synthesizer_input: { contacts: { email: string }[]; signals: { id: string }[] };
      };
      expect(knew.signals.map((s) => s.id)).toEqual([first, second]);
      expect(knew.signals.every((s) => typeof s.seq === "number")).toBe(true);
      expect(knew.synthesizer_input.contacts.map((c) => c.email)).toContain("ivan@customer.example");
      expect(knew.synthesizer_input.signals.map((s) => s.id)).toEqual(expect.arrayContaining([first, second]));
      expect(knew.synthesizer_input.signals.map((s) => s.id)).not.toContain(elsewhere);
    }
  });

  it("research runs on stored data: two usage signals → an autonomous usage analysis with their numbers", async () => {
    const account = a.accounts.seller[2] as string;
    await autonomous(t.db, a.admin.viewer, "ANALYZE_USAGE_PATTERNS", { maxPerDay: 5 });
    await alwaysOn(t.db, a.admin.viewer, [account]);
    await push({
      account_id: account,
      signal_type: "USAGE_TREND_CHANGE",
      severity: "medium",
      evidence: { metric: "seats", change_pct: -30 },
    });
    await push({
      account_id: account,
      signal_type: "USAGE_TREND_CHANGE",
      severity: "high",
      evidence: { metric: "seats", change_pct: -10 },
    });
    expect((await decideAfter(150)).fired).toBe(1);
    const intent = await t.db.actionIntent.findFirstOrThrow({
      where: { tenantId: a.id, accountId: account, actionType: "ANALYZE_USAGE_PATTERNS" },
    });
    expect(intent.status).toBe("SUCCEEDED");
    const execution = await t.db.execution.findFirstOrThrow({ where: { intentId: intent.id } });
    const artifact = await t.db.internalArtifact.findFirstOrThrow({ where: { executionId: execution.id } });
    expect(artifact.body).toContain("Computed from 2 usage signals");
    expect(artifact.body).toContain("Average of 2 reported changes: −20%");
    expect(artifact.body).toContain("Range: −30% to −10%");
  });

  it("a story never crosses tenants, and every ledger verifies", async () => {
    expect(await t.db.ledgerEntry.count({ where: { tenantId: b.id, type: { in: ["SIGNAL_RECEIVED", "TRIGGER_FIRED"] } } })).toBe(0);
    expect(await verifyLedger(t.db, a.id)).toMatchObject({ ok: true });
    expect(await verifyLedger(t.db, b.id)).toMatchObject({ ok: true });
  });
});
