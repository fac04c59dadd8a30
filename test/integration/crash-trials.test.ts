import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Clock } from "@/server/clock";
import { secretKeyFrom } from "@/server/connectors/secretBox";
import { utcDateKey } from "@/server/engine/budget";
import { DEFAULT_CADENCE } from "@/server/engine/cadence";
import { putConnector } from "@/server/services/connectors";
import { saveDecisionSettings } from "@/server/services/decisionSettings";
import { requestRun } from "@/server/services/decisions";
import { submitIntent } from "@/server/services/gate";
import { verifyLedger } from "@/server/services/ledger";
import { putCadence } from "@/server/services/perception";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { FakeHubspot } from "../helpers/fakeHubspot";
import { alwaysOn, autonomous, intent } from "../helpers/gate";
import { seededRandom } from "../helpers/seededRandom";

/**
 * Issue 12 item 4 (SPEC §4.7 crash safety): kill -9 at random points of real work — decision runs
 * (which auto-execute within budget), human-approved executions over a signed webhook, CRM pulls —
 * then restart, again and again; afterwards every job and run ended exactly once, no execution or
 * intent is left in flight, each autonomous execution took exactly one budget unit, every side
 * effect is explained by an execution's attempts, and the ledger verifies.
 *
 * Each wave adds work and starts a few app processes on the database (test/helpers/crash-app.ts:
 * the inbox's approve, a queue worker tick, the scheduler's ticks — production entry points only),
 * and SIGKILLs each one's process group at its own random step. The next wave starts either at
 * once (only the queue's short leases have expired) or "after downtime": its clock is ahead by
 * more than every lease, admission lock and cadence, which is what a restart after an outage looks
 * like. Survivors then finish what is left, and the test looks at everything they left behind.
 * Reproduce a failure with CRASH_SEED=<seed printed in it>.
 */

/**
 * kill -9s: WAVES restarts of INSTANCES app processes each. PostgreSQL is how several instances
 * share a database; SQLite's deployment is two processes (the server and the scheduler).
 */
const INSTANCES = TEST_PROVIDER === "postgres" ? 3 : 2;
const WAVES = Number(process.env.CRASH_WAVES ?? Math.ceil(21 / INSTANCES));
const LEASE_SECONDS = 2;
/** A process is killed in one of its first KILL_STEPS steps, up to KILL_DELAY_MS into it. */
const KILL_STEPS = 12;
const KILL_DELAY_MS = 300;
const DOWNTIME_MS = 20 * 60_000;
const KEY_TEXT = "crash-trials-connector-secret-key";
const WEBHOOK_TYPE = "REQUEST_RENEWAL_MEETING";
const AUTO_TYPE = "CREATE_INTERNAL_TASK"; // what the weekly review proposes
const AUTO_CAP_PER_DAY = 2;

const { seed, random } = seededRandom();
const why = `CRASH_SEED=${seed}`;
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;

/** The app's "now": real time plus every downtime the trials pretended so far. */
let offsetMs = 0;
const appClock: Clock = { now: () => new Date(Date.now() + offsetMs) };

let t: TestDb;
let a: TestTenant;
let accounts: string[];
let http: Server;
let hubspot: FakeHubspot;
/**
 * The app process, bundled once: started through tsx, each process would spend seconds of CPU
 * compiling the app again, and there are two dozen of them on a shared CI machine. Inside the repository
 * (data/ is ignored) so its imports resolve against node_modules.
 */
const bundle = path.resolve("data", `.crash-app-${randomUUID()}.mjs`);
const live = new Set<ChildProcess>();

/** Every request the webhook receiver saw: action deliveries (execution_id) and approval requests. */
const deliveries: { key: string; executionId: string | null }[] = [];

function receive(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { execution_id?: string };
    deliveries.push({ key: String(req.headers["idempotency-key"]), executionId: body.execution_id ?? null });
    // A receiver that takes its time: the sender is often mid-call when its process dies.
    setTimeout(() => res.end("ok"), Math.floor(Math.random() * 150));
  });
}

