import { randomUUID } from "node:crypto";
import { fixedClock } from "../server/clock";
import type { Db } from "../server/db";
import { ACTION_TYPES, type ActionType } from "../server/engine/actions";
import { canonicalJson } from "../server/engine/canonical";
import { ensureLearningState, flipActive, learningState, setWeightsStatus } from "../server/repos/learning";
import type { Viewer } from "../server/repos/scope";
import { createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { type CalibrationPhase, requestCalibration, runCalibration } from "../server/services/learning/calibrate";
import { nextActions } from "../server/services/nextActions";
import type { BenchRow } from "./ledger";
import { mulberry32 } from "./policy";
import { insertRows, type Raw, rawFor } from "./raw";

/**
 * The learning loop over a large tenant (issue 9 bar), on the same database in the same run:
 *
 * - calibration: the real job path (`runCalibration`: load the labelled rows, fit, evaluate
 *   beside the ACTIVE weights, register the candidate) over N decided intents, against a
 *   plain-driver scan of the same rows — the decided intents joined with their (and their edited
 *   versions') outcome labels, every row read into JS;
 * - ranking: the feed (`nextActions`, an admin's whole tenant, one page of all of them) ranked by
 *   ACTIVE weights over P open proposals, against a plain-driver scan of those P rows.
 *
 * Ratios are time ratios (measured / baseline, lower is better), medians of a few repeats. The
 * issue sets no target; the suite prints. For orientation: ranking is a few cheap reads around the
 * same scan, so a small multiple of it is what a healthy feed costs; calibration also fits a model,
 * CPU work no scan has, so its ratio is informational.
 *
 * The fixture is written with the plain driver in big transactions and bypasses the gate and the
 * review paths: producing 100,000 judged intents through them (policy, ledger, executions, one
 * transaction per step) would take far longer than everything measured here, and what the
 * measured paths read is only the stored result — intents with the gate's feature snapshot, their
 * statuses and decisions, edited versions and Outcome rows — which the fixture writes in exactly
 * the shapes the gate, the reviews, the executor and the response windows write them
 * (test/helpers/learningHistory.ts makes the same kind of history through the real paths, small).
 */

const DAY = 86_400_000;
const OWNERS = 25;
const ACCOUNTS = 5000;
/** The history spans this many days before "now" (inside the default 180-day calibration lookback). */
const SPAN_DAYS = 150;
const TIERS = ["HOT", "WARM", "COLD", null] as const;
const LIFECYCLES = ["PROSPECT", "SUSPECT", "CUSTOMER"] as const;
const POSTURES = ["OK", "WATCH", "AT_RISK", "EXPAND", "DORMANT"] as const;
const TRIGGERS = [
  "SIGNAL_ARRIVED",
  "POSTURE_CHANGE",
  "LIFECYCLE_STATE_CHANGE",
  "TIME_RITUAL_DAILY_BRIEF",
  "TIME_RITUAL_WEEKLY_REVIEW",
] as const;
const CAUSES = [
  "USAGE_TREND_CHANGE",
  "SUPPORT_RISK_EMERGING",
  "RENEWAL_WINDOW_ENTERED",
  "STAKEHOLDER_GAP_DETECTED",
  "NO_ENGAGEMENT_PRESENT",
  "DISCOVERY_PROGRESS_STALLED",
  "FIRST_ENGAGEMENT_OCCURRED",
] as const;
/** Action types as a synthesizer proposes them (weights), with how often sellers turn each down. */
const KINDS: [ActionType, number, number][] = [
  ["CREATE_INTERNAL_TASK", 14, 0.15],
  ["CREATE_INTERNAL_NOTE", 10, 0.1],
  ["FETCH_ACCOUNT_NEWS", 8, 0.1],
  ["FLAG_FOR_REVIEW", 8, 0.55],
  ["GENERATE_MEETING_BRIEF", 8, 0.2],
  ["DRAFT_EMAIL", 10, 0.3],
  ["UPDATE_ACCOUNT_FIELDS", 6, 0.35],
  ["CREATE_OPPORTUNITY", 4, 0.45],
  ["SEND_EMAIL", 16, 0.35],
  ["REQUEST_RENEWAL_MEETING", 6, 0.25],
  ["REQUEST_DISCOVERY_CALL", 6, 0.4],
  ["CHANGE_DISCOUNT", 4, 0.6],
];
const KIND_TOTAL = KINDS.reduce((s, [, w]) => s + w, 0);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const INTENT_COLUMNS = [
  "id",
  "tenantId",
  "accountId",
  "correlationId",
  "actionType",
  "target",
  "parameters",
  "why",
  "confidence",
  "riskLevel",
  "rankScore",
  "status",
  "version",
  "parentId",
  "source",
  "decision",
  "reason",
  "policyVersion",
  "createdBy",
  "features",
  "createdAt",
  "decidedAt",
  "updatedAt",
];

interface Fixture {
  intents: unknown[][];
  outcomes: unknown[][];
  /** decided originals (what calibration reads) */
  decided: number;
  children: number;
  mix: Record<string, number>;
}

/**
 * N decided original intents over SPAN_DAYS before `now`, plus P open proposals in the last day.
 * Each original's fate follows its features (type, tier, confidence) with noise, so the fit has
 * something to learn: policy auto-executes some internal work or blocks a few; otherwise the
 * owner rejects, edits-then-approves or approves; an approved outreach then meets a reply, a
 * refusal or silence when its response window closes.
 */
function buildFixture(raw: Raw, tenantId: string, accounts: { id: string; owner: string }[], now: Date, n: number, open: number) {
  const rnd = mulberry32(9);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)] as T;
  const f: Fixture = { intents: [], outcomes: [], decided: n, children: 0, mix: {} };
  const count = (k: string) => {
    f.mix[k] = (f.mix[k] ?? 0) + 1;
  };
  let outcomeSeq = 0;
  const outcome = (intentId: string, label: string, at: Date) =>
    f.outcomes.push([`bench-out-${outcomeSeq++}`, tenantId, intentId, label, "{}", raw.date(at)]);
  const start = now.getTime() - SPAN_DAYS * DAY;
  for (let i = 0; i < n + open; i++) {
    const isOpen = i >= n;
    let r = rnd() * KIND_TOTAL;
    const [type, , rejectBase] =
      KINDS.find(([, w]) => {
        r -= w;
        return r < 0;
      }) ?? (KINDS[0] as (typeof KINDS)[number]);
    const spec = ACTION_TYPES[type];
    const account = accounts[Math.floor(rnd() * accounts.length)] as { id: string; owner: string };
    const tier = pick(TIERS);
    const causes = [...new Set([pick(CAUSES), ...(rnd() < 0.35 ? [pick(CAUSES)] : [])])].sort();
    const features = canonicalJson({
      v: 1,
      tier,
      posture: pick(POSTURES),
      lifecycle: pick(LIFECYCLES),
      owner_id: account.owner,
      signal_types: causes,
      trigger: pick(TRIGGERS),
    });
    const confidence = Math.round((0.35 + rnd() * 0.6) * 100) / 100;
    const rankScore = Math.round(confidence * (tier === "HOT" ? 1 : tier === "WARM" ? 0.8 : 0.6) * 10_000) / 10_000;
    const createdAt = isOpen
      ? new Date(now.getTime() - DAY + Math.floor(((i - n) * DAY) / (open + 1)))
      : new Date(start + Math.floor((i * SPAN_DAYS * DAY) / n));
    const decidedAt = new Date(createdAt.getTime() + 30 * 60_000);
    const id = `bench-int-${String(i).padStart(7, "0")}`;
    const row = (over: { id?: string; status: string; decision: string | null; parentId?: string; version?: number; at?: Date }) => {
      const at = over.at ?? createdAt;
      f.intents.push([
        over.id ?? id,
        tenantId,
        account.id,
        `corr-${i}`,
        type,
        canonicalJson({ account_id: account.id }),
        canonicalJson({ title: `${spec.label} #${i}${over.parentId ? " (edited)" : ""}` }),
        canonicalJson([`${causes[0]} on this account`]),
        confidence,
        spec.risk,
        rankScore,
        over.status,
        over.version ?? 1,
        over.parentId ?? null,
        "DECISION",
        over.decision,
        over.decision === "BLOCK" ? "OUTSIDE_ALLOWLIST" : null,
        "bench-policy-1",
        "synthesizer",
        features,
        raw.date(at),
        isOpen ? null : raw.date(decidedAt),
        raw.date(isOpen ? at : decidedAt),
      ]);
    };
    if (isOpen) {
      row({ status: "PENDING_APPROVAL", decision: "REQUIRE_APPROVAL" });
      continue;
    }
    if (spec.mayAutoExecute && rnd() < 0.35) {
      row({ status: "SUCCEEDED", decision: "AUTO_EXECUTE" });
      outcome(id, "EXECUTION_SUCCEEDED", decidedAt);
      count("auto-executed");
      continue;
    }
    if (rnd() < 0.04) {
      row({ status: "BLOCKED", decision: "BLOCK" });
      outcome(id, "IDEA_BLOCKED", createdAt);
      count("blocked");
      continue;
    }
    const reject = rejectBase + (tier === "HOT" ? -0.1 : tier === null ? 0.1 : 0) + (0.65 - confidence) * 0.3;
    if (rnd() < reject) {
      row({ status: "REJECTED", decision: "REQUIRE_APPROVAL" });
      outcome(id, "IDEA_REJECTED", decidedAt);
      count("rejected");
      continue;
    }
    // Edited: the original is SUPERSEDED (IDEA_EDITED), the new version runs.
    let executed = id;
    if (rnd() < 0.15) {
      row({ status: "SUPERSEDED", decision: "REQUIRE_APPROVAL" });
      outcome(id, "IDEA_EDITED", decidedAt);
      executed = `${id}-v2`;
      f.children++;
      count("edited");
    } else count("approved");
    const failed = rnd() < 0.03;
    row({
      id: executed,
      status: failed ? "FAILED" : "SUCCEEDED",
      decision: "REQUIRE_APPROVAL",
      ...(executed === id ? {} : { parentId: id, version: 2 }),
    });
    outcome(executed, failed ? "EXECUTION_FAILED" : "EXECUTION_SUCCEEDED", new Date(decidedAt.getTime() + 60_000));
    if (failed) count("failed");
    if (spec.externalContact && !failed) {
      const u = rnd();
      const label = u < 0.3 ? "RESPONSE_RECEIVED" : u < 0.42 ? "NEGATIVE_RESPONSE" : "NO_RESPONSE";
      outcome(executed, label, new Date(decidedAt.getTime() + (label === "NO_RESPONSE" ? 7 : 2) * DAY));
      count(label.toLowerCase());
    }
  }
  return f;
}

