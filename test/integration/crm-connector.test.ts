import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { GET as connectorGet, PUT as connectorPut } from "@/app/api/v1/connectors/[name]/route";
import { createCaller } from "@/server/api/root";
import { fixedClock } from "@/server/clock";
import { secretKeyFrom } from "@/server/connectors/secretBox";
import { JOBS } from "@/server/jobs/registry";
import { findIntent } from "@/server/repos/intents";
import type { Viewer } from "@/server/repos/scope";
import { createApiKey } from "@/server/services/apiKeys";
import { putKillSwitch } from "@/server/services/autonomyConfig";
import { putConnector } from "@/server/services/connectors";
import { type CrmDeps, pullCrmAccount, syncCrm } from "@/server/services/crmSync";
import { completeExecution } from "@/server/services/executor";
import { submitIntent } from "@/server/services/gate";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { requestPull } from "@/server/services/perception";
import { freshDb, TEST_PROVIDER, type TestDb } from "../helpers/db";
import { makeTenant, type TestTenant } from "../helpers/factory";
import { FakeHubspot } from "../helpers/fakeHubspot";
import { approveAndRun } from "../helpers/gate";

/**
 * The CRM connector against a HubSpot-like local server (test/helpers/fakeHubspot.ts): real HTTP,
 * real database, an injected clock that the client's sleep moves — never a real wait.
 */

// The REST and tRPC edges read the sealing key from the environment (before env() caches it).
const KEY_TEXT = "test-connector-secret-key-for-crm";
process.env.CONNECTOR_SECRET_KEY = KEY_TEXT;

let t: TestDb;
const clock = fixedClock("2026-11-20T09:00:00Z");
const sleeps: number[] = [];
const sleep = async (ms: number) => {
  sleeps.push(ms);
  clock.advance(ms);
};
const secretKey = secretKeyFrom(KEY_TEXT);
const consoleLines: string[] = [];
const servers: FakeHubspot[] = [];

const crmDeps = (extra: Partial<CrmDeps["connectors"]> = {}): CrmDeps => ({
  db: t.db,
  clock,
  connectors: { smtp: null, secretKey, sleep, crmMaxWaitMs: 60_000, crmPageSize: 3, ...extra },
});
const settingsDeps = () => ({ db: t.db, clock, secretKey, smtpConfigured: false });
const newToken = () => `pat-na1-${randomUUID()}`;

async function fake(token: string, opts: Partial<ConstructorParameters<typeof FakeHubspot>[0]> = {}) {
  const f = await new FakeHubspot({ token, now: () => clock.now().getTime(), ...opts }).start();
  servers.push(f);
  return f;
}

async function enableCrm(viewer: Viewer, url: string, token: string) {
  return putConnector(settingsDeps(), viewer, "crm", { enabled: true, baseUrl: url, token });
}

/** n companies, each with two contacts and one deal; the first owned by `ownerEmail`'s HubSpot owner. */
function seedCompanies(f: FakeHubspot, n: number, ownerEmail?: string) {
  if (ownerEmail) f.owners.push({ id: "501", email: ownerEmail.toUpperCase() });
  const ids: { company: string; contacts: string[]; deal: string }[] = [];
  for (let i = 0; i < n; i++) {
    clock.advance(1000);
    const company = f.add("companies", {
      name: `Company ${i}`,
      domain: `company${i}.example`,
      industry: i % 2 ? "Software" : "Retail",
      lifecyclestage: i === 0 ? "customer" : "lead",
      hubspot_owner_id: i === 0 && ownerEmail ? "501" : null,
    });
    const contacts = [0, 1].map((j) => {
      const id = f.add("contacts", {
        firstname: `Ada${i}`,
        lastname: `Person${j}`,
        email: `ada${i}.${j}@company${i}.example`,
        jobtitle: "CFO",
      });
      f.associate(company, "contacts", id);
      return id;
    });
    const deal = f.add("deals", {
      dealname: `Deal ${i}`,
      dealstage: "qualifiedtobuy",
      amount: "1200.50",
      closedate: "2026-12-31T00:00:00.000Z",
    });
    f.associate(company, "deals", deal);
    ids.push({ company, contacts, deal });
  }
  return ids;
}

beforeAll(async () => {
  t = await freshDb();
  (globalThis as { __autopilotDb?: unknown }).__autopilotDb = t.db;
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      consoleLines.push(args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(" "));
    });
  }
});
afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.map((s) => s.stop()));
  await t.cleanup();
});
beforeEach(() => {
  sleeps.length = 0;
});

/** Everything the tenant's data could leak a token through: ledger, connector rows, sync state. */
async function tenantText(tenantId: string) {
  const ledger = await t.db.ledgerEntry.findMany({ where: { tenantId } });
  const state = await t.db.connectorState.findMany({ where: { tenantId } });
  const config = await t.db.connectorConfig.findMany({ where: { tenantId } });
  const calls = await t.db.toolCall.findMany({ where: { tenantId } });
  const execs = await t.db.execution.findMany({ where: { tenantId } });
  return JSON.stringify({ ledger, state, config, calls, execs });
}

