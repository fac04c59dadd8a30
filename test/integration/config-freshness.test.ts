import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUT as allowPut } from "@/app/api/v1/autonomy/allowlist/route";
import { PUT as alwaysOnPut } from "@/app/api/v1/autonomy/always-on/route";
import { PUT as budgetPut } from "@/app/api/v1/autonomy/budget/route";
import { PUT as configPut } from "@/app/api/v1/autonomy/config/route";
import { PUT as killPut } from "@/app/api/v1/autonomy/kill-switches/route";
import { POST as proposalDiscard } from "@/app/api/v1/autonomy/policy-proposals/[id]/discard/route";
import { POST as proposalEnforce } from "@/app/api/v1/autonomy/policy-proposals/[id]/enforce/route";
import { POST as proposalsPost } from "@/app/api/v1/autonomy/policy-proposals/route";
import { PUT as connectorPut } from "@/app/api/v1/connectors/[name]/route";
import { PUT as digestSettingsPut } from "@/app/api/v1/digest/settings/route";
import { POST as alertPost } from "@/app/api/v1/hooks/kill-switch/[token]/route";
import { POST as intentsPost } from "@/app/api/v1/intents/route";
import { PUT as pullBudgetPut } from "@/app/api/v1/perception/budget/route";
import { PUT as cadencePut } from "@/app/api/v1/perception/cadence/route";
import { appRouter, createCaller } from "@/server/api/root";
import { fixedClock, systemClock } from "@/server/clock";
import { secretKeyFrom } from "@/server/connectors/secretBox";
import { type ConfigTx, withConfigWrite } from "@/server/repos/autonomy";
import { inTransaction } from "@/server/repos/tx";
import { createApiKey } from "@/server/services/apiKeys";
import { requestPull, runPerceptionTick } from "@/server/services/perception";
import type { PullRunner } from "@/server/services/pullRunners";
import { invokeWithResilience } from "@/server/services/resilience";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { FakeHubspot } from "../helpers/fakeHubspot";
import { approveAndRun, runDecisionNow } from "../helpers/gate";

/**
 * SPEC §4.1: "changes apply to the very next evaluation on every instance without restart — by
 * construction". This file enumerates every configuration-writing tRPC procedure, REST endpoint
 * and CLI command (a new one that is not classified here fails the first tests) and proves, in
 * this one long-lived process with a warm gate cache (evaluate → change → evaluate, never a fresh
 * import), that the next intent through the real `POST /api/v1/intents` handler obeys each
 * narrowing and each widening; then the same across two processes.
 */

const run = promisify(execFile);
// The connector routes seal the CRM token with this key (read by env() at the edge, lazily).
process.env.CONNECTOR_SECRET_KEY ??= "config-freshness-connector-key";
let t: TestDb;
let a: TestTenant;
const k: { admin: string; ingest: string } = { admin: "", ingest: "" };
const T = "CREATE_INTERNAL_NOTE";

// ─────────────── the classification: every mutation, endpoint and CLI command ───────────────