async function timed<T>(fn: () => Promise<T>) {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

export async function learningBench(db: Db, label: string, url: string, n: number, open: number, repeats: number): Promise<BenchRow[]> {
  const now = new Date("2026-06-01T12:00:00Z");
  const clock = fixedClock(now);
  const tenant = await inTransaction(db, (tx) => createTenant(tx, { slug: `bench-${randomUUID().slice(0, 8)}`, name: "bench" }));
  const raw = await rawFor(label, url);
  try {
    // Fixture (plain driver, big transactions; not measured).
    const t0 = performance.now();
    const created = raw.date(new Date(now.getTime() - 365 * DAY));
    const owners = Array.from({ length: OWNERS }, (_, i) => `bench-user-${tenant.id}-${i}`);
    await insertRows(
      raw,
      "User",
      ["id", "name", "email", "emailVerified", "createdAt", "updatedAt"],
      owners.map((id, i) => [id, `Seller ${i}`, `${id}@bench.example`, label === "postgres" ? true : 1, created, created]),
    );
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => ({ id: `bench-acc-${i}`, owner: owners[i % OWNERS] as string }));
    await insertRows(
      raw,
      "Account",
      ["id", "tenantId", "name", "ownerId", "lifecycle", "posture", "createdAt", "updatedAt"],
      accounts.map((a, i) => [a.id, tenant.id, `Account ${i}`, a.owner, LIFECYCLES[i % 3], POSTURES[i % 5], created, created]),
    );
    const fx = buildFixture(raw, tenant.id, accounts, now, n, open);
    await insertRows(raw, "ActionIntent", INTENT_COLUMNS, fx.intents);
    await insertRows(raw, "Outcome", ["id", "tenantId", "intentId", "label", "details", "createdAt"], fx.outcomes);
    if (label === "postgres") {
      for (const t of ["ActionIntent", "Outcome", "Account"]) await raw.tx((exec) => exec(`ANALYZE "${t}"`, []));
    } else await raw.tx((exec) => exec("ANALYZE", []));
    const fixtureMs = performance.now() - t0;
    const mix = Object.entries(fx.mix)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    console.log(
      `learning/${label}: fixture ${Math.round(fixtureMs)} ms: ${n} decided originals (${mix}), ${fx.children} edited versions, ${fx.outcomes.length} outcomes, ${open} open`,
    );

    const admin: Viewer = { tenantId: tenant.id, actor: { type: "SYSTEM", id: "bench" }, role: "ADMIN", userId: null };
    const calibrate = async () => {
      const { jobId } = await requestCalibration(db, clock, admin);
      const marks: Partial<Record<CalibrationPhase, number>> = {};
      const t = performance.now();
      const res = await runCalibration(db, clock, tenant.id, jobId, {
        onProgress: (p) => {
          marks[p.phase] ??= performance.now() - t;
        },
      });
      const ms = performance.now() - t;
      if (res.status !== "COMPLETED" || !res.weightsId) throw new Error(`learning bench: calibration ${res.status}: ${res.error}`);
      return { res, ms, marks };
    };

    // A first calibration (not measured) gives the tenant its ACTIVE weights: the candidate is
    // promoted by moving the pointer with the registry's own repo calls (the shadow gate reads
    // live proposals, which is not what is measured here).
    const warm = await calibrate();
    const weightsId = warm.res.weightsId as string;
    await inTransaction(db, async (tx) => {
      await ensureLearningState(tx, tenant.id, now);
      const state = await learningState(tx, tenant.id);
      if (!state || !(await flipActive(tx, tenant.id, state.revision, { activeId: weightsId, history: "[]", guard: null }, "bench", now)))
        throw new Error("learning bench: could not move the pointer");
      await setWeightsStatus(tx, tenant.id, weightsId, "ACTIVE", now);
    });

    // (a) Calibration vs a plain scan of the same rows.
    // Two statements (an OR in one join plans badly on PostgreSQL): the decided originals with
    // their own labels, in the order calibration reads them, then their edited versions' labels.
    const roots = `i."tenantId" = ${raw.p(0)} AND i."parentId" IS NULL AND i."status" NOT IN (${raw.p(1)}, ${raw.p(2)})
        AND i."createdAt" >= ${raw.p(3)} AND i."createdAt" < ${raw.p(4)}`;
    const ownSql = `SELECT i."id", i."actionType", i."confidence", i."rankScore", i."features", i."decision", i."createdAt", o."label"
      FROM "ActionIntent" i LEFT JOIN "Outcome" o ON o."tenantId" = i."tenantId" AND o."intentId" = i."id"
      WHERE ${roots} ORDER BY i."createdAt", i."id"`;
    const editedSql = `SELECT c."parentId" AS "id", o."label"
      FROM "ActionIntent" i JOIN "ActionIntent" c ON c."tenantId" = i."tenantId" AND c."parentId" = i."id"
      JOIN "Outcome" o ON o."tenantId" = c."tenantId" AND o."intentId" = c."id"
      WHERE ${roots}`;
    const scan = async () => {
      const params = [tenant.id, "PROPOSED", "PENDING_APPROVAL", raw.date(new Date(now.getTime() - 180 * DAY)), raw.date(now)];
      const labels = new Map<string, string[]>();
      for (const r of await raw.all(ownSql, params)) {
        const ls = labels.get(r.id as string) ?? [];
        if (r.label !== null) ls.push(r.label as string);
        labels.set(r.id as string, ls);
      }
      for (const r of await raw.all(editedSql, params)) labels.get(r.id as string)?.push(r.label as string);
      return labels.size;
    };
    const scanMs: number[] = [];
    const calMs: number[] = [];
    let last = warm;
    for (let r = 0; r < repeats; r++) {
      const s = await timed(scan);
      if (s.value !== n) throw new Error(`learning bench: the scan read ${s.value} intents, expected ${n}`);
      scanMs.push(s.ms);
      last = await calibrate();
      calMs.push(last.ms);
    }
    if (last.res.rows === 0) throw new Error("learning bench: calibration trained on no rows");
    const scanMedian = median(scanMs);
    const calMedian = median(calMs);
    const m = last.marks;
    const phases = `load ${Math.round((m.FITTING ?? 0) - (m.LOADING ?? 0))} ms, fit ${Math.round((m.EVALUATING ?? 0) - (m.FITTING ?? 0))} ms, evaluate ${Math.round((m.REGISTERING ?? 0) - (m.EVALUATING ?? 0))} ms, register ${Math.round(last.ms - (m.REGISTERING ?? 0))} ms`;

    // (b) Ranking vs a plain scan of the open proposals.
    const openSql = `SELECT * FROM "ActionIntent" WHERE "tenantId" = ${raw.p(0)} AND "status" = ${raw.p(1)} ORDER BY "createdAt" DESC, "id" DESC`;
    const rankOnce = () => nextActions(db, admin, { limit: open });
    const first = await rankOnce();
    if (first.items.length !== open || first.ranked_by?.weights_id !== weightsId)
      throw new Error(`learning bench: the feed ranked ${first.items.length} of ${open} proposals, by ${JSON.stringify(first.ranked_by)}`);
    const openScanMs: number[] = [];
    const rankMs: number[] = [];
    for (let r = 0; r < Math.max(5, repeats * 3); r++) {
      const s = await timed(() => raw.all(openSql, [tenant.id, "PENDING_APPROVAL"]));
      if (s.value.length !== open) throw new Error(`learning bench: the scan read ${s.value.length} open proposals, expected ${open}`);
      openScanMs.push(s.ms);
      rankMs.push((await timed(rankOnce)).ms);
    }
    const openScanMedian = median(openScanMs);
    const rankMedian = median(rankMs);
    console.log(
      `learning/${label}: scan ${Math.round(scanMedian)} ms, calibration ${Math.round(calMedian)} ms (${phases}; ${last.res.rows} training rows); open scan ${openScanMedian.toFixed(1)} ms, ranking ${rankMedian.toFixed(1)} ms`,
    );
    const calRatio = calMedian / scanMedian;
    const rankRatio = rankMedian / openScanMedian;
    const reps = `median of ${repeats}`;
    return [
      {
        suite: "learning",
        db: label,
        case: `plain scan: ${n} decided intents ⋈ outcome labels, read into JS (baseline; ${Math.round(scanMedian)} ms, ${reps})`,
        opsPerSec: n / (scanMedian / 1000),
        ratio: 1,
        note: "",
      },
      {
        suite: "learning",
        db: label,
        case: `runCalibration over ${n} decided intents, ${last.res.rows} training rows: ${phases} (${Math.round(calMedian)} ms, ${reps})`,
        opsPerSec: n / (calMedian / 1000),
        ratio: calRatio,
        note: "time ratio; informational (includes the model fit, CPU work no scan has)",
      },
      {
        suite: "learning",
        db: label,
        case: `plain scan: ${open} open proposals, full rows (baseline; ${openScanMedian.toFixed(1)} ms, median of ${openScanMs.length})`,
        opsPerSec: open / (openScanMedian / 1000),
        ratio: 1,
        note: "",
      },
      {
        suite: "learning",
        db: label,
        case: `nextActions: rank ${open} open proposals with ACTIVE weights, one page of ${open} (${rankMedian.toFixed(1)} ms, median of ${rankMs.length})`,
        opsPerSec: open / (rankMedian / 1000),
        ratio: rankRatio,
        note: "time ratio; informational",
      },
    ];
  } finally {
    await raw.close();
  }
}