describe(`CRM sync against a HubSpot-like server (${TEST_PROVIDER})`, () => {
  let a: TestTenant;
  let f: FakeHubspot;
  let seeded: ReturnType<typeof seedCompanies>;
  const token = newToken();

  beforeAll(async () => {
    a = await makeTenant(t.db);
    f = await fake(token);
    seeded = seedCompanies(f, 7, a.seller.email);
    await enableCrm(a.admin.viewer, f.url, token);
  });

  it("a first sync imports every company with its contacts and deals, associations right, paging with after", async () => {
    clock.advance(60 * 60_000);
    const res = await syncCrm(crmDeps(), a.id);
    expect(res).toMatchObject({ ok: true, status: "OK", mode: "FULL" });
    expect(res.counts).toMatchObject({ companies: 7, contacts: 14, deals: 7, created: 28 });

    for (const [i, s] of seeded.entries()) {
      const acct = await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: s.company } });
      expect(acct).toMatchObject({ name: `Company ${i}`, domain: `company${i}.example`, lifecycle: i === 0 ? "CUSTOMER" : "SUSPECT" });
      // The owner's HubSpot email matches a member (case-insensitively) only for company 0.
      expect(acct.ownerId).toBe(i === 0 ? a.seller.id : null);
      const contacts = await t.db.contact.findMany({ where: { tenantId: a.id, accountId: acct.id } });
      expect(contacts.map((c) => c.externalId).sort()).toEqual([...s.contacts].sort());
      const opps = await t.db.opportunity.findMany({ where: { tenantId: a.id, accountId: acct.id } });
      expect(opps).toHaveLength(1);
      expect(opps[0]).toMatchObject({ externalId: s.deal, stage: "DISCOVERY", amountCents: 120_050, name: `Deal ${i}` });
      expect(await t.db.accountHeat.findUnique({ where: { tenantId_accountId: { tenantId: a.id, accountId: acct.id } } })).not.toBeNull();
    }
    // 7 companies at page size 3: three pages, the later two asked for with `after`.
    const companyLists = f.list("GET", "/crm/v3/objects/companies").filter((r) => r.path === "/crm/v3/objects/companies");
    expect(companyLists.map((r) => r.query.after ?? null)).toEqual([null, "3", "6"]);
    expect(companyLists[0]?.query.associations).toBe("contacts,deals");
    expect(f.list("POST", "/crm/v3/objects/companies/search")).toHaveLength(0);
    const state = await t.db.connectorState.findUniqueOrThrow({ where: { tenantId_connector: { tenantId: a.id, connector: "crm" } } });
    expect(state.lastStatus).toBe("OK");
    expect(Number(state.cursor)).toBeGreaterThan(0);
    // Every request carried the private-app token as a Bearer header.
    expect(f.requests.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
  });

  it("a second sync after three companies change searches by hs_lastmodifieddate, fetches only those and ledgers each change", async () => {
    const state = await t.db.connectorState.findUniqueOrThrow({ where: { tenantId_connector: { tenantId: a.id, connector: "crm" } } });
    const ledgerBefore = await t.db.ledgerEntry.count({ where: { tenantId: a.id, type: "ACCOUNT_UPDATED" } });
    clock.advance(2 * 60 * 60_000);
    const [c1, c2, c3] = seeded.map((s) => s.company) as [string, string, string];
    f.touch("companies", c1, { name: "Company 1 Renamed" });
    f.touch("companies", c2, { lifecyclestage: "customer" });
    f.touch("companies", c3, { autopilot_posture: "at risk" });
    clock.advance(5 * 60_000);
    const seen = f.requests.length;

    const res = await syncCrm(crmDeps(), a.id);
    expect(res).toMatchObject({ ok: true, mode: "INCREMENTAL" });
    expect(res.counts.updated).toBe(3);
    const during = f.requests.slice(seen);
    // A search, never a full list.
    expect(during.some((r) => r.method === "GET" && r.path === "/crm/v3/objects/companies")).toBe(false);
    const searches = during.filter((r) => r.path === "/crm/v3/objects/companies/search");
    expect(searches.length).toBeGreaterThan(0);
    expect(searches[0]?.body).toMatchObject({
      filterGroups: [{ filters: [{ propertyName: "hs_lastmodifieddate", operator: "GTE", value: state.cursor }] }],
      sorts: [{ propertyName: "hs_lastmodifieddate", direction: "ASCENDING" }],
    });
    expect(res.counts.companies).toBeLessThanOrEqual(4); // the three, plus at most the record at the cursor itself

    const entries = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "ACCOUNT_UPDATED" }, orderBy: { seq: "asc" } });
    const fresh = entries.slice(ledgerBefore);
    expect(fresh).toHaveLength(3);
    const byAccount = new Map<string, Record<string, unknown>>();
    for (const e of fresh) {
      expect(e).toMatchObject({ actorType: "SYSTEM", actorId: "crm-sync" });
      byAccount.set(e.accountId as string, JSON.parse(e.payload) as Record<string, unknown>);
    }
    const idOf = async (ext: string) => (await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: ext } })).id;
    expect(byAccount.get(await idOf(c1))).toMatchObject({
      source: "crm",
      changed: { name: { before: "Company 0", after: "Company 1 Renamed" } },
    });
    expect(byAccount.get(await idOf(c2))).toMatchObject({
      source: "crm",
      changed: { lifecycle: { before: "SUSPECT", after: "CUSTOMER" } },
    });
    expect(byAccount.get(await idOf(c3))).toMatchObject({ source: "crm", changed: { posture: { before: "OK", after: "AT_RISK" } } });
    // Posture and lifecycle moves are decision triggers; the name change is not.
    const windows = await t.db.triggerWindow.findMany({ where: { tenantId: a.id } });
    expect(windows.filter((w) => w.triggerType === "POSTURE_CHANGE").map((w) => w.accountId)).toEqual([await idOf(c3)]);
    expect(windows.filter((w) => w.triggerType === "LIFECYCLE_STATE_CHANGE").map((w) => w.accountId)).toEqual([await idOf(c2)]);
    // Untouched companies did not change.
    const untouched = await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: seeded[5]?.company } });
    expect(untouched.name).toBe("Company 5");

    // Nothing changed since: a third sync updates nothing and ledgers nothing.
    clock.advance(10 * 60_000);
    const again = await syncCrm(crmDeps(), a.id);
    expect(again).toMatchObject({ ok: true, mode: "INCREMENTAL" });
    expect(again.counts.updated).toBe(0);
    expect(await t.db.ledgerEntry.count({ where: { tenantId: a.id, type: "ACCOUNT_UPDATED" } })).toBe(ledgerBefore + 3);
  });

  it("a deal moved to closedlost becomes one high DISCOVERY_PROGRESS_STALLED signal (dedupe key from id + modified time)", async () => {
    clock.advance(60 * 60_000);
    const deal = seeded[4]?.deal as string;
    f.touch("deals", deal, { dealstage: "closedlost" });
    clock.advance(5 * 60_000);
    const res = await syncCrm(crmDeps(), a.id);
    expect(res.counts.signals).toBe(1);
    const modified = Date.parse(f.store.deals.get(deal)?.properties.hs_lastmodifieddate as string);
    const signal = await t.db.signal.findFirstOrThrow({ where: { tenantId: a.id, dedupeKey: `crm:deal:${deal}:${modified}` } });
    expect(signal).toMatchObject({ type: "DISCOVERY_PROGRESS_STALLED", severity: "high", source: "crm" });
    expect(await t.db.opportunity.findFirstOrThrow({ where: { tenantId: a.id, externalId: deal } })).toMatchObject({
      stage: "CLOSED_LOST",
    });
    // A deal that moved forward is not a risk signal; a re-fetch of the same version is no new one.
    f.touch("deals", seeded[5]?.deal as string, { dealstage: "contractsent" });
    clock.advance(5 * 60_000);
    const next = await syncCrm(crmDeps(), a.id);
    expect(next.counts.signals).toBe(0);
    expect(await t.db.signal.count({ where: { tenantId: a.id, source: "crm" } })).toBe(1);
  });

  it("pullCrmAccount: SHALLOW reads the company only, DEEP also its contacts and deals", async () => {
    const s = seeded[6] as (typeof seeded)[number];
    const acct = await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: s.company } });
    clock.advance(60_000);
    f.touch("contacts", s.contacts[0] as string, { jobtitle: "CEO" });
    let seen = f.requests.length;
    expect(await pullCrmAccount(crmDeps(), a.id, acct.id, "SHALLOW")).toEqual({ signals: 0 });
    expect(f.requests.slice(seen).map((r) => r.path)).toEqual([`/crm/v3/objects/companies/${s.company}`]);
    expect((await t.db.contact.findFirstOrThrow({ where: { tenantId: a.id, externalId: s.contacts[0] } })).title).toBe("CFO");
    f.touch("deals", s.deal, { dealstage: "closedlost" });
    seen = f.requests.length;
    expect(await pullCrmAccount(crmDeps(), a.id, acct.id, "DEEP")).toEqual({ signals: 1 });
    expect(
      f.requests
        .slice(seen)
        .map((r) => r.path)
        .sort(),
    ).toEqual(
      [
        `/crm/v3/objects/companies/${s.company}`,
        ...s.contacts.map((c) => `/crm/v3/objects/contacts/${c}`),
        `/crm/v3/objects/deals/${s.deal}`,
      ].sort(),
    );
    expect((await t.db.contact.findFirstOrThrow({ where: { tenantId: a.id, externalId: s.contacts[0] } })).title).toBe("CEO");
  });

  it("a DEEP crm pull through the perception scheduler (POST /api/v1/perception/pulls' service) is RUN, ledgered and reads the company's records", async () => {
    const s = seeded[5] as (typeof seeded)[number];
    const acct = await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: s.company } });
    const seen = f.requests.length;
    const pull = (pullJobId: string) =>
      requestPull({ db: t.db, clock, connectors: crmDeps().connectors }, a.admin.viewer, {
        accountId: acct.id,
        connector: "crm",
        depth: "DEEP",
        pullJobId,
        source: "api",
      });
    const answer = await pull("crm-deep-1");
    expect(answer).toMatchObject({ result: "RUN", reason: "ADMITTED", run: { status: "DONE" } });
    expect(f.requests.slice(seen).some((r) => r.path === `/crm/v3/objects/companies/${s.company}`)).toBe(true);
    expect(f.requests.slice(seen).some((r) => r.path === `/crm/v3/objects/deals/${s.deal}`)).toBe(true);
    // The same pull-job id again runs nothing.
    const again = f.requests.length;
    expect(await pull("crm-deep-1")).toMatchObject({ result: "SKIP", reason: "DUPLICATE_PULL_JOB_ID" });
    expect(f.requests.length).toBe(again);
    const scheduled = await t.db.ledgerEntry.findMany({ where: { tenantId: a.id, type: "PULL_SCHEDULED", accountId: acct.id } });
    expect(scheduled.map((e) => JSON.parse(e.payload).reason).sort()).toEqual(["ADMITTED", "DUPLICATE_PULL_JOB_ID"]);
    expect(scheduled.every((e) => JSON.parse(e.payload).connector === "crm")).toBe(true);
  });

  it("the token appears nowhere in the tenant's ledger, connector rows, sync state or the console", async () => {
    const text = await tenantText(a.id);
    expect(text).not.toContain(token);
    expect(text).toContain("connector_crm"); // the CONFIG_CHANGED entry is there, without the token
    expect(consoleLines.join("\n")).not.toContain(token);
  });
});

