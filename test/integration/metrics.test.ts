import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as metricsGet } from "@/app/api/metrics/route";
import { createCaller } from "@/server/api/root";
import { systemClock } from "@/server/clock";
import { utcDateKey } from "@/server/engine/budget";
import { createApiKey } from "@/server/services/apiKeys";
import { LATENCY_BUCKETS } from "@/server/services/metrics";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";

/**
 * `GET /api/metrics` (SPEC §5.1): Prometheus text computed from the database for the tenant of an
 * admin API key or metrics token. It parses, carries the connector latency histogram with the
 * numbers the rows imply, refuses anonymous / read-scope / wrong credentials, shows one tenant's
 * numbers only, and no label or value names a person, key, email or account.
 */

let t: TestDb;
let a: TestTenant;
let b: TestTenant;
const keys: Record<string, string> = {};
const keyPrefixes: string[] = [];
const executionIds: string[] = [];

function scrape(authorization?: string) {
  return metricsGet(new Request("http://127.0.0.1/api/metrics", { headers: authorization ? { authorization } : {} }));
}

/** A minimal exposition-format reader: every line is a comment or `name{labels} value`, and every sample's family has HELP and TYPE. */
function parseProm(text: string) {
  const help = new Set<string>();
  const type = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const SAMPLE =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (-?(?:[0-9.]+(?:e[+-]?\d+)?|[Nn]a[Nn]|\+Inf|-Inf))$/;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const h = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$/.exec(line);
    if (h) {
      help.add(h[1] as string);
      continue;
    }
    const ty = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (ty) {
      type.set(ty[1] as string, ty[2] as string);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not exposition format: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  for (const s of samples) {
    const family = type.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, "");
    expect(type.has(family), `TYPE for ${s.name}`).toBe(true);
    expect(help.has(family), `HELP for ${s.name}`).toBe(true);
  }
  return { samples, type };
}

async function toolCall(tenant: TestTenant, connector: string, status: string, ms: number, ageMs = 60_000) {
  const start = new Date(Date.now() - ageMs);
  const execution = await t.db.execution.create({
    data: {
      tenantId: tenant.id,
      intentId: randomUUID(),
      approvalSource: "POLICY",
      autoExecuted: true,
      status,
      outcome: status === "SUCCEEDED" ? "DELIVERED" : null,
      startedAt: start,
      finishedAt: new Date(start.getTime() + ms),
    },
  });
  executionIds.push(execution.id);
  await t.db.toolCall.create({
    data: {
      tenantId: tenant.id,
      executionId: execution.id,
      connector,
      operation: "deliver",
      idempotencyKey: randomUUID(),
      request: "{}",
      status,
      startedAt: start,
      finishedAt: new Date(start.getTime() + ms),
    },
  });
}

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  a = await makeTenant(t.db);
  b = await makeTenant(t.db);
  for (const [tenant, scope] of [
    [a, "admin"],
    [a, "read"],
    [b, "admin"],
  ] as const) {
    const k = await createApiKey(
      t.db,
      { tenantId: tenant.id, name: scope, scopes: [scope], actor: { type: "SYSTEM", id: "test" } },
      systemClock,
    );
    keys[`${tenant.slug}:${scope}`] = k.key;
    keyPrefixes.push(k.record.prefix);
  }
  // A: webhook calls of 3 ms, 40 ms, 40 ms, 700 ms (succeeded) and one of 12 s (failed); one call two days old (outside the window).
  for (const ms of [3, 40, 40, 700]) await toolCall(a, "webhook", "SUCCEEDED", ms);
  await toolCall(a, "webhook", "FAILED", 12_000);
  await toolCall(a, "webhook", "SUCCEEDED", 1, 2 * 86_400_000);
  // B: one email call.
  await toolCall(b, "email", "SUCCEEDED", 20);
  const now = new Date();
  await t.db.decisionRun.create({
    data: {
      tenantId: a.id,
      accountId: a.accounts.seller[0] as string,
      triggerType: "SIGNAL",
      idempotencyKey: randomUUID(),
      correlationId: randomUUID(),
      status: "DONE",
      costGateResult: "ALLOW",
      createdAt: now,
      updatedAt: now,
    },
  });
  await t.db.job.create({
    data: {
      tenantId: a.id,
      kind: "RUN_DECISION",
      status: "QUEUED",
      runAt: now,
      createdAt: new Date(now.getTime() - 90_000),
      updatedAt: now,
    },
  });
  await t.db.budgetUsage.create({
    data: { tenantId: a.id, accountId: a.accounts.seller[0] as string, dateKey: utcDateKey(now), actionType: "", consumed: 4 },
  });
}, 60_000);
afterAll(() => t?.cleanup());

