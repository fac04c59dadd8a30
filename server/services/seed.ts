import { hashPassword } from "better-auth/crypto";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import type { Severity, SignalType } from "../engine/signals";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { createDemoAccount, createDemoContact, createDemoOpportunity, createDemoUser } from "../repos/seed";
import { addMembership, createTenant, findTenantBySlug } from "../repos/tenants";
import { inTransaction } from "../repos/tx";
import { LIFECYCLES, MOMENTA, OPPORTUNITY_STAGES, POSTURES, type Role } from "../schemas/common";
import { prng } from "./demoHistory";
import { runHeatTick } from "./heat";
import { runWorkerTick } from "./jobQueue";
import { CALIBRATE, handleCalibrationJob, requestCalibration } from "./learning/calibrate";
import { runShadowTick } from "./learning/shadow";
import { runNormalizeTick } from "./normalize";
import { type HistoryEvent, replayHistory, seedAutonomy } from "./seedAutonomy";

/**
 * Demo data: tenants `demo` and `globex` with the users of SPEC §5, accounts with their contacts
 * and opportunities, and a few weeks of history. The history is not written as ledger rows: its
 * signals go through the real intake, triggers, decision runs and gate with a clock stepping
 * through the past (see `replayHistory`), so every entry has the records behind it. Values come
 * from a seeded PRNG and the injected clock, so every fresh database looks the same (ids differ).
 */

interface SeedUser {
  email: string;
  name: string;
  role: Role;
}

interface SeedTenant {
  slug: string;
  name: string;
  accounts: number;
  users: SeedUser[];
}

export const DEMO_TENANTS: SeedTenant[] = [
  {
    slug: "demo",
    name: "Demo Co",
    accounts: 50,
    users: [
      { email: "admin@demo.test", name: "Avery Admin", role: "ADMIN" },
      { email: "seller@demo.test", name: "Sam Seller", role: "SELLER" },
      { email: "seller2@demo.test", name: "Riley Rep", role: "SELLER" },
      { email: "auditor@demo.test", name: "Alex Auditor", role: "AUDITOR" },
    ],
  },
  {
    slug: "globex",
    name: "Globex Corporation",
    accounts: 12,
    users: [
      { email: "admin@globex.test", name: "Gale Globex", role: "ADMIN" },
      { email: "seller@globex.test", name: "Gus Globex", role: "SELLER" },
    ],
  },
];

/** The demo's PRNG lives beside the simulated reviewer that also draws from it; kept exported here for the demo source. */
export { prng };

/** Company-name parts and industries, shared with the bulk fixtures (services/fixtures.ts). */
export const PREFIXES = [
  "Acme",
  "Northwind",
  "Initech",
  "Umbrella",
  "Hooli",
  "Vandelay",
  "Stark",
  "Wayne",
  "Cyberdyne",
  "Soylent",
  "Tyrell",
  "Wonka",
  "Gringotts",
  "Oscorp",
  "Aperture",
  "Black Mesa",
  "Monarch",
  "Dunder",
  "Pied Piper",
  "Massive Dynamic",
  "Nakatomi",
  "Virtucon",
  "Zorg",
  "Prestige",
  "Sirius",
  "Blue Sun",
  "Globo",
  "Kwik",
  "Los Pollos",
  "Bluth",
];
export const SUFFIXES = ["Logistics", "Health", "Analytics", "Foods", "Energy", "Robotics", "Labs", "Capital", "Retail", "Systems"];
export const INDUSTRIES = [
  "Logistics",
  "Healthcare",
  "Software",
  "Food & Beverage",
  "Energy",
  "Manufacturing",
  "Biotech",
  "Financial Services",
  "Retail",
  "Telecom",
];
const FIRST = ["Jordan", "Casey", "Morgan", "Taylor", "Jamie", "Quinn", "Rowan", "Drew", "Harper", "Emerson", "Parker", "Reese"];
const LAST = ["Nguyen", "Okafor", "Schmidt", "Garcia", "Kowalski", "Haddad", "Tanaka", "Silva", "Murphy", "Ivanova", "Chen", "Dubois"];
const TITLES = ["VP Sales", "Head of RevOps", "CFO", "IT Director", "Procurement Lead", "COO", "Customer Success Manager", "CTO"];