describe(`the CRM's rate limit is never exceeded (${TEST_PROVIDER})`, () => {
  it("after a 429 (the limit shared with another integration) the client waits out Retry-After and each announced window", async () => {
    const a = await makeTenant(t.db);
    const token = newToken();
    const f = await fake(token, { max: 4, intervalMs: 10_000, searchPerSecond: 2 });
    seedCompanies(f, 6);
    await enableCrm(a.admin.viewer, f.url, token);
    // Another app on the same HubSpot account used up the current window: our first request is refused.
    clock.advance(60 * 60_000);
    f.consume(4);
    const res = await syncCrm(crmDeps(), a.id);
    expect(res).toMatchObject({ ok: true, status: "OK" });
    expect(await t.db.account.count({ where: { tenantId: a.id, externalId: { not: null } } })).toBe(6);
    expect(f.rateLimited).toBe(1); // only the one request nobody could have known about
    expect(f.whileBlocked).toBe(0);
    expect(sleeps.length).toBeGreaterThan(1); // it waited for Retry-After and for exhausted windows
    const state = await t.db.connectorState.findUniqueOrThrow({ where: { tenantId_connector: { tenantId: a.id, connector: "crm" } } });
    expect(state.throttles).toBeGreaterThan(0);
    expect(state.lastThrottleAt).not.toBeNull();

    // The incremental sync's searches meet the search endpoint's own per-second limit (no headers).
    clock.advance(60 * 60_000);
    for (const id of [...f.store.companies.keys()].slice(0, 3)) f.touch("companies", id, { industry: "Energy" });
    for (const id of [...f.store.contacts.keys()].slice(0, 3)) f.touch("contacts", id, { jobtitle: "VP" });
    clock.advance(5 * 60_000);
    const limitedBefore = f.rateLimited;
    const inc = await syncCrm(crmDeps(), a.id);
    expect(inc).toMatchObject({ ok: true, mode: "INCREMENTAL" });
    expect(inc.counts.updated).toBe(6);
    expect(f.rateLimited).toBeGreaterThan(limitedBefore); // it did meet the limit …
    expect(f.whileBlocked).toBe(0); // … and never sent while told to wait
  });

  it("a wait longer than allowed stops the sync with THROTTLED; every other instance then sends nothing until the block ends", async () => {
    const a = await makeTenant(t.db);
    const token = newToken();
    const f = await fake(token, { max: 3, intervalMs: 30_000 });
    seedCompanies(f, 4);
    await enableCrm(a.admin.viewer, f.url, token);
    f.consume(3);
    const res = await syncCrm(crmDeps({ crmMaxWaitMs: 5_000 }), a.id);
    expect(res).toMatchObject({ ok: false, status: "THROTTLED" });
    expect(res.error).toMatch(/rate limit is exhausted until .*stopped/);
    const state = await t.db.connectorState.findUniqueOrThrow({ where: { tenantId_connector: { tenantId: a.id, connector: "crm" } } });
    expect(state).toMatchObject({ lastStatus: "THROTTLED", throttles: 1 });
    expect(state.blockedUntil?.getTime()).toBeGreaterThan(clock.now().getTime());
    expect(state.cursor).toBeNull(); // the cursor only advances on a complete sync
    // Other instances (concurrent callers) read the shared block and stop without a request.
    const sent = f.requests.length;
    const others = await Promise.all([1, 2, 3, 4, 5].map(() => syncCrm(crmDeps({ crmMaxWaitMs: 5_000 }), a.id)));
    for (const o of others) expect(["THROTTLED", "ALREADY_RUNNING"]).toContain(o.status);
    expect(f.requests.length).toBe(sent);
    expect(f.whileBlocked).toBe(0);
    // Once the block has passed, a sync completes.
    clock.advance(31_000);
    expect(await syncCrm(crmDeps(), a.id)).toMatchObject({ ok: true, status: "OK" });
    expect(f.whileBlocked).toBe(0);
  });
});