describe(`GET /api/metrics on ${TEST_PROVIDER}`, () => {
  it("refuses anonymous, malformed, read-scope and unknown-token requests, saying nothing else", async () => {
    const cases: [string | undefined, number][] = [
      [undefined, 401],
      ["Bearer nope", 401],
      ["Basic YWRtaW46YWRtaW4=", 401],
      [`Bearer mt_abcdefgh_${"x".repeat(43)}`, 401],
      [`Bearer ${keys[`${a.slug}:read`]}`, 403],
      [`Bearer ${(keys[`${a.slug}:admin`] as string).slice(0, -2)}zz`, 401],
    ];
    for (const [auth, status] of cases) {
      const res = await scrape(auth);
      expect(res.status, String(auth)).toBe(status);
      const text = await res.text();
      expect(text).not.toContain("autopilot_");
      expect(JSON.parse(text)).toMatchObject({ error: { code: expect.any(String) } });
    }
  });

  it("an admin key gets its tenant's numbers as parseable Prometheus text with the connector histogram", async () => {
    const res = await scrape(`Bearer ${keys[`${a.slug}:admin`]}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    const { samples, type } = parseProm(text);
    expect(type.get("autopilot_connector_call_duration_seconds")).toBe("histogram");
    const bucket = (status: string, le: string) =>
      samples.find(
        (s) =>
          s.name === "autopilot_connector_call_duration_seconds_bucket" &&
          s.labels.connector === "webhook" &&
          s.labels.status === status &&
          s.labels.le === le,
      )?.value;
    expect(text).toMatch(/^autopilot_connector_call_duration_seconds_bucket\{connector="webhook",status="SUCCEEDED",le="0.005"\} 1$/m);
    // 3, 40, 40, 700 ms within the window (the 2-day-old call is not).
    expect([0.005, 0.01, 0.05, 0.5, 1, 30].map((le) => bucket("SUCCEEDED", String(le)))).toEqual([1, 1, 3, 3, 4, 4]);
    expect(bucket("SUCCEEDED", "+Inf")).toBe(4);
    expect(bucket("FAILED", "10")).toBe(0);
    expect(bucket("FAILED", "30")).toBe(1);
    const series = samples.filter((s) => s.name === "autopilot_connector_call_duration_seconds_bucket" && s.labels.status === "SUCCEEDED");
    expect(series).toHaveLength(LATENCY_BUCKETS.length + 1);
    for (let i = 1; i < series.length; i++)
      expect((series[i] as { value: number }).value).toBeGreaterThanOrEqual((series[i - 1] as { value: number }).value);
    const sum = samples.find((s) => s.name === "autopilot_connector_call_duration_seconds_sum" && s.labels.status === "SUCCEEDED")?.value;
    expect(sum).toBeCloseTo(0.783, 2);
    expect(samples.find((s) => s.name === "autopilot_connector_call_duration_seconds_count" && s.labels.status === "FAILED")?.value).toBe(
      1,
    );

    // Executions by outcome and approval source; decision runs by verdict; queue; budget; process defaults.
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(one("autopilot_executions_total", { status: "SUCCEEDED", outcome: "DELIVERED", approval_source: "POLICY" })).toBe(5);
    expect(one("autopilot_executions_total", { status: "FAILED", outcome: "none" })).toBe(1);
    expect(one("autopilot_decision_runs_total", { verdict: "ALLOW", status: "DONE" })).toBe(1);
    expect(one("autopilot_job_queue_depth", { kind: "RUN_DECISION", status: "QUEUED" })).toBe(1);
    expect(one("autopilot_job_queue_oldest_age_seconds", { kind: "RUN_DECISION" })).toBeGreaterThanOrEqual(90);
    expect(one("autopilot_autonomy_budget_used_today")).toBe(4);
    expect(type.has("autopilot_process_cpu_user_seconds_total")).toBe(true);
    expect(samples.some((s) => s.labels.connector === "email")).toBe(false);
  });

  it("no label or value carries ids of people, keys, emails, accounts or the tenant", async () => {
    const text = await (await scrape(`Bearer ${keys[`${a.slug}:admin`]}`)).text();
    const forbidden = [
      a.id,
      a.slug,
      ...[a.admin, a.seller, a.seller2, a.auditor].flatMap((u) => [u.id, u.email]),
      ...Object.values(a.accounts).flat(),
      ...keyPrefixes,
      ...executionIds,
      "@",
    ];
    for (const f of forbidden) expect(text, f).not.toContain(f);
  });

  it("the metrics token: shown once, ledgered by prefix, scrapes only its own tenant, rotation revokes the old one", async () => {
    const adminB = createCaller({ db: t.db, clock: systemClock, session: b.admin.session });
    expect(await adminB.metrics.token()).toEqual({ exists: false });
    const first = await adminB.metrics.rotateToken();
    expect(first.token).toMatch(/^mt_[A-Za-z0-9]{8}_/);
    const shown = await adminB.metrics.token();
    expect(shown).toMatchObject({ exists: true, prefix: first.prefix });
    expect(JSON.stringify(shown)).not.toContain(first.token);
    const stored = await t.db.metricsToken.findUniqueOrThrow({ where: { tenantId: b.id } });
    // The secret is everything after "mt_<8-char prefix>_" (base64url: it may itself hold "_").
    const secret = first.token.slice("mt_".length + 8 + 1);
    expect(secret).toHaveLength(43);
    expect(stored.tokenHash).not.toContain(secret);

    const res = await scrape(`Bearer ${first.token}`);
    expect(res.status).toBe(200);
    const { samples } = parseProm(await res.text());
    expect(samples.some((s) => s.labels.connector === "email")).toBe(true);
    expect(samples.some((s) => s.labels.connector === "webhook")).toBe(false);
    expect(samples.find((s) => s.name === "autopilot_autonomy_budget_used_today")?.value).toBe(0);

    const second = await adminB.metrics.rotateToken();
    expect((await scrape(`Bearer ${first.token}`)).status).toBe(401);
    expect((await scrape(`Bearer ${second.token}`)).status).toBe(200);
    const ledger = await t.db.ledgerEntry.findMany({ where: { tenantId: b.id, type: "METRICS_TOKEN_CREATED" }, orderBy: { seq: "asc" } });
    expect(ledger.map((e) => JSON.parse(e.payload))).toEqual([{ prefix: first.prefix }, { prefix: second.prefix }]);
    for (const e of ledger) expect(e.payload).not.toContain(secret);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id, type: "METRICS_TOKEN_CREATED" } })).toBe(0);

    await expect(createCaller({ db: t.db, clock: systemClock, session: b.seller.session }).metrics.rotateToken()).rejects.toThrow();
    await expect(createCaller({ db: t.db, clock: systemClock, session: b.auditor.session }).metrics.token()).rejects.toThrow();
  });
});