interface App {
  child: ChildProcess;
  /** the STEP lines, in order */
  steps: string[];
  jobs: { outcome: string; id: string }[];
  /** resolves once the process has begun its n-th step */
  reached: (n: number) => Promise<void>;
  idle: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: string[];
}

function spawnApp(owner: string, approve: string[]): App {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: t.url,
    CONNECTOR_SECRET_KEY: KEY_TEXT,
    WORKER_OWNER: owner,
    LEASE_SECONDS: String(LEASE_SECONDS),
    CLOCK_OFFSET_MS: String(offsetMs),
    APPROVER: JSON.stringify(a.admin.viewer),
    APPROVE: JSON.stringify(approve),
  };
  // The rules synthesizer, no mail: the process's outbound calls are the test's servers only.
  for (const k of ["LLM_PROVIDER", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LLM_MODEL", "SMTP_URL"]) delete env[k];
  // Its own process group: a SIGKILL to the group takes down everything it started.
  const child = spawn(process.execPath, [bundle], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  live.add(child);
  const steps: string[] = [];
  const jobs: App["jobs"] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const waiting: { n: number; resolve: () => void }[] = [];
  const reached = (n: number) => new Promise<void>((resolve) => (steps.length >= n ? resolve() : waiting.push({ n, resolve })));
  let onIdle = () => {};
  const idle = new Promise<void>((r) => {
    onIdle = r;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => stderr.push(c));
  let buffered = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      const [tag, x, y] = line.split(" ");
      if (tag === "STEP" && x) {
        steps.push(x);
        for (const w of waiting) if (steps.length >= w.n) w.resolve();
      }
      if (tag === "JOB" && x && y) jobs.push({ outcome: x, id: y });
      if (tag === "IDLE") onIdle();
    }
  });
  return { child, steps, jobs, reached, idle, exited, stderr };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, signal);
}

const pending = async () =>
  (await t.db.actionIntent.findMany({ where: { tenantId: a.id, status: "PENDING_APPROVAL" }, select: { id: true } })).map((i) => i.id);

/** New work for the next process, entered the way the API enters it, at the app's time. */
async function addWork(wave: number) {
  for (let i = 0; i < 3; i++) {
    await requestRun(
      t.db,
      a.admin.viewer,
      { accountId: pick(accounts), triggerType: "TIME_RITUAL_WEEKLY_REVIEW", idempotencyKey: `wave:${wave}:${i}` },
      appClock,
    );
  }
  for (let i = 0; i < 2; i++) {
    const v = await submitIntent({ db: t.db, clock: appClock, connectors: { smtp: null } }, a.admin.viewer, {
      ...intent(pick(accounts), { actionType: WEBHOOK_TYPE, riskLevel: "HIGH" }),
      idempotencyKey: `wave:${wave}:approve:${i}`,
    });
    expect(v.status, why).toBe("PENDING_APPROVAL");
  }
}

/** What is still in flight: all zero once every process that could finish it has had its chance. */
async function inFlight() {
  const [jobs, runs, executions, intents, pulls] = await Promise.all([
    t.db.job.count({ where: { tenantId: a.id, status: { in: ["QUEUED", "LEASED"] } } }),
    t.db.decisionRun.count({ where: { tenantId: a.id, status: { in: ["RESERVED", "RUNNING", "DEFERRED"] } } }),
    t.db.execution.count({ where: { tenantId: a.id, status: "EXECUTING" } }),
    t.db.actionIntent.count({ where: { tenantId: a.id, status: { in: ["APPROVED", "EXECUTING"] } } }),
    t.db.pullJob.count({ where: { tenantId: a.id, status: "RUNNING" } }),
  ]);
  return { jobs, runs, executions, intents, pulls };
}