describe(`concurrent syncs of one tenant (${TEST_PROVIDER})`, () => {
  it("eight at once (cron on several instances, Sync now): exactly one runs, the others are ALREADY_RUNNING, nothing is imported twice", async () => {
    const a = await makeTenant(t.db);
    const token = newToken();
    const f = await fake(token);
    seedCompanies(f, 5);
    await enableCrm(a.admin.viewer, f.url, token);
    const results = await Promise.all(Array.from({ length: 8 }, () => syncCrm(crmDeps(), a.id)));
    expect(results.filter((r) => r.status === "OK")).toHaveLength(1);
    expect(results.filter((r) => r.status === "ALREADY_RUNNING")).toHaveLength(7);
    expect(await t.db.account.count({ where: { tenantId: a.id, externalId: { not: null } } })).toBe(5);
    expect(await t.db.contact.count({ where: { tenantId: a.id, externalId: { not: null } } })).toBe(10);
    expect(f.list("GET", "/crm/v3/objects/companies").filter((r) => !r.query.after)).toHaveLength(1);
    // Per-account DEEP pulls are not serialised with syncs: six at once, all finding the same two
    // new contacts, create each once and all succeed.
    const acct = await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: { not: null } }, orderBy: { name: "asc" } });
    const fresh = [0, 1].map((j) => {
      const id = f.add("contacts", { firstname: "New", lastname: `Person ${j}`, email: `new${j}@x.example` });
      f.associate(acct.externalId as string, "contacts", id);
      return id;
    });
    const pulls = await Promise.allSettled(Array.from({ length: 6 }, () => pullCrmAccount(crmDeps(), a.id, acct.id, "DEEP")));
    expect(pulls.filter((p) => p.status === "rejected")).toEqual([]);
    expect(await t.db.contact.count({ where: { tenantId: a.id, externalId: { in: fresh } } })).toBe(2);
    // Once it finished, the next sync may run.
    expect((await syncCrm(crmDeps(), a.id)).status).toBe("OK");
  });
});