/** Writers of configuration the gate or the decision path reads: each has a freshness scenario below. */
const GATE_CONFIG_PROCEDURES = [
  "autonomy.setMode",
  "autonomy.setAllowlist",
  "autonomy.setBudget",
  "autonomy.setKillSwitch",
  "decisions.saveSettings",
  "connectors.put",
  "alwaysOn.setTenant",
  "alwaysOn.setAccount",
  "digest.saveSettings",
  "policyLab.start",
  "policyLab.enforce",
  "policyLab.discard",
] as const;
/** Mutations that change no configuration the gate or decision path caches, and why. */
const OTHER_PROCEDURES: Record<string, string> = {
  "ledger.verify": "reads the chain",
  "apiKeys.create": "credentials; authentication reads keys fresh on every request",
  "apiKeys.revoke": "credentials; authentication reads keys fresh on every request",
  "work.approve": "a human decision on one intent",
  "work.reject": "a human decision on one intent",
  "work.reviewMany": "human decisions on intents",
  "autonomy.setWebhook": "connector settings (through withConfigWrite), read fresh by each execution (proved by the CLI webhook scenario)",
  "decisions.setCadence": "ritual slots, read fresh by each ritual tick (not cached)",
  "decisions.runNow": "requests one decision run",
  "imports.create": "CRM data (a CSV import), not configuration",
  "connectors.syncNow": "runs one CRM pull (CRM data, not configuration)",
  "perception.pull": "requests one pull (a decision, ledgered; not configuration)",
  "learning.calibrate": "requests a calibration (a CANDIDATE ranking; ranking is never gate input)",
  "learning.promote": "ranking only, never read by the gate",
  "learning.rollback": "ranking only, never read by the gate",
  "learning.saveSettings": "ranking only, never read by the gate",
  "hooks.rotate":
    "the alert hook's own row (which switch, its id), never read by the gate; the switch an alert turns on is the POST hooks/kill-switch/[token] scenario",
  "auditExports.request": "requests an audit export (a read of the ledger, ledgered EXPORT_REQUESTED; not configuration)",
  "auditStream.put": "the SIEM stream's own row (URL, secret, enabled), read fresh by each audit-stream tick, never read by the gate",
  "auditStream.sendNow": "runs one audit-stream tick for the tenant (delivers ledger entries; no configuration)",
  "metrics.rotateToken": "credentials; /api/metrics reads the token hash fresh on every scrape",
  "policyLab.whatIf": "reads only: replays stored evaluations with proposed changes, writes nothing (a mutation for its large input)",
  "approvals.saveSettings":
    "approval settings (through withConfigWrite, ledgered CONFIG_CHANGED): read fresh by the expiry job, the inbox and each admission's webhook notice, never cached by the gate",
  "reliability.setForcedOpen":
    "breaker state (ConnectorBreaker), not configuration: a CLOSED breaker is kept by each process for a 250 ms lease that a force-open or close waits out before it answers (services/admissionLeases.ts; test/integration/resilience.test.ts: force-open through one instance stops the other instance's very next call)",
  "executions.replay": "queues a re-run of one finished execution as a new one (ledgered REPLAY_*; not configuration)",
  "executions.bulkReplay": "queues re-runs of the failed executions of a range (ledgered REPLAY_*; not configuration)",
};
/** Perception configuration (pull budget, cadence table): read fresh by every pull and tick; scenarios at the end. */
const PERCEPTION_CONFIG_PROCEDURES = ["perception.setBudget", "perception.setCadence"] as const;
const PERCEPTION_CONFIG_ROUTES = ["PUT perception/budget", "PUT perception/cadence"] as const;
const GATE_CONFIG_ROUTES = [
  "PUT autonomy/allowlist",
  "PUT autonomy/budget",
  "PUT autonomy/config",
  "PUT autonomy/kill-switches",
  "PUT connectors/[name]",
  "POST hooks/kill-switch/[token]",
  "PUT autonomy/always-on",
  "PUT digest/settings",
  "POST autonomy/policy-proposals",
  "POST autonomy/policy-proposals/[id]/enforce",
  "POST autonomy/policy-proposals/[id]/discard",
] as const;
const OTHER_ROUTES: Record<string, string> = {
  "POST intents": "submits an intent (the evaluation itself)",
  "POST autonomy/what-if": "reads only: replays stored evaluations with proposed changes, writes nothing",
  "POST intents/[id]/approve": "a human decision",
  "POST intents/[id]/reject": "a human decision",
  "POST signals": "CRM data, not configuration",
  "POST decisions/run": "requests a run",
  "PUT accounts/[id]": "CRM data (lifecycle is policy input read per evaluation, never cached)",
  "POST accounts/import": "CRM data (a CSV import), not configuration",
  "POST perception/pulls": "requests one pull (a decision, ledgered; not configuration)",
  "POST learning/weights/[id]/promote": "ranking only, never read by the gate",
  "POST learning/rollback": "ranking only, never read by the gate",
  "PUT learning/settings": "ranking only, never read by the gate",
  "POST learning/calibrations": "requests a calibration (a CANDIDATE ranking; ranking is never gate input)",
  "POST hooks/kill-switch":
    "the alert hook's own row, never read by the gate; the switch an alert turns on is the POST hooks/kill-switch/[token] scenario",
  "POST approvals/[token]": "a human decision through a one-time link",
  "PUT audit/stream": "the SIEM stream's own row, read fresh by each audit-stream tick, never read by the gate",
  "PUT approvals/settings": "approval settings (through withConfigWrite), read fresh by the expiry job, the inbox and each admission",
  "POST autonomy/audit/exports": "requests an audit export (a read of the ledger, ledgered EXPORT_REQUESTED; not configuration)",
  "PUT reliability/connectors/[name]":
    "breaker state (ConnectorBreaker), not configuration: a CLOSED breaker is kept by each process for a 250 ms lease that a force-open or close waits out before it answers (services/admissionLeases.ts; test/integration/resilience.test.ts)",
  "POST executions/[id]/replay": "queues a re-run of one finished execution as a new one (ledgered REPLAY_*; not configuration)",
  "POST executions/replay":
    "queues re-runs (or, dry_run, previews) of the failed executions of a range (ledgered REPLAY_*; not configuration)",
};
const GATE_CONFIG_CLI = ["killswitch"] as const;
const OTHER_CLI: Record<string, string> = {
  seed: "creates demo tenants through the services (their config writes use the same write path)",
  apikey: "credentials",
  ledger: "verifies the chain",
  fixtures: "bulk accounts and ledger rows for benchmarks and scale tests (data, not configuration)",
  tick: "runs a job",
  webhook: "connector settings, read fresh by each execution (proved below: the next delivery uses the new URL)",
  crm: "runs one CRM pull (CRM data, not configuration)",
  learning:
    "runs one calibration (a CANDIDATE ranking), or publish-global / rollback-global move the GLOBAL ranking pointer: ranking only, never read by the gate",
};

function mutationProcedures(): string[] {
  const procs = (appRouter as unknown as { _def: { procedures: Record<string, { _def: { type: string } }> } })._def.procedures;
  return Object.entries(procs)
    .filter(([, p]) => p._def.type === "mutation")
    .map(([name]) => name)
    .sort();
}

function writingRoutes(): string[] {
  const root = path.resolve("app/api/v1");
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "route.ts") {
        const src = fs.readFileSync(p, "utf8");
        for (const m of ["POST", "PUT", "PATCH", "DELETE"])
          if (new RegExp(`export const ${m}\\b|export async function ${m}\\b`).test(src))
            out.push(`${m} ${path.relative(root, path.dirname(p)).split(path.sep).join("/")}`);
      }
    }
  };
  walk(root);
  return out.sort();
}

function cliCommands(): string[] {
  const src = fs.readFileSync(path.resolve("scripts/cli.ts"), "utf8");
  return [...src.matchAll(/^\s*case "([a-z-]+)":/gm)].map((m) => m[1] as string).sort();
}

// ─────────────── the probe: one intent through the real REST handler ───────────────