beforeAll(async () => {
  await build({
    entryPoints: ["test/helpers/crash-app.ts"],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outfile: bundle,
    logLevel: "warning",
  });
  t = await freshDb();
  a = await makeTenant(t.db);
  accounts = [...a.accounts.seller, ...a.accounts.seller2, ...a.accounts.admin];
  http = createServer(receive);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const token = `pat-na1-${randomUUID()}`;
  hubspot = await new FakeHubspot({ token, now: () => appClock.now().getTime() }).start();

  const settings = { db: t.db, clock: appClock, secretKey: secretKeyFrom(KEY_TEXT), smtpConfigured: false };
  await putConnector(settings, a.admin.viewer, "webhook", {
    enabled: true,
    baseUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hooks`,
  });
  await putConnector(settings, a.admin.viewer, "crm", { enabled: true, baseUrl: hubspot.url, token });
  // Every account is a CRM company, pulled every 15 minutes (the shortest cadence allowed).
  for (const [i, id] of accounts.entries()) {
    const company = hubspot.add("companies", { name: `Company ${i}`, domain: `company${i}.example`, lifecyclestage: "customer" });
    await t.db.account.update({ where: { id }, data: { externalId: company, lifecycle: "CUSTOMER" } });
  }
  await putCadence(
    t.db,
    a.admin.viewer,
    { tiers: { ...DEFAULT_CADENCE, COLD: { ...DEFAULT_CADENCE.COLD, shallow: { minHours: 0.25, maxHours: 0.25 } } } },
    appClock,
  );
  // The weekly review's task runs on its own, within a small daily budget per account (so the
  // budget is both spent and exhausted); beyond it, the proposal waits for a human.
  await autonomous(t.db, a.admin.viewer, AUTO_TYPE, { maxPerDay: AUTO_CAP_PER_DAY, perTypeCaps: { [AUTO_TYPE]: AUTO_CAP_PER_DAY } });
  await alwaysOn(t.db, a.admin.viewer, accounts, appClock);
  await saveDecisionSettings(t.db, a.admin.viewer, { costGate: { minSecondsBetweenRuns: 0, maxOpenIntents: 1000 } }, appClock);
}, 60_000);

afterAll(async () => {
  for (const child of live) killGroup(child, "SIGKILL");
  http?.closeAllConnections();
  await new Promise((r) => http?.close(r));
  await hubspot?.stop();
  await t?.cleanup();
  await rm(bundle, { force: true });
});

describe(`crash trials on ${TEST_PROVIDER}`, () => {
  it(`${WAVES * INSTANCES} kill -9s at random points of decision runs, autonomous and approved executions and CRM pulls: nothing lost, nothing doubled, budgets exact, the ledger verifies`, async () => {
    const apps: App[] = [];
    const killedIn: string[] = [];
    for (let wave = 0; wave < WAVES; wave++) {
      // Restart at once (the queue's leases have run out), or after an outage longer than every lease.
      offsetMs += random() < 0.4 ? (LEASE_SECONDS + 1) * 1000 : DOWNTIME_MS;
      await addWork(wave);
      const waiting = await pending();
      // Several instances at once, each approving the same inbox in its own order and killed at
      // its own random step: a random moment inside one of its first steps.
      const instances = Array.from({ length: INSTANCES }, (_, i) => ({
        app: spawnApp(
          `crash-${wave}-${i}`,
          [...waiting].sort(() => random() - 0.5),
        ),
        step: 1 + Math.floor(random() * KILL_STEPS),
        delay: Math.floor(random() * KILL_DELAY_MS),
      }));
      await Promise.all(
        instances.map(async ({ app, step, delay }) => {
          apps.push(app);
          await Promise.race([app.reached(step), app.exited, sleep(30_000)]);
          await sleep(delay);
          killedIn.push(app.steps.at(-1) ?? "boot");
          killGroup(app.child, "SIGKILL");
          expect((await app.exited).signal, `${why}: ${app.stderr.join("")}`).toBe("SIGKILL");
        }),
      );
    }
    const stranded = await inFlight();

    // Survivors, each after another outage, until nothing is in flight (a job may be backing off).
    let left = stranded;
    for (let round = 0; round < 3; round++) {
      offsetMs += 2 * 60 * 60_000;
      const app = spawnApp(`final-${round}`, await pending());
      apps.push(app);
      await Promise.race([app.idle, app.exited, sleep(60_000)]);
      killGroup(app.child, "SIGTERM"); // it finishes the step in hand and exits 0
      expect(await app.exited, `${why}: ${app.stderr.join("")}`).toEqual({ code: 0, signal: null });
      left = await inFlight();
      if (Object.values(left).every((n) => n === 0)) break;
    }
    expect(left, why).toEqual({ jobs: 0, runs: 0, executions: 0, intents: 0, pulls: 0 });

    // Every job ended once (DONE), and no two processes both believed they completed the same one.
    const jobs = await t.db.job.findMany({ where: { tenantId: a.id } });
    expect(
      jobs.filter((j) => j.status !== "DONE").map((j) => ({ kind: j.kind, status: j.status, error: j.lastError })),
      why,
    ).toEqual([]);
    const completions = apps.flatMap((app) => app.jobs.filter((j) => j.outcome === "DONE").map((j) => j.id));
    expect(completions.length, why).toBe(new Set(completions).size);

    const ledger = (await t.db.ledgerEntry.findMany({ where: { tenantId: a.id }, orderBy: { seq: "asc" } })).map((e) => ({
      type: e.type,
      payload: JSON.parse(e.payload) as Record<string, unknown>,
    }));
    const ends = (types: string[], key: string) => {
      const n = new Map<string, number>();
      for (const e of ledger)
        if (types.includes(e.type) && typeof e.payload[key] === "string")
          n.set(e.payload[key] as string, (n.get(e.payload[key] as string) ?? 0) + 1);
      return n;
    };

    // Every decision run ended exactly once.
    const runs = await t.db.decisionRun.findMany({ where: { tenantId: a.id } });
    const runEnds = ends(["DECISION_SYNTHESIZED", "DECISION_RUN_SKIPPED"], "run_id");
    expect(
      runs.filter((r) => runEnds.get(r.id) !== 1).map((r) => ({ run: r.id, status: r.status, ends: runEnds.get(r.id) ?? 0 })),
      why,
    ).toEqual([]);

    // Every execution ended exactly once (one terminal entry, one outcome), one per intent.
    const executions = await t.db.execution.findMany({ where: { tenantId: a.id } });
    const execEnds = ends(["EXECUTION_SUCCEEDED", "EXECUTION_FAILED"], "execution_id");
    expect(
      executions.filter((x) => execEnds.get(x.id) !== 1).map((x) => ({ execution: x.id, status: x.status, ends: execEnds.get(x.id) ?? 0 })),
      why,
    ).toEqual([]);
    const outcomes = await t.db.outcome.groupBy({
      by: ["executionId"],
      where: { tenantId: a.id, executionId: { not: null } },
      _count: true,
    });
    expect(
      outcomes.filter((o) => o._count !== 1),
      why,
    ).toEqual([]);
    expect(outcomes.length, why).toBe(executions.length);
    const perIntent = new Map<string, number>();
    for (const x of executions) perIntent.set(x.intentId, (perIntent.get(x.intentId) ?? 0) + 1);
    expect(
      [...perIntent.values()].filter((n) => n > 1),
      why,
    ).toEqual([]);

    // Budgets exact: each account's day counts one unit per autonomous execution, on both counters.
    const auto = executions.filter((x) => x.autoExecuted);
    const expected = new Map<string, number>();
    for (const x of auto) {
      const intentRow = await t.db.actionIntent.findUniqueOrThrow({ where: { id: x.intentId } });
      const k = `${intentRow.accountId}|${utcDateKey(x.startedAt)}`;
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    const usage = await t.db.budgetUsage.findMany({ where: { tenantId: a.id } });
    for (const counter of ["", AUTO_TYPE]) {
      const got = new Map(
        usage.filter((u) => u.actionType === counter && u.consumed > 0).map((u) => [`${u.accountId}|${u.dateKey}`, u.consumed]),
      );
      expect(Object.fromEntries(got), `${why}: budget counter "${counter}"`).toEqual(Object.fromEntries(expected));
    }
    expect(
      [...expected.values()].every((n) => n <= AUTO_CAP_PER_DAY),
      why,
    ).toBe(true);

    // Side effects: every webhook delivery carries its execution's key; a key is delivered at most
    // once per attempt (the receiver dedupes on it, so a retry after a crash acts once); every
    // webhook execution that succeeded was delivered; approval requests, keyed per intent, at most
    // once per attempt of their job.
    const byId = new Map(executions.map((x) => [x.id, x]));
    const perKey = new Map<string, number>();
    for (const d of deliveries) perKey.set(d.key, (perKey.get(d.key) ?? 0) + 1);
    for (const d of deliveries.filter((x) => x.executionId !== null)) {
      expect(d.key, why).toBe(`${d.executionId}:webhook`);
      const x = byId.get(d.executionId as string);
      expect(x, why).toBeDefined();
      expect(perKey.get(d.key), `${why}: deliveries of ${d.key}`).toBeLessThanOrEqual(x?.attempts ?? 0);
    }
    const webhookCalls = await t.db.toolCall.findMany({ where: { tenantId: a.id, connector: "webhook" } });
    for (const c of webhookCalls.filter((c) => c.status === "SUCCEEDED"))
      expect(perKey.get(c.idempotencyKey), why).toBeGreaterThanOrEqual(1);
    const noticeJobs = new Map(
      jobs
        .filter((j) => j.kind === "APPROVAL_WEBHOOK")
        .map((j) => [`approval:${(JSON.parse(j.payload) as { intentId: string }).intentId}`, j]),
    );
    for (const [key, n] of perKey)
      if (key.startsWith("approval:")) expect(n, `${why}: ${key}`).toBeLessThanOrEqual(noticeJobs.get(key)?.attempts ?? 0);

    expect(await verifyLedger(t.db, a.id), why).toMatchObject({ ok: true });

    const recovered = {
      jobsReclaimed: jobs.filter((j) => j.attempts > 1).length,
      executionsRetried: executions.filter((x) => x.attempts > 1).length,
      executionsLeaseExpired: executions.filter((x) => x.error?.startsWith("LEASE_EXPIRED")).length,
      runsInterrupted: runs.filter((r) => r.reason === "INTERRUPTED").length,
    };
    const decided = await t.db.actionIntent.groupBy({ by: ["actionType", "status", "reason"], where: { tenantId: a.id }, _count: true });
    const tally = (xs: string[]) => Object.fromEntries([...new Set(xs)].map((x) => [x, xs.filter((y) => y === x).length]));
    console.info(
      `[crash trials ${TEST_PROVIDER}] ${why}; killed in ${JSON.stringify(tally(killedIn))}; ` +
        `stranded ${JSON.stringify(stranded)}; recovered ${JSON.stringify(recovered)}; ${runs.length} runs, ${executions.length} executions ` +
        `(${auto.length} autonomous), ${jobs.length} jobs, ${deliveries.length} webhook deliveries, ${hubspot.requests.length} CRM requests; ` +
        `intents ${JSON.stringify(decided.map((d) => `${d.actionType}/${d.status}/${d.reason}: ${d._count}`))}; ` +
        `steps that failed and were retried: ${JSON.stringify(tally(apps.flatMap((app) => app.stderr.join("").match(/\[crash-app\] .*/g) ?? [])))}`,
    );
    // The kills landed in real work, and every kind of work was done.
    expect(Object.values(stranded).some((n) => n > 0) || recovered.jobsReclaimed > 0, why).toBe(true);
    expect(
      {
        runs: runs.length > 0,
        autonomous: auto.length > 0,
        approved: executions.some((x) => x.approvalSource === "HUMAN" && x.status === "SUCCEEDED"),
        pulls: (await t.db.pullJob.count({ where: { tenantId: a.id, status: "DONE" } })) > 0,
      },
      why,
    ).toEqual({ runs: true, autonomous: true, approved: true, pulls: true });
  }, 360_000);
});