describe(`search paging past the CRM's result cap (${TEST_PROVIDER})`, () => {
  it("when `after` reaches the cap the search restarts from the last modified date seen, and every changed record arrives once", async () => {
    const a = await makeTenant(t.db);
    const token = newToken();
    const f = await fake(token, { searchCap: 6 });
    const ids = seedCompanies(f, 10).map((x) => x.company);
    await enableCrm(a.admin.viewer, f.url, token);
    clock.advance(60 * 60_000);
    expect((await syncCrm(crmDeps(), a.id)).ok).toBe(true);
    clock.advance(60 * 60_000);
    for (const id of ids) {
      clock.advance(1000);
      f.touch("companies", id, { industry: "Biotech" });
    }
    clock.advance(5 * 60_000);
    const seen = f.requests.length;
    // The client knows the CRM's cap (HubSpot: 10,000); here both sides use 6 to reach it with 10 records.
    const res = await syncCrm(crmDeps({ crmSearchCap: 6 }), a.id);
    expect(res, res.error ?? "").toMatchObject({ ok: true, mode: "INCREMENTAL" });
    expect(res.counts.updated).toBe(10);
    expect(res.counts.companies).toBe(10); // none twice across the restart
    const searches = f.requests.slice(seen).filter((r) => r.path === "/crm/v3/objects/companies/search");
    // Never asked past the cap (HubSpot would answer 400) …
    expect(searches.every((r) => Number((r.body as { after?: string }).after ?? 0) < 6)).toBe(true);
    // … and restarted once from a later modified date.
    const froms = new Set(
      searches.map((r) => (r.body as { filterGroups: { filters: { value: string }[] }[] }).filterGroups[0]?.filters[0]?.value),
    );
    expect(froms.size).toBeGreaterThan(1);
    expect(await t.db.account.count({ where: { tenantId: a.id, industry: "Biotech" } })).toBe(10);
  });
});