async function rest(handler: (req: Request, ctx?: never) => Promise<Response>, key: string, method: string, body: unknown) {
  const res = await handler(
    new Request("http://127.0.0.1/api/v1/x", {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300 && method !== "POST") throw new Error(`${method} answered ${res.status}: ${JSON.stringify(json)}`);
  return { status: res.status, json };
}

async function probe(accountId: string, actionType = T) {
  const { status, json } = await rest(intentsPost, k.ingest, "POST", {
    account_id: accountId,
    action_type: actionType,
    confidence: 0.95,
    risk_level: "LOW",
    why: ["RENEWAL_WINDOW_ENTERED"],
    parameters: { title: `probe ${randomUUID()}` },
  });
  expect(status).toBe(201);
  return json as { decision: string; reason: string; status: string; execution_id: string | null };
}

const version = async () => (await t.db.tenant.findUniqueOrThrow({ where: { id: a.id } })).configVersion;
const admin = () => createCaller({ db: t.db, clock: systemClock, session: a.admin.session });

/**
 * Warm the cache with an AUTO_EXECUTE evaluation, narrow, evaluate, widen, evaluate — and check
 * each write bumped the configuration version (the mechanism, not only its effect).
 */
async function narrowThenWiden(accountId: string, narrow: () => Promise<unknown>, reason: string, widen: () => Promise<unknown>) {
  expect(await probe(accountId)).toMatchObject({ decision: "AUTO_EXECUTE", status: "SUCCEEDED" });
  const v0 = await version();
  await narrow();
  expect(await version()).toBeGreaterThan(v0);
  const narrowed = await probe(accountId);
  expect(narrowed).toMatchObject({ reason, execution_id: null });
  expect(narrowed.decision).not.toBe("AUTO_EXECUTE");
  const v1 = await version();
  await widen();
  expect(await version()).toBeGreaterThan(v1);
  expect(await probe(accountId)).toMatchObject({ decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED", status: "SUCCEEDED" });
}

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  const key = async (scopes: ("admin" | "ingest")[]) =>
    (await createApiKey(t.db, { tenantId: a.id, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, systemClock)).key;
  k.admin = await key(["admin"]);
  k.ingest = await key(["ingest"]);
  // Autonomous baseline: workspace default AUTO_EXECUTE, the type allowlisted, a generous budget.
  await admin().autonomy.setAllowlist({ actionTypes: [T, "FLAG_FOR_REVIEW"] });
  await admin().autonomy.setMode({ mode: "AUTO_EXECUTE" });
  await admin().autonomy.setBudget({ maxPerDay: 1000 });
});
afterAll(() => t.cleanup());

describe(`every configuration writer is classified (${TEST_PROVIDER})`, () => {
  it("every tRPC mutation is either a gate-config writer with a scenario here or named as something else", () => {
    const all = mutationProcedures();
    const known = [...GATE_CONFIG_PROCEDURES, ...PERCEPTION_CONFIG_PROCEDURES, ...Object.keys(OTHER_PROCEDURES)].sort();
    expect(all).toEqual(known);
  });

  it("every writing REST endpoint under app/api/v1 is classified", () => {
    expect(writingRoutes()).toEqual([...GATE_CONFIG_ROUTES, ...PERCEPTION_CONFIG_ROUTES, ...Object.keys(OTHER_ROUTES)].sort());
  });

  it("config mutators accept only the handle withConfigWrite gives (checked by the type checker)", async () => {
    const versionBefore = await version();
    await inTransaction(t.db, async (tx) => {
      // @ts-expect-error a plain transaction is not a ConfigTx: it has not bumped the version.
      const plain: ConfigTx = tx;
      return plain;
    });
    const inside = await withConfigWrite(
      t.db,
      a.id,
      async (tx) => (await tx.tenant.findUniqueOrThrow({ where: { id: a.id } })).configVersion,
    );
    expect(inside).toBe(versionBefore + 1);
    await withConfigWrite(t.db, "ALL", async () => undefined);
    expect(await version()).toBe(versionBefore + 2);
  });

  it("every CLI command is classified", () => {
    expect(cliCommands()).toEqual([...GATE_CONFIG_CLI, ...Object.keys(OTHER_CLI)].sort());
  });
});

describe(`tRPC writers: the very next intent obeys (${TEST_PROVIDER}, warm cache)`, () => {
  const acct = (i: number) => a.accounts.seller[i % a.accounts.seller.length] as string;

  it.each([
    ["APPROVAL_REQUIRED", "MODE_APPROVAL_REQUIRED"],
    ["PROPOSE_ONLY", "MODE_PROPOSE_ONLY"],
    ["DISABLED", "ACTION_TYPE_DISABLED"],
  ] as const)("autonomy.setMode, workspace default → %s, then back", async (mode, reason) => {
    await narrowThenWiden(
      acct(0),
      () => admin().autonomy.setMode({ mode }),
      reason,
      () => admin().autonomy.setMode({ mode: "AUTO_EXECUTE" }),
    );
  });

  it.each([
    ["APPROVAL_REQUIRED", "MODE_APPROVAL_REQUIRED"],
    ["PROPOSE_ONLY", "MODE_PROPOSE_ONLY"],
    ["DISABLED", "ACTION_TYPE_DISABLED"],
  ] as const)("autonomy.setMode, workspace per type → %s, then cleared", async (mode, reason) => {
    await narrowThenWiden(
      acct(0),
      () => admin().autonomy.setMode({ actionType: T, mode }),
      reason,
      () => admin().autonomy.setMode({ actionType: T, mode: null }),
    );
  });

  it.each([
    ["APPROVAL_REQUIRED", "MODE_APPROVAL_REQUIRED"],
    ["PROPOSE_ONLY", "MODE_PROPOSE_ONLY"],
    ["DISABLED", "ACTION_TYPE_DISABLED"],
  ] as const)("autonomy.setMode, account + type → %s, then back to AUTO_EXECUTE", async (mode, reason) => {
    await narrowThenWiden(
      acct(1),
      () => admin().autonomy.setMode({ accountId: acct(1), actionType: T, mode }),
      reason,
      () => admin().autonomy.setMode({ accountId: acct(1), actionType: T, mode: "AUTO_EXECUTE" }),
    );
  });

  it("autonomy.setMode, account default → DISABLED, then cleared", async () => {
    await narrowThenWiden(
      acct(2),
      () => admin().autonomy.setMode({ accountId: acct(2), mode: "DISABLED" }),
      "ACTION_TYPE_DISABLED",
      () => admin().autonomy.setMode({ accountId: acct(2), mode: null }),
    );
  });

  it("autonomy.setAllowlist: removal, then re-added", async () => {
    await narrowThenWiden(
      acct(0),
      () => admin().autonomy.setAllowlist({ actionTypes: ["FLAG_FOR_REVIEW"] }),
      "ACTION_TYPE_NOT_ALLOWLISTED",
      () => admin().autonomy.setAllowlist({ actionTypes: [T, "FLAG_FOR_REVIEW"] }),
    );
  });

  it("autonomy.setBudget: lowered to what is already used, then raised", async () => {
    const account = acct(3);
    await admin().autonomy.setBudget({ accountId: account, maxPerDay: 100 });
    await narrowThenWiden(
      account,
      async () => {
        const used = (await admin().autonomy.budget({ accountId: account })).consumedToday;
        await admin().autonomy.setBudget({ accountId: account, maxPerDay: used });
      },
      "BUDGET_EXHAUSTED",
      () => admin().autonomy.setBudget({ accountId: account, maxPerDay: 100 }),
    );
  });

  it("autonomy.setBudget: a per-type cap lowered to zero, then removed", async () => {
    const account = acct(4);
    await admin().autonomy.setBudget({ accountId: account, maxPerDay: 100 });
    await narrowThenWiden(
      account,
      () => admin().autonomy.setBudget({ accountId: account, maxPerDay: 100, perTypeCaps: { [T]: 0 } }),
      "BUDGET_EXHAUSTED",
      () => admin().autonomy.setBudget({ accountId: account, maxPerDay: 100, perTypeCaps: {} }),
    );
  });

  it.each([
    ["TENANT", undefined],
    ["ACTION_TYPE", T],
    ["CONNECTOR", "internal"],
  ] as const)("autonomy.setKillSwitch %s on, then off", async (scope, key) => {
    await narrowThenWiden(
      acct(0),
      () => admin().autonomy.setKillSwitch({ scope, key, enabled: true, reason: "incident" }),
      "KILL_SWITCH_ACTIVE",
      () => admin().autonomy.setKillSwitch({ scope, key, enabled: false, reason: "resolved" }),
    );
  });

  it("decisions.saveSettings: the cost gate's run budget lowered → the next decision run is SKIPPED; raised → ALLOW", async () => {
    const account = acct(5);
    const decide = async () => {
      const runId = await runDecisionNow(t.db, a.admin.viewer, account);
      return t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
    };
    await admin().decisions.saveSettings({ costGate: { minSecondsBetweenRuns: 0, maxOpenIntents: 1000 } });
    expect((await decide()).costGateResult).toBe("ALLOW");
    const v0 = await version();
    await admin().decisions.saveSettings({ costGate: { maxRunsPerDay: 0 } });
    expect(await version()).toBeGreaterThan(v0);
    expect(await decide()).toMatchObject({ costGateResult: "SKIP", reason: "RUN_BUDGET_EXHAUSTED" });
    await admin().decisions.saveSettings({ costGate: { maxRunsPerDay: 500 } });
    expect((await decide()).costGateResult).toBe("ALLOW");
    const changes = await t.db.ledgerEntry.findMany({
      where: { tenantId: a.id, type: "CONFIG_CHANGED", payload: { contains: "decision_settings" } },
    });
    expect(changes.length).toBeGreaterThanOrEqual(3);
  });
});

describe(`REST writers: the very next intent obeys (${TEST_PROVIDER}, warm cache)`, () => {
  const account = () => a.accounts.seller2[0] as string;

  it.each([
    ["APPROVAL_REQUIRED", "MODE_APPROVAL_REQUIRED"],
    ["PROPOSE_ONLY", "MODE_PROPOSE_ONLY"],
    ["DISABLED", "ACTION_TYPE_DISABLED"],
  ] as const)("PUT /autonomy/config workspace → %s, then back", async (mode, reason) => {
    await narrowThenWiden(
      account(),
      () => rest(configPut, k.admin, "PUT", { mode }),
      reason,
      () => rest(configPut, k.admin, "PUT", { mode: "AUTO_EXECUTE" }),
    );
  });

  it.each([
    ["APPROVAL_REQUIRED", "MODE_APPROVAL_REQUIRED"],
    ["PROPOSE_ONLY", "MODE_PROPOSE_ONLY"],
    ["DISABLED", "ACTION_TYPE_DISABLED"],
  ] as const)("PUT /autonomy/config account + type → %s, then cleared", async (mode, reason) => {
    await narrowThenWiden(
      account(),
      () => rest(configPut, k.admin, "PUT", { account_id: account(), action_type: T, mode }),
      reason,
      () => rest(configPut, k.admin, "PUT", { account_id: account(), action_type: T, mode: null }),
    );
  });

  it("PUT /autonomy/allowlist removal, then re-added", async () => {
    await narrowThenWiden(
      account(),
      () => rest(allowPut, k.admin, "PUT", { action_types: ["FLAG_FOR_REVIEW"] }),
      "ACTION_TYPE_NOT_ALLOWLISTED",
      () => rest(allowPut, k.admin, "PUT", { action_types: [T, "FLAG_FOR_REVIEW"] }),
    );
  });

  it("PUT /autonomy/budget lowered to zero, then raised", async () => {
    await narrowThenWiden(
      account(),
      () => rest(budgetPut, k.admin, "PUT", { account_id: account(), max_autonomous_per_day: 0 }),
      "BUDGET_EXHAUSTED",
      () => rest(budgetPut, k.admin, "PUT", { account_id: account(), max_autonomous_per_day: 100 }),
    );
  });

  it("PUT /autonomy/kill-switches TENANT on, then off", async () => {
    await narrowThenWiden(
      account(),
      () => rest(killPut, k.admin, "PUT", { scope: "TENANT", enabled: true, reason: "incident" }),
      "KILL_SWITCH_ACTIVE",
      () => rest(killPut, k.admin, "PUT", { scope: "TENANT", enabled: false, reason: "resolved" }),
    );
  });

  it("POST /hooks/kill-switch/:token (an alert) turns the TENANT switch on; turned off again by an admin", async () => {
    const { token } = await admin().hooks.rotate({ scope: "TENANT" });
    await narrowThenWiden(
      account(),
      async () => {
        const res = await alertPost(new Request("http://127.0.0.1/x", { method: "POST", body: "disk full on db-1" }), {
          params: Promise.resolve({ token }),
        });
        expect(res.status).toBe(200);
      },
      "KILL_SWITCH_ACTIVE",
      () => rest(killPut, k.admin, "PUT", { scope: "TENANT", enabled: false, reason: "resolved" }),
    );
  });
});

describe(`CLI writers: the very next intent in this process obeys (${TEST_PROVIDER}, warm cache)`, () => {
  const cli = (...args: string[]) =>
    run("./node_modules/.bin/tsx", ["scripts/cli.ts", ...args], { env: { ...process.env, DATABASE_URL: t.url } });

  it.each([
    ["TENANT", []],
    ["ACTION_TYPE", ["--key", T]],
    ["GLOBAL", []],
  ] as const)(
    "killswitch --scope %s on, then off",
    async (scope, extra) => {
      const tenant = scope === "GLOBAL" ? [] : ["--tenant", a.slug];
      await narrowThenWiden(
        a.accounts.admin[0] as string,
        () => cli("killswitch", "--scope", scope, ...tenant, ...extra, "--enabled", "true", "--reason", "operator stop"),
        "KILL_SWITCH_ACTIVE",
        () => cli("killswitch", "--scope", scope, ...tenant, ...extra, "--enabled", "false", "--reason", "operator resume"),
      );
    },
    60_000,
  );
});

describe(`CLI webhook set: the next execution in this process goes to the new URL (${TEST_PROVIDER})`, () => {
  it("webhook set twice from the operator CLI; each following approved CRM write is delivered to the URL just set", async () => {
    const cli = (...args: string[]) =>
      run("./node_modules/.bin/tsx", ["scripts/cli.ts", ...args], { env: { ...process.env, DATABASE_URL: t.url } });
    const hosts: string[] = [];
    const fetchStub = (async (url: string | URL | Request) => {
      hosts.push(new URL(String(url)).host);
      return new Response("{}", { status: 200 });
    }) as typeof fetch;
    const approveOne = async () => {
      const { json } = await rest(intentsPost, k.ingest, "POST", {
        account_id: a.accounts.seller[0],
        action_type: "UPDATE_ACCOUNT_FIELDS",
        confidence: 0.9,
        risk_level: "MEDIUM",
        why: ["RENEWAL_WINDOW_ENTERED"],
        parameters: { fields: { tier: "gold" } },
      });
      expect(json.status).toBe("PENDING_APPROVAL");
      const v = await approveAndRun(
        { db: t.db, clock: systemClock, connectors: { smtp: null, fetch: fetchStub } },
        a.seller.viewer,
        json.action_intent_id as string,
        {},
      );
      expect(v.status).toBe("SUCCEEDED");
    };
    await cli("webhook", "set", "--tenant", a.slug, "--url", "https://hooks-one.example.com/in");
    await approveOne();
    await cli("webhook", "set", "--tenant", a.slug, "--url", "https://hooks-two.example.com/in");
    await approveOne();
    expect(hosts).toEqual(["hooks-one.example.com", "hooks-two.example.com"]);
  }, 60_000);
});

describe(`two instances (${TEST_PROVIDER}): a change made through one applies to the next intent sent through the other`, () => {
  it("child instance evaluates, parent narrows and widens; parent evaluates, child narrows and widens", async () => {
    const child = spawn("./node_modules/.bin/tsx", ["test/helpers/gate-child.ts"], {
      env: { ...process.env, DATABASE_URL: t.url },
      stdio: ["pipe", "pipe", "pipe"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.setEncoding("utf8").on("data", (d: string) => d.includes("ready") && resolve());
        child.once("exit", () => reject(new Error("child exited")));
      });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const ask = async (msg: object) => {
        child.stdin.write(`${JSON.stringify(msg)}\n`);
        const next = await lines.next();
        return JSON.parse(next.value as string) as Record<string, unknown>;
      };
      const account = a.accounts.admin[1] as string;
      const remote = () => ask({ op: "submit", key: k.ingest, accountId: account, actionType: T });

      // Instance 2 warms its cache; instance 1 (this process) narrows; instance 2 obeys at once.
      expect(await remote()).toMatchObject({ http: 201, decision: "AUTO_EXECUTE" });
      const steps: [string, () => Promise<unknown>, string, () => Promise<unknown>][] = [];
      for (const [mode, reason] of [
        ["APPROVAL_REQUIRED", "MODE_APPROVAL_REQUIRED"],
        ["PROPOSE_ONLY", "MODE_PROPOSE_ONLY"],
        ["DISABLED", "ACTION_TYPE_DISABLED"],
      ] as const) {
        steps.push([
          `workspace ${mode}`,
          () => admin().autonomy.setMode({ actionType: T, mode }),
          reason,
          () => admin().autonomy.setMode({ actionType: T, mode: null }),
        ]);
        steps.push([
          `account ${mode}`,
          () => admin().autonomy.setMode({ accountId: account, actionType: T, mode }),
          reason,
          () => admin().autonomy.setMode({ accountId: account, actionType: T, mode: null }),
        ]);
      }
      steps.push(
        [
          "allowlist removal",
          () => admin().autonomy.setAllowlist({ actionTypes: ["FLAG_FOR_REVIEW"] }),
          "ACTION_TYPE_NOT_ALLOWLISTED",
          () => admin().autonomy.setAllowlist({ actionTypes: [T, "FLAG_FOR_REVIEW"] }),
        ],
        [
          "budget lowered",
          () => admin().autonomy.setBudget({ accountId: account, maxPerDay: 0 }),
          "BUDGET_EXHAUSTED",
          () => admin().autonomy.setBudget({ accountId: account, maxPerDay: 1000 }),
        ],
        [
          "kill switch",
          () => admin().autonomy.setKillSwitch({ scope: "TENANT", enabled: true, reason: "from instance 1" }),
          "KILL_SWITCH_ACTIVE",
          () => admin().autonomy.setKillSwitch({ scope: "TENANT", enabled: false, reason: "from instance 1" }),
        ],
      );
      for (const [what, narrow, reason, widen] of steps) {
        await narrow();
        expect(await remote(), what).toMatchObject({ reason, execution_id: null });
        await widen();
        expect(await remote(), what).toMatchObject({ decision: "AUTO_EXECUTE" });
      }

      // And the other way round: this process's cache is warm, instance 2 writes.
      expect(await probe(account)).toMatchObject({ decision: "AUTO_EXECUTE" });
      expect(await ask({ op: "mode", tenantId: a.id, actionType: T, mode: "DISABLED" })).toEqual({ ok: true });
      expect(await probe(account)).toMatchObject({ decision: "BLOCK", reason: "ACTION_TYPE_DISABLED" });
      expect(await ask({ op: "mode", tenantId: a.id, actionType: T, mode: null })).toEqual({ ok: true });
      expect(await probe(account)).toMatchObject({ decision: "AUTO_EXECUTE" });
      expect(await ask({ op: "killswitch", tenantId: a.id, enabled: true })).toEqual({ ok: true });
      expect(await probe(account)).toMatchObject({ reason: "KILL_SWITCH_ACTIVE" });
      expect(await ask({ op: "killswitch", tenantId: a.id, enabled: false })).toEqual({ ok: true });
      expect(await probe(account)).toMatchObject({ decision: "AUTO_EXECUTE" });
    } finally {
      child.stdin.end();
      await new Promise((r) => child.once("exit", r));
    }
  }, 60_000);
});

describe(`connector settings (${TEST_PROVIDER}): disabling crm applies at once to the next approved CRM write`, () => {
  it("PUT /connectors/crm enables it → the next approval PATCHes HubSpot; disabled → the very next one goes to the webhook; tRPC re-enables", async () => {
    const token = `pat-na1-${randomUUID()}`;
    const hub = await new FakeHubspot({ token, now: () => Date.now() }).start();
    try {
      const company = hub.add("companies", { name: "Freshness Co" });
      const account = a.accounts.seller[1] as string;
      await t.db.account.update({ where: { id: account }, data: { externalId: company } });
      const hooks: string[] = [];
      // Webhook deliveries are recorded here; the CRM client's requests go to the local HubSpot.
      const fetchStub = (async (url: string | URL | Request, init?: RequestInit) => {
        const u = new URL(String(url));
        if (u.origin === hub.url) return fetch(url, init);
        hooks.push(u.host);
        return new Response("{}", { status: 200 });
      }) as typeof fetch;
      const approveOne = async () => {
        const { json } = await rest(intentsPost, k.ingest, "POST", {
          account_id: account,
          action_type: "UPDATE_ACCOUNT_FIELDS",
          confidence: 0.9,
          risk_level: "MEDIUM",
          why: ["USAGE_TREND_CHANGE"],
          parameters: { fields: { posture: "WATCH" } },
        });
        expect(json.status).toBe("PENDING_APPROVAL");
        const deps = {
          db: t.db,
          clock: systemClock,
          connectors: { smtp: null, fetch: fetchStub, secretKey: secretKeyFrom(process.env.CONNECTOR_SECRET_KEY as string) },
        };
        expect((await approveAndRun(deps, a.seller.viewer, json.action_intent_id as string, {})).status).toBe("SUCCEEDED");
      };
      const put = (body: unknown) =>
        connectorPut(
          new Request("http://127.0.0.1/api/v1/connectors/crm", {
            method: "PUT",
            headers: { authorization: `Bearer ${k.admin}`, "content-type": "application/json" },
            body: JSON.stringify(body),
          }),
          { params: Promise.resolve({ name: "crm" }) },
        );
      await admin().autonomy.setWebhook({ url: "https://hooks-crm-fallback.example.com/in", enabled: true });

      const v0 = await version();
      expect((await put({ enabled: true, base_url: hub.url, token })).status).toBe(200);
      expect(await version()).toBeGreaterThan(v0);
      await approveOne();
      expect(hub.writes().map((w) => `${w.method} ${w.path}`)).toEqual([`PATCH /crm/v3/objects/companies/${company}`]);
      expect(hooks).toEqual([]);

      const v1 = await version();
      expect((await put({ enabled: false })).status).toBe(200);
      expect(await version()).toBeGreaterThan(v1);
      await approveOne();
      expect(hub.writes()).toHaveLength(1);
      expect(hooks).toEqual(["hooks-crm-fallback.example.com"]);

      await admin().connectors.put({ name: "crm", enabled: true });
      await approveOne();
      expect(hub.writes()).toHaveLength(2);
      expect(hooks).toHaveLength(1);
    } finally {
      await hub.stop();
    }
  }, 60_000);
});

describe(`connector settings (${TEST_PROVIDER}): a connector's slo target applies to the very next reliability read`, () => {
  it("PUT /connectors/email { slo } → the next tRPC read (this warm process) alerts on the same calls; tRPC slo null → the default again", async () => {
    // 25 calls through the wrapper, 1 of them failing: 4 %, inside the default 5 %.
    for (let i = 0; i < 25; i++)
      await invokeWithResilience(
        { db: t.db, clock: systemClock, sleep: async () => undefined },
        { tenantId: a.id, connector: "email", operation: "freshness", idempotent: false },
        async () => i !== 0,
        (ok) => (ok ? { ok: true } : { ok: false, fault: false, error: "rejected" }),
      );
    const email = async () => (await admin().reliability.connectors()).find((c) => c.connector === "email");
    expect(await email()).toMatchObject({ calls: 25, alert: false, breached: [] });
    const put = (body: unknown) =>
      connectorPut(
        new Request("http://127.0.0.1/api/v1/connectors/email", {
          method: "PUT",
          headers: { authorization: `Bearer ${k.admin}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
        { params: Promise.resolve({ name: "email" }) },
      );
    const v0 = await version();
    expect((await put({ enabled: true, slo: { p99_ms: 2000, error_rate: 0.01, window_seconds: 900 } })).status).toBe(200);
    expect(await version()).toBeGreaterThan(v0);
    expect(await email()).toMatchObject({ alert: true, breached: ["ERROR_RATE"], slo: { errorRate: 0.01 } });
    await admin().connectors.put({ name: "email", enabled: true, slo: null });
    expect(await email()).toMatchObject({ alert: false, breached: [], slo: { errorRate: 0.05 } });
  });
});

describe(`perception configuration: the very next pull or tick obeys (${TEST_PROVIDER})`, () => {
  const runs: string[] = [];
  const probe: PullRunner = {
    availability: async () => "READY",
    rateLimits: { perTenantPerMinute: 10_000, globalPerMinute: 10_000 },
    run: async (_ctx, tenantId, accountId) => {
      if (tenantId === a.id) runs.push(accountId);
      return { signals: 0 };
    },
  };
  const pull = (id: string) =>
    requestPull({ db: t.db, clock: systemClock, runners: { "probe-fresh": probe } }, a.admin.viewer, {
      accountId: a.accounts.admin[2] as string,
      connector: "probe-fresh",
      depth: "DEEP",
      pullJobId: `fresh-${id}-${randomUUID()}`,
      source: "api",
    });

  it("perception.setBudget and PUT /perception/budget: lowered to what is used → the next pull is BUDGET_EXHAUSTED; raised → RUN", async () => {
    const used = async () => (await admin().perception.budget()).usedToday;
    await admin().perception.setBudget({ unitsPerDay: (await used()) + 100 });
    expect((await pull("t1")).result).toBe("RUN");
    const v0 = await version();
    await admin().perception.setBudget({ unitsPerDay: await used() });
    expect(await version()).toBeGreaterThan(v0);
    expect(await pull("t2")).toMatchObject({ result: "DEFER", reason: "BUDGET_EXHAUSTED" });
    await admin().perception.setBudget({ unitsPerDay: (await used()) + 3 });
    expect((await pull("t3")).result).toBe("RUN");
    // the same through REST, with a per-connector cap lowered to zero
    await rest(pullBudgetPut, k.admin, "PUT", { units_per_day: 100_000, per_connector: { "probe-fresh": 0 } });
    expect(await pull("r1")).toMatchObject({ result: "DEFER", reason: "BUDGET_EXHAUSTED" });
    await rest(pullBudgetPut, k.admin, "PUT", { units_per_day: 100_000 });
    expect((await pull("r2")).result).toBe("RUN");
  });

  it("perception.setCadence, PUT /perception/cadence: shortened → the next tick pulls every COLD account; lengthened → 20 minutes later none", async () => {
    // a day ahead of the wall clock the REST handler writes with, so its recheck is already due here
    const clock = fixedClock(new Date(Date.now() + 86_400_000));
    const tick = () => runPerceptionTick({ db: t.db, clock, runners: { "probe-fresh": probe } });
    const tiers = (coldHours: number) => ({
      HOT: { shallow: null, deep: { minHours: 1, maxHours: 1 }, shallowOnSignal: true },
      WARM: { shallow: { minHours: 6, maxHours: 6 }, deep: null, shallowOnSignal: false },
      COLD: { shallow: { minHours: coldHours, maxHours: coldHours }, deep: null, shallowOnSignal: false },
    });
    await tick(); // seeds every account's pull state
    await admin().perception.setCadence({ tiers: tiers(168) }); // rechecks them all: each is pulled once now
    await tick();
    clock.advance(20 * 60_000);
    runs.length = 0;
    await tick();
    expect(runs).toEqual([]);
    const v0 = await version();
    await admin().perception.setCadence({ tiers: tiers(0.25) });
    expect(await version()).toBeGreaterThan(v0);
    await tick();
    expect(new Set(runs).size).toBe(9);
    clock.advance(20 * 60_000);
    const v1 = await version();
    await rest(cadencePut, k.admin, "PUT", {
      tiers: {
        HOT: { shallow: null, deep: { min_hours: 1, max_hours: 1 }, shallow_on_signal: true },
        WARM: { shallow: { min_hours: 6, max_hours: 6 }, deep: null, shallow_on_signal: false },
        COLD: { shallow: { min_hours: 168, max_hours: 168 }, deep: null, shallow_on_signal: false },
      },
    });
    expect(await version()).toBeGreaterThan(v1);
    runs.length = 0;
    await tick(); // under the 15-minute table every account would be due again now
    expect(runs).toEqual([]);
  });
});

/**
 * Always-on (SPEC §4.6) narrows only decision runs' proposals, so its probe is a real decision run
 * (the weekly review proposes CREATE_INTERNAL_TASK) in a tenant of its own, on fresh accounts: a
 * proposal still waiting, or one of the type executed in the last days, would change the next
 * run's proposal for reasons other than the write under test.
 */
describe(`always-on writers: the very next decision run obeys (${TEST_PROVIDER}, warm cache)`, () => {
  let c: TestTenant;
  let key = "";
  const cAdmin = () => createCaller({ db: t.db, clock: systemClock, session: c.admin.session });
  const cSeller = () => createCaller({ db: t.db, clock: systemClock, session: c.seller.session });
  const cVersion = async () => (await t.db.tenant.findUniqueOrThrow({ where: { id: c.id } })).configVersion;
  const digest = (enabled: boolean) => cSeller().digest.saveSettings({ enabled, email: "s@example.test", hour_local: 8, timezone: "UTC" });
  /** A new account of the seller's, opted in while everything else holds. */
  const optedAccount = async () => {
    const { id } = await t.db.account.create({
      data: { tenantId: c.id, name: `fresh ${randomUUID()}`, ownerId: c.seller.id, lifecycle: "CUSTOMER" },
    });
    await cSeller().alwaysOn.setAccount({ accountId: id, enabled: true });
    return id;
  };
  const decide = async (accountId: string) => {
    const runId = await runDecisionNow(t.db, c.admin.viewer, accountId);
    const run = await t.db.decisionRun.findUniqueOrThrow({ where: { id: runId } });
    return t.db.actionIntent.findFirstOrThrow({
      where: { tenantId: c.id, correlationId: run.correlationId, actionType: "CREATE_INTERNAL_TASK" },
    });
  };
  const missingOf = async (intentId: string) =>
    JSON.parse(
      (await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: c.id, type: "POLICY_EVALUATED", payload: { contains: intentId } } }))
        .payload,
    ).always_on_missing;

  /** Autonomous on `before`; the narrowing write; NOT_OPTED_IN with `missing` on `during`; the widening write; autonomous on `after`. */
  async function narrowThenWidenRun(
    accounts: { before: string; during: string; after: string },
    narrow: () => Promise<unknown>,
    missing: string[],
    widen: () => Promise<unknown>,
  ) {
    expect(await decide(accounts.before)).toMatchObject({ decision: "AUTO_EXECUTE", status: "SUCCEEDED" });
    const v0 = await cVersion();
    await narrow();
    expect(await cVersion()).toBeGreaterThan(v0);
    const narrowed = await decide(accounts.during);
    expect(narrowed).toMatchObject({ decision: "REQUIRE_APPROVAL", reason: "NOT_OPTED_IN", status: "PENDING_APPROVAL" });
    expect(await missingOf(narrowed.id)).toEqual(missing);
    await cAdmin().work.reject({ id: narrowed.id, reason: "probe" });
    const v1 = await cVersion();
    await widen();
    expect(await cVersion()).toBeGreaterThan(v1);
    expect(await decide(accounts.after)).toMatchObject({ decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED", status: "SUCCEEDED" });
  }
  const three = async () => ({ before: await optedAccount(), during: await optedAccount(), after: await optedAccount() });

  beforeAll(async () => {
    c = await makeTenant(t.db);
    key = (
      await createApiKey(t.db, { tenantId: c.id, name: "admin", scopes: ["admin"], actor: { type: "SYSTEM", id: "test" } }, systemClock)
    ).key;
    await cAdmin().autonomy.setAllowlist({ actionTypes: ["CREATE_INTERNAL_TASK"] });
    await cAdmin().autonomy.setMode({ mode: "AUTO_EXECUTE" });
    await cAdmin().autonomy.setBudget({ maxPerDay: 1000 });
    await cAdmin().decisions.saveSettings({ costGate: { minSecondsBetweenRuns: 0, maxOpenIntents: 1000, maxRunsPerDay: 1000 } });
    await cAdmin().alwaysOn.setTenant({ enabled: true });
    await digest(true);
  });

  it("alwaysOn.setTenant off, then on", async () => {
    await narrowThenWidenRun(
      await three(),
      () => cAdmin().alwaysOn.setTenant({ enabled: false }),
      ["TENANT_NOT_OPTED_IN"],
      () => cAdmin().alwaysOn.setTenant({ enabled: true }),
    );
  });

  it("alwaysOn.setAccount off, then on (the owning seller)", async () => {
    const acc = await three();
    await narrowThenWidenRun(
      { ...acc, after: acc.during },
      () => cSeller().alwaysOn.setAccount({ accountId: acc.during, enabled: false }),
      ["ACCOUNT_NOT_OPTED_IN"],
      () => cSeller().alwaysOn.setAccount({ accountId: acc.during, enabled: true }),
    );
  });

  it("digest.saveSettings: the owner's digest switched off after the opt-in, then on again", async () => {
    await narrowThenWidenRun(
      await three(),
      () => digest(false),
      ["NO_DIGEST_CONFIGURED"],
      () => digest(true),
    );
  });

  it("PUT /digest/settings: the owner's digest off, then on", async () => {
    await narrowThenWidenRun(
      await three(),
      () => rest(digestSettingsPut, key, "PUT", { user_id: c.seller.id, enabled: false }),
      ["NO_DIGEST_CONFIGURED"],
      () => rest(digestSettingsPut, key, "PUT", { user_id: c.seller.id, enabled: true }),
    );
  });

  it("PUT /autonomy/always-on: the workspace off, then on; an account off, then on", async () => {
    await narrowThenWidenRun(
      await three(),
      () => rest(alwaysOnPut, key, "PUT", { enabled: false }),
      ["TENANT_NOT_OPTED_IN"],
      () => rest(alwaysOnPut, key, "PUT", { enabled: true }),
    );
    const acc = await three();
    await narrowThenWidenRun(
      { ...acc, after: acc.during },
      () => rest(alwaysOnPut, key, "PUT", { account_id: acc.during, enabled: false }),
      ["ACCOUNT_NOT_OPTED_IN"],
      () => rest(alwaysOnPut, key, "PUT", { account_id: acc.during, enabled: true }),
    );
  });
});

describe(`log-only proposals: the very next evaluation obeys (${TEST_PROVIDER}, warm cache)`, () => {
  const account = () => a.accounts.seller2[1] as string;
  const logged = (json: Record<string, unknown>) => t.db.logOnlyEvaluation.count({ where: { intentId: json.action_intent_id as string } });
  const byId = (handler: typeof proposalEnforce, id: string, body: unknown) =>
    handler(
      new Request("http://127.0.0.1/api/v1/x", {
        method: "POST",
        headers: { authorization: `Bearer ${k.admin}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
      { params: Promise.resolve({ id }) },
    );

  it("policyLab.start → the next intent records the proposal's answer; policyLab.discard → the next records none", async () => {
    expect(await logged(await probe(account()))).toBe(0);
    const v0 = await version();
    const p = await admin().policyLab.start({ name: "freshness", changes: [{ action_type: T, mode: "APPROVAL_REQUIRED" }] });
    expect(await version()).toBeGreaterThan(v0);
    expect(await logged(await probe(account()))).toBe(1);
    await admin().policyLab.discard({ id: p.id });
    expect(await logged(await probe(account()))).toBe(0);
  });

  it("POST /policy-proposals, then POST /policy-proposals/:id/discard: the same", async () => {
    const started = await rest(proposalsPost, k.admin, "POST", { name: "freshness rest", changes: [{ mode: "DISABLED" }] });
    expect(started.status).toBe(201);
    expect(await logged(await probe(account()))).toBe(1);
    expect((await byId(proposalDiscard, started.json.id as string, {})).status).toBe(200);
    expect(await logged(await probe(account()))).toBe(0);
  });

  it("policyLab.enforce: account + type → APPROVAL_REQUIRED, then AUTO_EXECUTE (with a reason)", async () => {
    const enforce = async (mode: "APPROVAL_REQUIRED" | "AUTO_EXECUTE", reason?: string) => {
      const p = await admin().policyLab.start({ name: mode, changes: [{ account_id: account(), action_type: T, mode }] });
      await admin().policyLab.enforce({ id: p.id, reason });
    };
    await narrowThenWiden(
      account(),
      () => enforce("APPROVAL_REQUIRED"),
      "MODE_APPROVAL_REQUIRED",
      () => enforce("AUTO_EXECUTE", "back on autopilot"),
    );
  });

  it("POST /policy-proposals/:id/enforce: the account's budget to 0, then 100", async () => {
    const enforce = async (max: number) => {
      const started = await rest(proposalsPost, k.admin, "POST", {
        name: `budget ${max}`,
        changes: [{ account_id: account(), max_autonomous_per_day: max }],
      });
      const res = await byId(proposalEnforce, started.json.id as string, max > 0 ? { reason: "more room" } : {});
      expect(res.status).toBe(200);
    };
    await narrowThenWiden(
      account(),
      () => enforce(0),
      "BUDGET_EXHAUSTED",
      () => enforce(100),
    );
  });
});
