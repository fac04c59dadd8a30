import { randomUUID } from "node:crypto";
import type { Db } from "../server/db";
import type { ModeSource } from "../server/engine/autonomy";
import { canonicalJson } from "../server/engine/canonical";
import { evaluatePolicy, type PolicyInput } from "../server/engine/policy";
import { type PolicyChange, readStoredEvaluation, type StoredEvaluation, WhatIfReplay } from "../server/engine/whatIf";
import type { Viewer } from "../server/repos/scope";
import { createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { runWhatIf } from "../server/services/policyLab";
import { atLeast, type BenchRow } from "./ledger";
import { mulberry32 } from "./policy";
import { insertRows, type Raw, rawFor } from "./raw";

/**
 * Policy what-if over a large history (issue 11 bar: ≥ 100,000 evaluations/s over 100,000 stored
 * evaluations), on the same database in the same run:
 *
 * - baseline: a plain-driver read of the same rows the service reads (the period's evaluations in
 *   time order with their intents' source), every row into JS;
 * - engine: the replay over rows already in memory, as the service runs it (`WhatIfReplay.skip`
 *   counts an evaluation no change reaches from its row; the others are parsed and replayed);
 * - service: `runWhatIf` end to end — validation, one raw keyset statement per page, parse, replay.
 *
 * The fixture is written with the plain driver: N evaluations decided by the real pure policy and
 * a simulated daily budget, stored in exactly the shape the gate stores them (records.ts
 * `evaluationRow`), beside their intents. Producing them through the gate would take far longer
 * than what is measured, and what-if reads only the stored result.
 */

const DAY = 86_400_000;
const ACCOUNTS = 500;
const SPAN_DAYS = 60;
const TYPES = ["CREATE_INTERNAL_TASK", "CREATE_INTERNAL_NOTE", "FLAG_FOR_REVIEW", "SEND_EMAIL", "UPDATE_ACCOUNT_FIELDS"];
const SOURCES: ModeSource[] = ["TENANT_DEFAULT", "TENANT_TYPE", "ACCOUNT_TYPE"];
export const CHANGES: PolicyChange[] = [{ actionType: "CREATE_INTERNAL_TASK", mode: "APPROVAL_REQUIRED" }];

function fixture(tenantId: string, accounts: string[], n: number, now: Date, date: (d: Date) => unknown) {
  const rnd = mulberry32(11);
  const used = new Map<string, number>();
  const intents: unknown[][] = [];
  const evals: unknown[][] = [];
  const start = now.getTime() - SPAN_DAYS * DAY;
  for (let i = 0; i < n; i++) {
    const at = new Date(start + Math.floor((i / n) * SPAN_DAYS * DAY));
    const accountId = accounts[Math.floor(rnd() * accounts.length)] as string;
    const actionType = TYPES[Math.floor(rnd() * TYPES.length)] as string;
    const input: PolicyInput = {
      actionType,
      confidence: 0.5 + rnd() * 0.5,
      riskLevel: rnd() < 0.9 ? "LOW" : "HIGH",
      lifecycle: rnd() < 0.3 ? "PROSPECT" : "CUSTOMER",
      mode: rnd() < 0.8 ? "AUTO_EXECUTE" : "APPROVAL_REQUIRED",
      allowlisted: actionType !== "FLAG_FOR_REVIEW" && actionType !== "SEND_EMAIL",
      blockingUnknowns: rnd() < 0.05 ? ["budget owner"] : [],
      killSwitch: null,
      thresholds: { minConfidence: 0.75, prospectMinConfidence: 0.85, version: 1 },
    };
    const policy = evaluatePolicy(input);
    let decision: string = policy.decision;
    let reason: string = policy.reason;
    let budget: Record<string, unknown> | null = null;
    if (policy.decision === "AUTO_EXECUTE") {
      const dateKey = at.toISOString().slice(0, 10);
      const key = `${accountId}|${dateKey}`;
      const consumed = used.get(key) ?? 0;
      if (consumed < 3) {
        used.set(key, consumed + 1);
        budget = { ok: true, cap: 3, consumed: consumed + 1, perType: null, dateKey };
      } else {
        budget = { ok: false, scope: "ACCOUNT", cap: 3, refundType: false, dateKey };
        decision = "REQUIRE_APPROVAL";
        reason = "BUDGET_EXHAUSTED";
      }
    }
    const intentId = `bench-intent-${i}`;
    const d = date(at);
    intents.push([intentId, tenantId, accountId, randomUUID(), actionType, input.confidence, input.riskLevel, "PROPOSED", "API", d, d]);
    const modeSource = SOURCES[i % SOURCES.length];
    const stored = canonicalJson({
      ...input,
      modeSource,
      account: { id: accountId, name: "Account", lifecycle: input.lifecycle, posture: "OK", momentum: "FLAT", ownerId: null },
      budget,
    });
    evals.push([`bench-eval-${i}`, tenantId, intentId, decision, reason, policy.explanation, policy.policyVersion, "[]", stored, d]);
  }
  return { intents, evals, from: new Date(start - 1000), to: new Date(now.getTime() + 1000) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed<T>(fn: () => Promise<T> | T) {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/**
 * The bench's fixture on `raw`'s database: ACCOUNTS accounts and `n` stored evaluations with their
 * intents for `tenantId` (also used by one-off profiling scripts to replay the same data).
 */
export async function writeWhatIfFixture(raw: Raw, label: string, tenantId: string, n: number, now: Date) {
  const created = raw.date(new Date(now.getTime() - 365 * DAY));
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `bench-wi-acc-${tenantId}-${i}`);
  await insertRows(
    raw,
    "Account",
    ["id", "tenantId", "name", "createdAt", "updatedAt"],
    accounts.map((id, i) => [id, tenantId, `Account ${i}`, created, created]),
  );
  const fx = fixture(tenantId, accounts, n, now, raw.date);
  await insertRows(
    raw,
    "ActionIntent",
    ["id", "tenantId", "accountId", "correlationId", "actionType", "confidence", "riskLevel", "status", "source", "createdAt", "updatedAt"],
    fx.intents,
  );
  await insertRows(
    raw,
    "PolicyEvaluation",
    ["id", "tenantId", "intentId", "decision", "reason", "explanation", "policyVersion", "clauses", "input", "createdAt"],
    fx.evals,
  );
  if (label === "postgres") {
    for (const t of ["ActionIntent", "PolicyEvaluation"]) await raw.tx((exec) => exec(`ANALYZE "${t}"`, []));
  } else await raw.tx((exec) => exec("ANALYZE", []));
  return { from: fx.from, to: fx.to };
}

export async function whatIfBench(db: Db, label: string, url: string, n: number, repeats = 3): Promise<BenchRow[]> {
  const now = new Date("2026-06-01T12:00:00Z");
  const tenant = await inTransaction(db, (tx) => createTenant(tx, { slug: `bench-${randomUUID().slice(0, 8)}`, name: "bench" }));
  const raw = await rawFor(label, url);
  try {
    const t0 = performance.now();
    const fx = await writeWhatIfFixture(raw, label, tenant.id, n, now);
    console.log(`whatif/${label}: fixture ${Math.round(performance.now() - t0)} ms: ${n} stored evaluations over ${SPAN_DAYS} days`);

    const p = raw.p;
    const scanSql = `SELECT e."id", e."intentId", e."decision", e."reason", e."input", e."createdAt", i."source", i."accountId", i."actionType"
      FROM "PolicyEvaluation" e JOIN "ActionIntent" i ON i."id" = e."intentId"
      WHERE e."tenantId" = ${p(0)} AND e."createdAt" >= ${p(1)} AND e."createdAt" < ${p(2)}
      ORDER BY e."createdAt", e."id"`;
    const scan = () => raw.all(scanSql, [tenant.id, raw.date(fx.from), raw.date(fx.to)]);
    // The same rows without the stored input (most of a row's bytes), which the service reads
    // only for the rows a change may reach: how much of the baseline is the input's width.
    const narrow = () => raw.all(scanSql.replace(`e."input", `, ""), [tenant.id, raw.date(fx.from), raw.date(fx.to)]);
    const rows = await scan();
    if (rows.length !== n) throw new Error(`whatif bench: the scan read ${rows.length} rows, expected ${n}`);
    const asStored = rows.map((r) => ({
      accountId: r.accountId as string,
      actionType: r.actionType as string,
      intentId: r.intentId as string,
      decision: r.decision as string,
      reason: r.reason as string | null,
      input: r.input as string,
      createdAt: new Date(r.createdAt as string).toISOString(),
      source: r.source as string,
    }));
    const engine = () => {
      const replay = new WhatIfReplay(CHANGES, { allowlist: [], budgetCaps: new Map() });
      let changed = 0;
      for (const r of asStored) {
        if (replay.skip(r)) continue;
        if (replay.push(readStoredEvaluation({ ...r, createdAt: new Date(r.createdAt) }) as StoredEvaluation)) changed++;
      }
      return changed;
    };
    const admin: Viewer = { tenantId: tenant.id, actor: { type: "SYSTEM", id: "bench" }, role: "ADMIN", userId: null };
    const service = () =>
      runWhatIf(db, admin, {
        changes: [{ action_type: "CREATE_INTERNAL_TASK", mode: "APPROVAL_REQUIRED" }],
        from: fx.from,
        to: fx.to,
      });
    const warm = await service();
    if (warm.evaluated !== n || warm.skipped !== 0)
      throw new Error(`whatif bench: the service replayed ${warm.evaluated} (${warm.skipped} skipped) of ${n}`);
    const engineChanged = engine();
    const serviceChanged = warm.byActionType.reduce((s, t) => s + t.changed + t.reasonChanged, 0);
    if (engineChanged !== serviceChanged) throw new Error(`whatif bench: engine ${engineChanged} changed, service ${serviceChanged}`);

    const narrowMs: number[] = [];
    const scanMs: number[] = [];
    const engineMs: number[] = [];
    const serviceMs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      scanMs.push((await timed(scan)).ms);
      narrowMs.push((await timed(narrow)).ms);
      engineMs.push((await timed(engine)).ms);
      serviceMs.push((await timed(service)).ms);
    }
    const [s, w, e, v] = [median(scanMs), median(narrowMs), median(engineMs), median(serviceMs)];
    const perSec = (ms: number) => n / (ms / 1000);
    console.log(
      `whatif/${label}: scan ${Math.round(s)} ms, engine ${Math.round(e)} ms, service ${Math.round(v)} ms; ${warm.changed.length}${warm.truncated ? "+" : ""} decisions changed`,
    );
    const reps = `median of ${repeats}`;
    const target = (ms: number) => atLeast(perSec(ms), 100_000, " evaluations/s");
    return [
      {
        suite: "whatif",
        db: label,
        case: `plain scan: ${n} evaluations ⋈ intent source, in time order, read into JS (baseline; ${Math.round(s)} ms, ${reps})`,
        opsPerSec: perSec(s),
        ratio: 1,
        note: "",
      },
      {
        suite: "whatif",
        db: label,
        case: `plain scan without the stored input column (${Math.round(w)} ms, ${reps})`,
        opsPerSec: perSec(w),
        ratio: w / s,
        note: "time ratio",
      },
      {
        suite: "whatif",
        db: label,
        case: `engine: parse + replay ${n} stored evaluations in memory (${Math.round(e)} ms, ${reps})`,
        opsPerSec: perSec(e),
        ratio: e / s,
        note: "time ratio",
        target: target(e),
      },
      {
        suite: "whatif",
        db: label,
        case: `runWhatIf end to end: ${n} evaluations, one raw keyset statement per page + replay (${Math.round(v)} ms, ${reps})`,
        opsPerSec: perSec(v),
        ratio: v / s,
        note: "time ratio",
        target: target(v),
      },
    ];
  } finally {
    await raw.close();
  }
}