describe(`approved CRM writes (${TEST_PROVIDER})`, () => {
  let a: TestTenant;
  let f: FakeHubspot;
  const token = newToken();
  const gateDeps = () => ({ db: t.db, clock, connectors: { smtp: null, secretKey, sleep } });

  beforeAll(async () => {
    a = await makeTenant(t.db);
    f = await fake(token);
    seedCompanies(f, 2);
    await enableCrm(a.admin.viewer, f.url, token);
    expect((await syncCrm(crmDeps(), a.id)).ok).toBe(true);
  });

  const pending = async (accountId: string, actionType: string, parameters: Record<string, unknown>) => {
    const v = await submitIntent(gateDeps(), a.admin.viewer, {
      accountId,
      actionType,
      confidence: 0.9,
      riskLevel: "MEDIUM",
      why: ["USAGE_TREND_CHANGE"],
      parameters,
      target: {},
      blockingUnknowns: [],
      source: "API",
    });
    expect(v.status).toBe("PENDING_APPROVAL");
    return v.actionIntentId as string;
  };

  it("an approved UPDATE_ACCOUNT_FIELDS is exactly one PATCH with the execution's idempotency key; duplicate approvals send none", async () => {
    const acct = await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: { not: null } }, orderBy: { name: "asc" } });
    const id = await pending(acct.id, "UPDATE_ACCOUNT_FIELDS", { fields: { posture: "WATCH", industry: "Fintech" } });
    const before = f.writes().length;
    // Eight concurrent approvals of the same intent (double clicks, a retried Slack button).
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => approveAndRun(gateDeps(), a.admin.viewer, id, {})));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const writes = f.writes().slice(before);
    expect(writes).toHaveLength(1);
    const exec = await t.db.execution.findFirstOrThrow({ where: { tenantId: a.id, intentId: id } });
    expect(exec.status).toBe("SUCCEEDED");
    expect(writes[0]).toMatchObject({
      method: "PATCH",
      path: `/crm/v3/objects/companies/${acct.externalId}`,
      idempotencyKey: `${exec.id}:crm`,
      body: { properties: { autopilot_posture: "WATCH", industry: "Fintech" } },
    });
    const call = await t.db.toolCall.findFirstOrThrow({ where: { tenantId: a.id, executionId: exec.id } });
    expect(call).toMatchObject({ connector: "crm", status: "SUCCEEDED", idempotencyKey: `${exec.id}:crm` });
    // And once more, sequentially: refused as already decided, nothing sent.
    await expect(approveAndRun(gateDeps(), a.admin.viewer, id, {})).rejects.toThrow(/already/);
    expect(f.writes().length).toBe(before + 1);
  });

  it("the key is also honoured locally: re-running a finished execution's connector step sends nothing", async () => {
    const exec = await t.db.execution.findFirstOrThrow({ where: { tenantId: a.id, status: "SUCCEEDED" }, orderBy: { startedAt: "asc" } });
    const intentRow = await findIntent(t.db, a.id, exec.intentId);
    if (!intentRow) throw new Error("intent missing");
    const before = f.writes().length;
    // What a duplicate delivery of the same execution would do: its tool call already SUCCEEDED.
    const again = await completeExecution(gateDeps(), intentRow, exec, { type: "SYSTEM", id: "test" });
    expect(again).toEqual({ executionId: exec.id, status: "SUCCEEDED" });
    expect(f.writes().length).toBe(before);
    expect(await t.db.toolCall.count({ where: { tenantId: a.id, executionId: exec.id } })).toBe(1);
  });

  it("CREATE_OPPORTUNITY is one POST associated with the company; UPDATE_OPPORTUNITY_STAGE one PATCH of the deal", async () => {
    const acct = await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: { not: null } }, orderBy: { name: "desc" } });
    const before = f.writes().length;
    const create = await pending(acct.id, "CREATE_OPPORTUNITY", { name: "Expansion", amount: 5000, stage: "PROPOSAL" });
    await approveAndRun(gateDeps(), a.admin.viewer, create, {});
    const opp = await t.db.opportunity.findFirstOrThrow({ where: { tenantId: a.id, accountId: acct.id } });
    const stage = await pending(acct.id, "UPDATE_OPPORTUNITY_STAGE", { opportunity_id: opp.id, stage: "NEGOTIATION" });
    await approveAndRun(gateDeps(), a.admin.viewer, stage, {});
    const writes = f.writes().slice(before);
    expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      "POST /crm/v3/objects/deals",
      `PATCH /crm/v3/objects/deals/${opp.externalId}`,
    ]);
    expect(writes[0]?.body).toMatchObject({
      properties: { dealname: "Expansion", dealstage: "decisionmakerboughtin", amount: "5000", pipeline: "default" },
      associations: [{ to: { id: acct.externalId } }],
    });
    expect(writes[1]?.body).toEqual({ properties: { dealstage: "contractsent" } });
    for (const w of writes) expect(w.idempotencyKey).toMatch(/^[a-z0-9]+:crm$/);
    expect(new Set(writes.map((w) => w.idempotencyKey)).size).toBe(2);
  });

  it("an account not linked to a CRM company fails clearly and sends nothing", async () => {
    const local = a.accounts.admin[0] as string;
    const before = f.writes().length;
    const id = await pending(local, "UPDATE_ACCOUNT_FIELDS", { fields: { posture: "WATCH" } });
    const v = await approveAndRun(gateDeps(), a.admin.viewer, id, {});
    expect(v.status).toBe("FAILED");
    const exec = await t.db.execution.findFirstOrThrow({ where: { tenantId: a.id, intentId: id } });
    expect(exec.error).toMatch(/not linked to a CRM company/);
    expect(f.writes().length).toBe(before);
  });

  it("a CONNECTOR kill switch on crm stops CRM writes at the gate; without a CRM, a webhook switch still stops them", async () => {
    const account = (await t.db.account.findFirstOrThrow({ where: { tenantId: a.id, externalId: { not: null } } })).id;
    const submit = () =>
      submitIntent(gateDeps(), a.admin.viewer, {
        accountId: account,
        actionType: "UPDATE_ACCOUNT_FIELDS",
        confidence: 0.9,
        riskLevel: "MEDIUM",
        why: ["USAGE_TREND_CHANGE"],
        parameters: { fields: { posture: "WATCH" } },
        target: {},
        blockingUnknowns: [],
        source: "API",
      });
    const kill = (key: string, enabled: boolean) =>
      putKillSwitch(t.db, a.admin.viewer, { scope: "CONNECTOR", key, enabled, reason: `test ${key}` }, clock);
    const writesBefore = f.writes().length;
    await kill("crm", true);
    // A killed connector never runs on its own: the write waits for a human, reason named.
    expect(await submit()).toMatchObject({ status: "PENDING_APPROVAL", reason: "KILL_SWITCH_ACTIVE" });
    // The webhook switch does not stop a write that goes to the enabled CRM...
    await kill("crm", false);
    await kill("webhook", true);
    const open = await submit();
    expect(open.status).toBe("PENDING_APPROVAL");
    expect(open.reason).not.toBe("KILL_SWITCH_ACTIVE");
    // ...but with the CRM disabled the same write would travel by webhook, so it is stopped.
    await putConnector(settingsDeps(), a.admin.viewer, "crm", { enabled: false });
    expect(await submit()).toMatchObject({ status: "PENDING_APPROVAL", reason: "KILL_SWITCH_ACTIVE" });
    await kill("webhook", false);
    await putConnector(settingsDeps(), a.admin.viewer, "crm", { enabled: true });
    // Nothing was approved, so nothing reached the CRM.
    expect(f.writes().length).toBe(writesBefore);
  });

  it("the token is in none of the executions, tool calls or ledger entries these writes made", async () => {
    expect(await tenantText(a.id)).not.toContain(token);
    expect(consoleLines.join("\n")).not.toContain(token);
  });
});