export const DEMO_SIGNALS: { type: SignalType; severity: Severity; evidence: (r: ReturnType<typeof prng>) => Record<string, unknown> }[] = [
  { type: "USAGE_TREND_CHANGE", severity: "medium", evidence: (r) => ({ metric: "weekly_active_users", change_pct: r.int(-40, 35) }) },
  {
    type: "SUPPORT_RISK_EMERGING",
    severity: "high",
    evidence: (r) => ({ open_p1_tickets: r.int(1, 3), oldest_ticket_age_days: r.int(2, 20) }),
  },
  { type: "RENEWAL_WINDOW_ENTERED", severity: "medium", evidence: (r) => ({ days_to_renewal: r.pick([120, 90, 60]) }) },
  {
    type: "FIRST_ENGAGEMENT_OCCURRED",
    severity: "low",
    evidence: (r) => ({ channel: r.pick(["webinar", "inbound demo request", "event booth"]) }),
  },
  { type: "NO_ENGAGEMENT_PRESENT", severity: "low", evidence: (r) => ({ days_since_last_touch: r.int(30, 90) }) },
  {
    type: "STAKEHOLDER_GAP_DETECTED",
    severity: "medium",
    evidence: (r) => ({ missing_roles: [r.pick(["Economic buyer", "Champion", "Security reviewer"])] }),
  },
  { type: "DISCOVERY_PROGRESS_STALLED", severity: "medium", evidence: (r) => ({ days_in_stage: r.int(21, 60) }) },
  { type: "ACCOUNT_ACTIVATION_DETECTED", severity: "low", evidence: (r) => ({ pricing_page_visits: r.int(3, 12) }) },
];

const DAY = 86_400_000;

export interface SeedResult {
  created: boolean;
  tenants: { slug: string; accounts: number; users: SeedUser[] }[];
}

export async function seedDemo(db: Db, opts: { password: string; clock: Clock }): Promise<SeedResult> {
  const summary = DEMO_TENANTS.map((t) => ({ slug: t.slug, accounts: t.accounts, users: t.users }));
  if (await findTenantBySlug(db, "demo")) return { created: false, tenants: summary };
  const passwordHash = await hashPassword(opts.password);
  const now = opts.clock.now();
  const historyStart = new Date(now.getTime() - HISTORY_DAYS * DAY);
  const tenantIds: string[] = [];
  for (const [i, spec] of DEMO_TENANTS.entries()) {
    const { tenantId, events } = await inTransaction(db, (tx) => seedTenant(tx, spec, passwordHash, now, historyStart, prng(1000 + i)));
    await seedAutonomy(db, tenantId, new Date(historyStart.getTime() + 60_000));
    await replayHistory(db, tenantId, events, now);
    tenantIds.push(tenantId);
  }
  const atNow: Clock = { now: () => now };
  // The demo's heat is computed like any tenant's: the real `heat` job, at the seed's "now", folds
  // in the replayed signals (their tier history and daily rollups included).
  await runHeatTick({ db, clock: atNow });
  await learnFromHistory(db, atNow, tenantIds[0] as string);
  return { created: true, tenants: summary };
}

/**
 * The learning loop over the replayed history, by the jobs that run it for any tenant: `normalize`
 * records every decided intent's outcome, a calibration (requested by the SYSTEM `calibrate`
 * actor, run by the queue's handler) fits the `demo` tenant's reviews into a CANDIDATE, and
 * `shadow` evaluates it once. Nothing is promoted: no person decided to, so the candidate waits
 * with its shadow gate not yet passed (no live decision has been made since it was registered).
 */
async function learnFromHistory(db: Db, clock: Clock, tenantId: string) {
  await runNormalizeTick(db, clock);
  const calibrator: Viewer = { tenantId, actor: { type: "SYSTEM", id: "calibrate" }, role: null, userId: null };
  await requestCalibration(db, clock, calibrator);
  await runWorkerTick(
    db,
    { [CALIBRATE]: (payload, ctx) => handleCalibrationJob(payload, ctx) },
    { owner: "demo-seed", leaseSeconds: 600, maxJobs: 1, clock },
  );
  await runShadowTick(db, clock);
}

const HISTORY_DAYS = 15;

/** Hours before "now" at which demo bursts begin: recent ones are HOT now, older ones have cooled. */
const BURST_HOURS_AGO = [3, 9, 30, 60, 100, 140];

/**
 * Bursts of significant activity on a few accounts (one in eight), the way real accounts heat up:
 * three or four signals above low severity within a couple of hours. Drawn from their own PRNG
 * after every other draw, so the rest of the demo stays exactly what it was.
 */
function demoBursts(spec: SeedTenant, accountIds: string[], now: Date): HistoryEvent[] {
  const r = prng(5000 + spec.slug.length);
  const significant = DEMO_SIGNALS.filter((x) => x.severity !== "low");
  const out: HistoryEvent[] = [];
  const count = Math.max(2, Math.floor(accountIds.length / 8));
  for (let k = 0; k < count; k++) {
    const accountId = accountIds[(k * 7 + r.int(0, 6)) % accountIds.length] as string;
    const start = now.getTime() - (BURST_HOURS_AGO[k % BURST_HOURS_AGO.length] as number) * 3_600_000;
    for (let j = 0, n = r.int(3, 4); j < n; j++) {
      const sig = r.pick(significant);
      out.push({
        at: new Date(start + j * r.int(10, 40) * 60_000),
        accountId,
        type: sig.type,
        severity: sig.severity,
        evidence: sig.evidence(r),
      });
    }
  }
  return out;
}
const REPLAY_DAYS = 10;