describe(`a rejected token (${TEST_PROVIDER})`, () => {
  it("401 → UNAUTHORIZED with a clear message that does not contain the token; state and ledger stay clean", async () => {
    const a = await makeTenant(t.db);
    const good = newToken();
    const wrong = newToken();
    const f = await fake(good);
    seedCompanies(f, 1);
    await enableCrm(a.admin.viewer, f.url, wrong);
    const res = await syncCrm(crmDeps(), a.id);
    expect(res).toMatchObject({ ok: false, status: "UNAUTHORIZED" });
    expect(res.error).toMatch(/^the CRM rejected the token \(401\)/);
    expect(f.requests.at(-1)?.status).toBe(401);
    const state = await t.db.connectorState.findUniqueOrThrow({ where: { tenantId_connector: { tenantId: a.id, connector: "crm" } } });
    expect(state.lastError).toBe(res.error);
    const text = `${JSON.stringify(res)} ${await tenantText(a.id)} ${consoleLines.join("\n")}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(good);
  });

  it("a token sealed with another server key cannot be opened: a clear error, no request", async () => {
    const a = await makeTenant(t.db);
    const token = newToken();
    const f = await fake(token);
    await enableCrm(a.admin.viewer, f.url, token);
    const res = await syncCrm(crmDeps({ secretKey: secretKeyFrom("another-key-entirely-different") }), a.id);
    expect(res).toMatchObject({ ok: false, status: "FAILED" });
    expect(res.error).toMatch(/cannot be decrypted/);
    expect(f.requests).toHaveLength(0);
  });
});

describe(`connector settings over REST and tRPC (${TEST_PROVIDER})`, () => {
  let a: TestTenant;
  let b: TestTenant;
  const k = { aAdmin: "", aRead: "", bAdmin: "" };
  const token = newToken();

  beforeAll(async () => {
    a = await makeTenant(t.db);
    b = await makeTenant(t.db);
    const key = async (tenantId: string, scopes: ("admin" | "read")[]) =>
      (await createApiKey(t.db, { tenantId, name: scopes.join("+"), scopes, actor: { type: "SYSTEM", id: "test" } }, clock)).key;
    k.aAdmin = await key(a.id, ["admin"]);
    k.aRead = await key(a.id, ["read"]);
    k.bAdmin = await key(b.id, ["admin"]);
  });

  const call = async (method: "GET" | "PUT", name: string, key: string | null, body?: unknown) => {
    const req = new Request(`http://127.0.0.1/api/v1/connectors/${name}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const res = await (method === "GET" ? connectorGet : connectorPut)(req, { params: Promise.resolve({ name }) });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> };
  };

  it("PUT crm stores the token encrypted and never returns it; GET says token_set; CONFIG_CHANGED says token_changed", async () => {
    const v0 = (await t.db.tenant.findUniqueOrThrow({ where: { id: a.id } })).configVersion;
    const put = await call("PUT", "crm", k.aAdmin, {
      enabled: true,
      base_url: "https://api.hubapi.example",
      token,
      rate_limit_per_minute: 100,
      max_concurrency: 2,
      breaker: { failure_threshold: 5, window_seconds: 60, cooldown_seconds: 120 },
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      name: "crm",
      enabled: true,
      token_set: true,
      base_url: "https://api.hubapi.example",
      rate_limit_per_minute: 100,
      max_concurrency: 2,
      breaker: { failure_threshold: 5, window_seconds: 60, cooldown_seconds: 120 },
      breaker_enforced: true,
    });
    expect(put.text).not.toContain(token);
    expect((await t.db.tenant.findUniqueOrThrow({ where: { id: a.id } })).configVersion).toBeGreaterThan(v0);
    const row = await t.db.connectorConfig.findFirstOrThrow({ where: { tenantId: a.id, kind: "CRM" } });
    expect(row.secret).toMatch(/^v1\./);
    expect(row.secret).not.toContain(token);
    const get = await call("GET", "crm", k.aRead);
    expect(get.status).toBe(200);
    expect(get.json).toMatchObject({ token_set: true, enabled: true });
    expect(get.text).not.toContain(token);
    const change = await t.db.ledgerEntry.findFirstOrThrow({ where: { tenantId: a.id, type: "CONFIG_CHANGED" }, orderBy: { seq: "desc" } });
    expect(JSON.parse(change.payload)).toMatchObject({ change: "connector_crm", token_changed: true, after: { enabled: true } });
    expect(change.payload).not.toContain(token);
    // A later PUT without a token keeps it, and says so.
    const again = await call("PUT", "crm", k.aAdmin, { enabled: false });
    expect(again.json).toMatchObject({ enabled: false, token_set: true });
    const change2 = await t.db.ledgerEntry.findFirstOrThrow({
      where: { tenantId: a.id, type: "CONFIG_CHANGED" },
      orderBy: { seq: "desc" },
    });
    expect(JSON.parse(change2.payload)).toMatchObject({ token_changed: false, before: { enabled: true }, after: { enabled: false } });
  });

  it("bad input is a 4xx naming the field, nothing written; unknown names 404; read keys cannot write", async () => {
    const head = async () => (await t.db.ledgerHead.findUniqueOrThrow({ where: { tenantId: a.id } })).seq;
    const before = await head();
    const cases: [unknown, string][] = [
      [{ enabled: true, base_url: "ftp://x.example" }, "base_url"],
      [{ enabled: true, base_url: "https://user:pw@x.example" }, "base_url"],
      [{ enabled: true, token: "has spaces in it" }, "token"],
      [{ enabled: "yes" }, "enabled"],
      [{ enabled: true, breaker: { failure_threshold: 0, window_seconds: 1, cooldown_seconds: 1 } }, "breaker.failure_threshold"],
      [{ enabled: true, surprise: 1 }, "body"],
    ];
    for (const [body, field] of cases) {
      const r = await call("PUT", "crm", k.aAdmin, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.json.error as { field?: string }).field ?? "body").toBe(field);
    }
    expect((await call("PUT", "internal", k.aAdmin, { enabled: false })).status).toBe(422);
    expect((await call("PUT", "email", k.aAdmin, { enabled: true, token: "abcdefghij" })).status).toBe(400);
    expect((await call("GET", "salesforce", k.aRead)).status).toBe(404);
    expect((await call("PUT", "crm", k.aRead, { enabled: true })).status).toBe(403);
    expect((await call("GET", "crm", null)).status).toBe(401);
    expect(await head()).toBe(before);
  });

  it("another tenant's key sees and changes only its own connectors", async () => {
    const bGet = await call("GET", "crm", k.bAdmin);
    expect(bGet.json).toMatchObject({ token_set: false, enabled: false, base_url: null });
    await call("PUT", "crm", k.bAdmin, { enabled: false, base_url: "https://b-only.example" });
    const aGet = await call("GET", "crm", k.aRead);
    expect(aGet.json).toMatchObject({ token_set: true, base_url: "https://api.hubapi.example" });
    expect((await t.db.connectorConfig.findFirstOrThrow({ where: { tenantId: b.id, kind: "CRM" } })).secret).toBeNull();
  });

  it("tRPC: admins write, auditors read, sellers neither; each tenant sees its own; the token is never in an answer", async () => {
    const as = (u: TestTenant["admin"]) => createCaller({ db: t.db, clock, session: u.session });
    const listA = await as(a.auditor).connectors.list();
    expect(listA.map((c) => c.name)).toEqual(["internal", "webhook", "email", "crm"]);
    expect(listA.find((c) => c.name === "crm")).toMatchObject({ tokenSet: true, baseUrl: "https://api.hubapi.example" });
    expect(JSON.stringify(listA)).not.toContain(token);
    expect((await as(b.admin).connectors.get({ name: "crm" })).tokenSet).toBe(false);
    await expect(as(a.seller).connectors.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(as(a.auditor).connectors.put({ name: "crm", enabled: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(as(a.seller).connectors.syncNow()).rejects.toMatchObject({ code: "FORBIDDEN" });
    const other = newToken();
    const put = await as(b.admin).connectors.put({ name: "crm", enabled: true, baseUrl: "https://b-only.example", token: other });
    expect(put).toMatchObject({ tokenSet: true, enabled: true });
    expect(JSON.stringify(put)).not.toContain(other);
    // B's token did not touch A's row.
    const aRow = await t.db.connectorConfig.findFirstOrThrow({ where: { tenantId: a.id, kind: "CRM" } });
    const bRow = await t.db.connectorConfig.findFirstOrThrow({ where: { tenantId: b.id, kind: "CRM" } });
    expect(aRow.secret).not.toBe(bRow.secret);
    // "Sync now" syncs the caller's tenant only: A's crm is disabled → NOT_ENABLED, whatever B has.
    expect(await as(a.admin).connectors.syncNow()).toMatchObject({ ok: false, status: "NOT_ENABLED" });
  });
});

describe(`the crm-sync job and the CLI (${TEST_PROVIDER})`, () => {
  it("the crm-sync job syncs exactly the tenants whose crm connector is enabled", async () => {
    const on = await makeTenant(t.db);
    const off = await makeTenant(t.db);
    const token = newToken();
    const f = await fake(token);
    seedCompanies(f, 2);
    await enableCrm(on.admin.viewer, f.url, token);
    await enableCrm(off.admin.viewer, f.url, token);
    await putConnector(settingsDeps(), off.admin.viewer, "crm", { enabled: false });
    const res = await JOBS["crm-sync"].run({
      db: t.db,
      clock,
      workerId: "test",
      synthesizer: rulesSynthesizer,
      connectors: { smtp: null, secretKey, sleep, crmPageSize: 3 },
    });
    // Earlier tests left tenants with a rejected token enabled: those make the job fail, this one is OK.
    expect(res.tenants.find((x) => x.tenantId === on.id)?.status).toBe("OK");
    expect(res.ok).toBe(res.tenants.every((x) => x.status === "OK"));
    const ids = res.tenants.map((x) => x.tenantId);
    expect(ids).toContain(on.id);
    expect(ids).not.toContain(off.id);
    expect(await t.db.account.count({ where: { tenantId: on.id, externalId: { not: null } } })).toBe(2);
    expect(await t.db.account.count({ where: { tenantId: off.id, externalId: { not: null } } })).toBe(0);
  }, 30_000);

  it("npm run cli -- crm sync prints the counts and exits 0; with a rejected token it exits non-zero with a clear, token-free message", async () => {
    const run = promisify(execFile);
    const cli = (...args: string[]) =>
      run("./node_modules/.bin/tsx", ["scripts/cli.ts", ...args], {
        env: { ...process.env, DATABASE_URL: t.url, CONNECTOR_SECRET_KEY: KEY_TEXT },
      });
    const x = await makeTenant(t.db);
    const token = newToken();
    const f = await fake(token);
    seedCompanies(f, 3);
    await enableCrm(x.admin.viewer, f.url, token);
    const ok = await cli("crm", "sync", "--tenant", x.slug);
    expect(ok.stdout).toMatch(/CRM sync for .*: OK \(full\) — companies 3, contacts 6, deals 3, created 12/);
    expect(`${ok.stdout}${ok.stderr}`).not.toContain(token);

    const wrong = newToken();
    await enableCrm(x.admin.viewer, f.url, wrong);
    const failed = await cli("crm", "sync", "--tenant", x.slug).then(
      () => null,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toMatch(/UNAUTHORIZED/);
    expect(failed?.stderr).toMatch(/the CRM rejected the token \(401\)/);
    expect(`${failed?.stdout}${failed?.stderr}`).not.toContain(wrong);
  }, 60_000);
});