async function seedTenant(
  tx: Tx,
  spec: SeedTenant,
  passwordHash: string,
  now: Date,
  historyStart: Date,
  r: ReturnType<typeof prng>,
): Promise<{ tenantId: string; events: HistoryEvent[] }> {
  const tenant = await createTenant(tx, { slug: spec.slug, name: spec.name });
  const userIds: Record<string, string> = {};
  for (const u of spec.users) {
    const user = await createDemoUser(tx, u, passwordHash);
    await addMembership(tx, tenant.id, user.id, u.role);
    userIds[u.email] = user.id;
  }
  const owners = spec.users.filter((u) => u.role !== "AUDITOR").map((u) => userIds[u.email] as string);
  const sellers = spec.users.filter((u) => u.role === "SELLER").map((u) => userIds[u.email] as string);

  // History is appended in time order so the hash chain's seq order is also chronological.
  const events: HistoryEvent[] = [];
  const accountIds: string[] = [];
  for (let n = 0; n < spec.accounts; n++) {
    // (prefix, suffix) pairs are distinct for the first 300 accounts: same prefix ⇒ different suffix.
    const name = `${PREFIXES[(n + spec.slug.length) % PREFIXES.length]} ${SUFFIXES[(n + Math.floor(n / PREFIXES.length)) % SUFFIXES.length]}`;
    const createdAt = new Date(now.getTime() - (spec.accounts - n) * 1.7 * DAY);
    const lifecycle = r.pick(LIFECYCLES);
    // Heat is computed by the `heat` job from the replayed signals; this draw only keeps the PRNG
    // sequence (and so every other demo value) what it has always been.
    r.next();
    const account = await createDemoAccount(tx, {
      tenantId: tenant.id,
      externalId: `crm-${spec.slug}-${1000 + n}`,
      name,
      domain: `${name.toLowerCase().replace(/[^a-z]+/g, "")}.example`,
      industry: r.pick(INDUSTRIES),
      // Sellers own most accounts so their scoped views are full; admins own a few.
      ownerId: r.next() < 0.85 ? r.pick(sellers.length ? sellers : owners) : r.pick(owners),
      lifecycle,
      posture: r.pick(POSTURES),
      momentum: r.pick(MOMENTA),
      arrCents: lifecycle === "CUSTOMER" ? r.int(12, 480) * 100_000 : 0,
      createdAt,
    });
    accountIds.push(account.id);
    for (let c = 0; c < r.int(2, 4); c++) {
      const first = r.pick(FIRST);
      const last = r.pick(LAST);
      await createDemoContact(tx, {
        tenantId: tenant.id,
        accountId: account.id,
        name: `${first} ${last}`,
        email: `${first}.${last}@${account.domain}`.toLowerCase(),
        title: r.pick(TITLES),
        createdAt,
      });
    }
    for (let o = 0; o < r.int(0, 2); o++) {
      await createDemoOpportunity(tx, {
        tenantId: tenant.id,
        accountId: account.id,
        name: `${name} — ${r.pick(["Expansion", "New business", "Renewal", "Pilot"])}`,
        stage: r.pick(OPPORTUNITY_STAGES),
        amountCents: r.int(10, 250) * 100_000,
        closeDate: new Date(now.getTime() + r.int(10, 120) * DAY),
        createdAt,
      });
    }
    for (let s = 0; s < r.int(1, 4); s++) {
      const sig = r.pick(DEMO_SIGNALS);
      events.push({
        at: new Date(now.getTime() - r.int(1, 14 * 24) * 3_600_000),
        accountId: account.id,
        type: sig.type,
        severity: sig.severity,
        evidence: sig.evidence(r),
      });
    }
  }
  events.push(...demoBursts(spec, accountIds, now));
  events.sort((a, b) => a.at.getTime() - b.at.getTime());
  // Every fact is drawn (so the PRNG sequence, and with it every other demo value, stays put), but
  // only the last ten days are played through the pipeline: each played signal costs a full
  // decision run and its proposals, and the seed must stay fast. Ten days (not a week) give the
  // simulated reviewer enough proposals for a calibration's minimum of labelled rows.
  const played = events.filter((e) => e.at.getTime() >= now.getTime() - REPLAY_DAYS * DAY);
  await appendLedger(
    tx,
    {
      tenantId: tenant.id,
      type: "CONFIG_CHANGED",
      actor: { type: "SYSTEM", id: "seed" },
      payload: { change: "tenant_created", slug: spec.slug, name: spec.name },
    },
    historyStart,
  );
  return { tenantId: tenant.id, events: played };
}
