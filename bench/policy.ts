/**
 * Gate benchmark, part (a): policy decisions/s of our engine (`evaluatePolicy`) against
 * `@cedar-policy/cedar-wasm` evaluating an equivalent, pre-parsed policy set, on the same corpus in
 * the same process. Before any timing, the two are proven equivalent on the whole corpus
 * (`checkPolicyEquivalence`), because a benchmark of two different policies is meaningless.
 *
 * The Cedar model
 * ───────────────
 * - Request: principal `Gate::"autopilot"`, action `Action::"autoExecute"`, resource `Intent::"intent"`,
 *   no entities; the intent's facts travel in the context (request-scoped data, which is what Cedar's
 *   context is for; it also measured ~15–35% faster than the same attributes on an Intent entity,
 *   and the baseline should be the fastest faithful Cedar model, not a strawman).
 *   Permit = AUTO_EXECUTE; deny = whatever our first-firing clause says.
 * - Context = the PolicyInput's raw facts, with no decision logic applied in JS: riskLevel,
 *   lifecycle, mode (strings as given, even unreadable ones), allowlisted, killSwitch (= switch !==
 *   null), blockingUnknowns (= the list's length), confidence and both thresholds (see below), plus
 *   the action type's registry row (registryRisk, externalContact, mayAutoExecute), present only when
 *   the type is in ACTION_TYPES — the lookup a Cedar deployment does when it loads the action type's
 *   entity. "Unknown type ⇒ HIGH risk, not external, never autonomous" is decided in Cedar via `has`.
 * - One `forbid` per clause of server/engine/policy.ts, with the SAME id (P1.unknown-action-type …
 *   P12.confidence) and one `permit` "P13.auto-execute". Each forbid's condition is exactly its
 *   clause's `applies` (P6 fires for DISABLED and PROPOSE_ONLY too, as ours does), so on every input
 *   Cedar's set of determining policies EQUALS our `clauses` (every clause that applied), not merely
 *   contains the deciding one. Cedar has no priority among forbids and only allow/deny, so our
 *   reason code and BLOCK vs REQUIRE_APPROVAL are recovered as the first determining id in
 *   CEDAR_CLAUSES order (= the order of CLAUSES; also recorded as @reason/@decision annotations);
 *   the equivalence check asserts that too. All 13 clauses map one-to-one.
 * - Confidence: Cedar has no floats and `decimal` keeps only 4 digits, so basis points would
 *   disagree with JS's `c < t` near a threshold (0.79996 vs 0.8: rounding to basis points flips
 *   the comparison for 206 of the 2,000 corpus inputs). Instead each double is passed as its
 *   order-preserving 64-bit key split into two Longs (hi, lo) and compared lexicographically in
 *   Cedar — bit-exact with JS's `<` / `>` on finite doubles (−0 == +0 included); non-finiteness is
 *   a separate boolean, as in `Number.isFinite`. The threshold for PROSPECT vs others is chosen in
 *   Cedar (if-then-else). Thresholds are assumed finite (they come from the tenant policy row); a NaN
 *   threshold would make the two differ (ours then skips the threshold test — see the report).
 * - Not modelled (not part of evaluatePolicy): the budget (G1), gate errors (G0), explanations,
 *   policyVersion.
 */
import {
  type AuthorizationAnswer,
  getCedarVersion,
  preparsePolicySet,
  type StatefulAuthorizationCall,
  statefulIsAuthorized,
  validate,
} from "@cedar-policy/cedar-wasm/nodejs";
import { ACTION_TYPE_NAMES, ACTION_TYPES, actionSpec, RISK_LEVELS, type RiskLevel, riskAtMost } from "../server/engine/actions";
import { AUTONOMY_MODES, type AutonomyMode, KILL_SWITCH_SCOPES } from "../server/engine/autonomy";
import { evaluatePolicy, type PolicyDecision, type PolicyInput, type PolicyThresholds, type ReasonCode } from "../server/engine/policy";
import { atLeast, type BenchRow } from "./ledger";

// ───────────────────────────── exact doubles for Cedar ─────────────────────────────

const dv = new DataView(new ArrayBuffer(8));

/**
 * A finite double's order-preserving signed 64-bit key, as hi·2³² + lo with 0 ≤ lo < 2³²
 * (both exact in JS numbers and Cedar Longs). Non-negative doubles order like their bit patterns;
 * negative ones are the negated magnitude, so −0 and +0 share the key 0.
 */
export function f64Key(x: number): { hi: number; lo: number } {
  dv.setFloat64(0, x);
  const hiBits = dv.getUint32(0);
  const lo = dv.getUint32(4);
  const magHi = hiBits & 0x7fffffff;
  if (hiBits >>> 31 === 0) return { hi: magHi, lo };
  return lo === 0 ? { hi: -magHi | 0, lo: 0 } : { hi: (-magHi - 1) | 0, lo: 2 ** 32 - lo };
}

// ───────────────────────────── Cedar policy set ─────────────────────────────

/** Highest auto-executable risk; mirrors MAX_AUTO_RISK in server/engine/policy.ts (not exported). */
const MAX_AUTO_RISK: RiskLevel = "LOW";

/** Deciding metadata per Cedar policy id, in our clause priority order. */
export const CEDAR_CLAUSES: readonly { id: string; decision: PolicyDecision; reason: ReasonCode }[] = [
  { id: "P1.unknown-action-type", decision: "BLOCK", reason: "UNKNOWN_ACTION_TYPE" },
  { id: "P2.kill-switch", decision: "REQUIRE_APPROVAL", reason: "KILL_SWITCH_ACTIVE" },
  { id: "P3.allowlist", decision: "REQUIRE_APPROVAL", reason: "ACTION_TYPE_NOT_ALLOWLISTED" },
  { id: "P4.mode-disabled", decision: "BLOCK", reason: "ACTION_TYPE_DISABLED" },
  { id: "P5.mode-propose-only", decision: "REQUIRE_APPROVAL", reason: "MODE_PROPOSE_ONLY" },
  { id: "P6.mode-approval-required", decision: "REQUIRE_APPROVAL", reason: "MODE_APPROVAL_REQUIRED" },
  { id: "P7.external-contact", decision: "REQUIRE_APPROVAL", reason: "EXTERNAL_CONTACT" },
  { id: "P8.risk-high", decision: "REQUIRE_APPROVAL", reason: "RISK_LEVEL_HIGH" },
  { id: "P9.risk-medium", decision: "REQUIRE_APPROVAL", reason: "RISK_LEVEL_MEDIUM" },
  { id: "P10.never-autonomous", decision: "REQUIRE_APPROVAL", reason: "TENANT_POLICY" },
  { id: "P11.blocking-unknowns", decision: "REQUIRE_APPROVAL", reason: "BLOCKING_UNKNOWNS" },
  { id: "P12.confidence", decision: "REQUIRE_APPROVAL", reason: "CONFIDENCE_BELOW_THRESHOLD" },
  { id: "P13.auto-execute", decision: "AUTO_EXECUTE", reason: "POLICY_SATISFIED" },
];
const PRIORITY = new Map(CEDAR_CLAUSES.map((c, i) => [c.id, i]));

const str = (s: string) => JSON.stringify(s); // Cedar string literals share JSON's escapes for these names
const anyOf = (lhs: string, values: readonly string[]) =>
  values.length ? `(${values.map((v) => `${lhs} == ${str(v)}`).join(" || ")})` : "false";

/**
 * "The derived risk satisfies `pred`": ours is the registry risk raised by the proposed one, with an
 * unknown type or an unreadable proposal counting as HIGH. Written as `==` chains: Cedar set
 * literals (`[...].contains(x)`) are built on every evaluation; the registry as set literals in the
 * policy text measured ~25% slower than these registry attributes.
 */
function derivedRiskIs(pred: (r: RiskLevel) => boolean) {
  if (!pred("HIGH")) throw new Error("derivedRiskIs: the predicate must hold for HIGH (the fail-closed default)");
  return [
    // unknown type = HIGH, which satisfies pred
    `(if context has registryRisk then ${anyOf("context.registryRisk", RISK_LEVELS.filter(pred))} else true)`,
    // proposed level satisfies pred, or is unreadable (= HIGH, which satisfies pred)
    `!${anyOf(
      "context.riskLevel",
      RISK_LEVELS.filter((r) => !pred(r)),
    )}`,
  ].join(" ||\n  ");
}

/** Lexicographic `a < b` over the (hi, lo) split of the order-preserving 64-bit key. */
const lt = (a: string, b: string) => `(${a}Hi < ${b}Hi || (${a}Hi == ${b}Hi && ${a}Lo < ${b}Lo))`;
const ONE = f64Key(1);

const HEAD = `(principal, action == Action::"autoExecute", resource)`;
function policy(id: string, body: string) {
  const c = CEDAR_CLAUSES.find((x) => x.id === id);
  if (!c) throw new Error(`no clause ${id}`);
  return `@reason(${str(c.reason)})\n@decision(${str(c.decision)})\n${body}`;
}

export const CEDAR_POLICIES: Record<string, string> = Object.fromEntries(
  (
    [
      ["P1.unknown-action-type", "unless { context has registryRisk }"],
      ["P2.kill-switch", "when { context.killSwitch }"],
      ["P3.allowlist", "unless { context.allowlisted }"],
      ["P4.mode-disabled", `when { context.mode == "DISABLED" }`],
      ["P5.mode-propose-only", `when { context.mode == "PROPOSE_ONLY" }`],
      ["P6.mode-approval-required", `when { context.mode != "AUTO_EXECUTE" }`],
      ["P7.external-contact", "when { context has externalContact && context.externalContact }"],
      ["P8.risk-high", `when {\n  ${derivedRiskIs((r) => r === "HIGH")}\n}`],
      ["P9.risk-medium", `when {\n  ${derivedRiskIs((r) => !riskAtMost(r, MAX_AUTO_RISK))}\n}`],
      ["P10.never-autonomous", "unless { context has mayAutoExecute && context.mayAutoExecute }"],
      ["P11.blocking-unknowns", "when { context.blockingUnknowns > 0 }"],
      [
        "P12.confidence",
        `when {
  !context.confidenceFinite ||
  (if context.lifecycle == "PROSPECT"
    then ${lt("context.confidence", "context.prospectMinConfidence")}
    else ${lt("context.confidence", "context.minConfidence")}) ||
  (${ONE.hi} < context.confidenceHi || (${ONE.hi} == context.confidenceHi && ${ONE.lo} < context.confidenceLo))
}`,
      ],
    ] as const
  )
    .map(([id, cond]): [string, string] => [id, policy(id, `forbid ${HEAD}\n${cond};`)])
    .concat([["P13.auto-execute", policy("P13.auto-execute", `permit ${HEAD};`)]]),
);

/** For strict validation of the set: a typo in an attribute name would otherwise only surface as a runtime error. */
const CEDAR_SCHEMA = `
entity Gate;
entity Intent;
action autoExecute appliesTo {
  principal: Gate,
  resource: Intent,
  context: {
    registryRisk?: String, externalContact?: Bool, mayAutoExecute?: Bool,
    riskLevel: String, lifecycle: String, mode: String,
    allowlisted: Bool, killSwitch: Bool, blockingUnknowns: Long,
    confidenceFinite: Bool, confidenceHi: Long, confidenceLo: Long,
    minConfidenceHi: Long, minConfidenceLo: Long, prospectMinConfidenceHi: Long, prospectMinConfidenceLo: Long,
  },
};
`;

export const CEDAR_POLICY_SET_ID = "autopilot-policy/1";
let prepared = false;

function preparse(id: string, policies: Record<string, string>) {
  const p = preparsePolicySet(id, { staticPolicies: policies });
  if (p.type !== "success") throw new Error(`Cedar preparse of ${id} failed: ${p.errors.map((e) => e.message).join("; ")}`);
}

/** Validate (strict, against CEDAR_SCHEMA) and pre-parse the set, once per process. */
export function prepareCedar() {
  if (prepared) return;
  const v = validate({ schema: CEDAR_SCHEMA, policies: { staticPolicies: CEDAR_POLICIES }, validationSettings: { mode: "strict" } });
  if (v.type !== "success") throw new Error(`Cedar validation failed: ${v.errors.map((e) => e.message).join("; ")}`);
  if (v.validationErrors.length) {
    throw new Error(`Cedar policy set invalid: ${v.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`).join("; ")}`);
  }
  preparse(CEDAR_POLICY_SET_ID, CEDAR_POLICIES);
  prepared = true;
}

// ───────────────────────────── PolicyInput → Cedar request ─────────────────────────────

export function toCedarRequest(i: PolicyInput, preparsedPolicySetId = CEDAR_POLICY_SET_ID): StatefulAuthorizationCall {
  const spec = actionSpec(i.actionType);
  const finite = Number.isFinite(i.confidence);
  const c = finite ? f64Key(i.confidence) : { hi: 0, lo: 0 };
  const min = f64Key(i.thresholds.minConfidence);
  const prospect = f64Key(i.thresholds.prospectMinConfidence);
  return {
    principal: { type: "Gate", id: "autopilot" },
    action: { type: "Action", id: "autoExecute" },
    resource: { type: "Intent", id: "intent" },
    context: {
      ...(spec && { registryRisk: spec.risk, externalContact: spec.externalContact, mayAutoExecute: spec.mayAutoExecute }),
      riskLevel: i.riskLevel,
      lifecycle: i.lifecycle,
      mode: i.mode,
      allowlisted: i.allowlisted,
      killSwitch: i.killSwitch !== null,
      blockingUnknowns: i.blockingUnknowns.length,
      confidenceFinite: finite,
      confidenceHi: c.hi,
      confidenceLo: c.lo,
      minConfidenceHi: min.hi,
      minConfidenceLo: min.lo,
      prospectMinConfidenceHi: prospect.hi,
      prospectMinConfidenceLo: prospect.lo,
    },
    preparsedPolicySetId,
    entities: [],
  };
}

// ───────────────────────────── corpus ─────────────────────────────

/** A seeded PRNG (mulberry32): the same corpus or fixture every run. */
export function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The adjacent double above (dir 1) or below (dir -1) a finite x. */
function nextDouble(x: number, dir: 1 | -1) {
  if (x === 0) return dir * Number.MIN_VALUE;
  dv.setFloat64(0, x);
  let bits = dv.getBigUint64(0);
  bits += x > 0 === dir > 0 ? 1n : -1n;
  dv.setBigUint64(0, bits);
  return dv.getFloat64(0);
}

const UNKNOWN_TYPES = ["", "send_email", "DELETE_ACCOUNT", "__proto__", "constructor", "toString", "hasOwnProperty", "FETCH_ACCOUNT_NEWS "];
const BAD_RISKS = ["", "low", "CRITICAL", "__proto__", "NONE"];
const LIFECYCLES = ["SUSPECT", "CUSTOMER", "PROSPECT", "PROSPECT", "SUSPECT", "CUSTOMER", "", "prospect", "CHURNED"];
const THRESHOLDS: Omit<PolicyThresholds, "version">[] = [
  { minConfidence: 0.75, prospectMinConfidence: 0.85 },
  { minConfidence: 0.8, prospectMinConfidence: 0.9 },
  { minConfidence: 0.7, prospectMinConfidence: 0.7 },
  { minConfidence: 0.95, prospectMinConfidence: 0.99 },
  { minConfidence: 0.3, prospectMinConfidence: 0.6 },
  { minConfidence: 0, prospectMinConfidence: 1 },
];
const UNKNOWNS = ["budget_owner", "decision_date", "champion", "contract_end", "competitor"];
const SPECIAL_CONFIDENCES = [
  0,
  -0,
  1,
  nextDouble(1, 1),
  nextDouble(1, -1),
  1.5,
  -0.1,
  Number.NaN,
  Infinity,
  -Infinity,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  1e-300,
];
const AUTO_TYPES = ACTION_TYPE_NAMES.filter((n) => ACTION_TYPES[n].mayAutoExecute);

/**
 * Deterministic corpus over every action type (plus unknown ones), every mode (plus an unreadable
 * one), allowlist and kill switch on/off, lifecycles, blocking unknowns, threshold sets, and
 * confidences including both neighbours of each threshold and of 1, ±0, NaN and ±Infinity.
 * About a third of inputs are drawn "near the happy path" so AUTO_EXECUTE and the late clauses
 * (risk, unknowns, confidence) decide often enough to be tested.
 */
export function policyCorpus(size = 2000, seed = 0x5eed): PolicyInput[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const out: PolicyInput[] = [];
  for (let k = 0; k < size; k++) {
    const happy = rnd() < 0.35;
    const ok = (p: number) => rnd() < (happy ? 0.93 : p);
    const r = rnd();
    const actionType = r < 0.1 ? pick(UNKNOWN_TYPES) : happy || r < 0.4 ? pick(AUTO_TYPES) : pick(ACTION_TYPE_NAMES);
    const spec = actionSpec(actionType);
    const rr = rnd();
    const riskLevel = rr < 0.45 && spec ? spec.risk : rr < 0.9 || !ok(0.8) ? pick(RISK_LEVELS) : pick(BAD_RISKS);
    const mode: AutonomyMode = ok(0.55) ? "AUTO_EXECUTE" : rnd() < 0.9 ? pick(AUTONOMY_MODES) : ("auto_execute" as AutonomyMode);
    const allowlisted = ok(0.75);
    const killSwitch = ok(0.85) ? null : { scope: pick(KILL_SWITCH_SCOPES), key: actionType, reason: rnd() < 0.5 ? "incident" : "" };
    const blockingUnknowns = ok(0.75) ? [] : UNKNOWNS.slice(0, 1 + Math.floor(rnd() * 3));
    const lifecycle = pick(LIFECYCLES);
    const thresholds = { ...pick(THRESHOLDS), version: 1 + Math.floor(rnd() * 5) };
    const t = lifecycle === "PROSPECT" ? thresholds.prospectMinConfidence : thresholds.minConfidence;
    const rc = rnd();
    const confidence =
      rc < 0.45
        ? rnd()
        : rc < 0.6
          ? Math.floor(rnd() * 101) / 100
          : rc < 0.85
            ? pick([t, nextDouble(t, 1), nextDouble(t, -1), t + 1e-5, t - 1e-5, t + 0.00004, t - 0.00004])
            : pick(SPECIAL_CONFIDENCES);
    out.push({ actionType, confidence, riskLevel, lifecycle, mode, allowlisted, blockingUnknowns, killSwitch, thresholds });
  }
  return out;
}

// ───────────────────────────── equivalence ─────────────────────────────

export interface EquivalenceSummary {
  inputs: number;
  allowed: number;
  /** how often each clause id decided (first firing), ours = Cedar's by construction of the check */
  decidedBy: Record<string, number>;
  /** how often each clause id fired at all */
  fired: Record<string, number>;
}

let variants = 0;

function describeInput(i: PolicyInput) {
  return JSON.stringify({ ...i, confidence: String(i.confidence) });
}

/**
 * Proves Cedar and evaluatePolicy agree on every input: Allow ⇔ AUTO_EXECUTE; Cedar's determining
 * policy ids = our `clauses` exactly; the first of them in priority order gives our policyClause,
 * reason and decision; and no Cedar policy raised an evaluation error. Throws on the first mismatch.
 */
export function checkPolicyEquivalence(
  corpus: readonly PolicyInput[] = policyCorpus(),
  policies: Record<string, string> = CEDAR_POLICIES,
): EquivalenceSummary {
  let setId = CEDAR_POLICY_SET_ID;
  if (policies === CEDAR_POLICIES) prepareCedar();
  else {
    // A variant set (the test's deliberately broken ones) gets its own cache slot.
    setId = `${CEDAR_POLICY_SET_ID}/variant-${++variants}`;
    preparse(setId, policies);
  }
  const summary: EquivalenceSummary = { inputs: corpus.length, allowed: 0, decidedBy: {}, fired: {} };
  for (const input of corpus) {
    const ours = evaluatePolicy(input);
    const answer = statefulIsAuthorized(toCedarRequest(input, setId));
    const fail = (why: string) => {
      throw new Error(
        `Cedar policy set is NOT equivalent to evaluatePolicy: ${why}\n  input: ${describeInput(input)}\n  ours: ${ours.decision} ${ours.reason} [${ours.clauses.join(", ")}]\n  cedar: ${JSON.stringify(answer)}`,
      );
    };
    if (answer.type !== "success") return fail("authorization call failed");
    const { decision, diagnostics } = answer.response;
    if (diagnostics.errors.length) fail("a Cedar policy raised an evaluation error (it would be silently skipped)");
    if ((decision === "allow") !== (ours.decision === "AUTO_EXECUTE")) fail("allow/deny differs");
    const reasons = [...diagnostics.reason].sort((a, b) => (PRIORITY.get(a) ?? 99) - (PRIORITY.get(b) ?? 99));
    const oursFired = [...ours.clauses].sort((a, b) => (PRIORITY.get(a) ?? 99) - (PRIORITY.get(b) ?? 99));
    if (reasons.join() !== oursFired.join()) fail("determining policies differ from the clauses that applied");
    const first = CEDAR_CLAUSES[PRIORITY.get(reasons[0] ?? "") ?? -1];
    if (!first) return fail("no determining policy");
    if (first.id !== ours.policyClause || first.reason !== ours.reason || first.decision !== ours.decision) {
      fail(`deciding clause differs (Cedar's first determining policy is ${first.id} → ${first.decision}/${first.reason})`);
    }
    if (decision === "allow") summary.allowed++;
    summary.decidedBy[first.id] = (summary.decidedBy[first.id] ?? 0) + 1;
    for (const id of reasons) summary.fired[id] = (summary.fired[id] ?? 0) + 1;
  }
  return summary;
}

// ───────────────────────────── timing ─────────────────────────────

/** Runs `batch` (one pass over the corpus, returning a checksum) until both minimums are met. */
function timeLoop(batch: () => number, perBatch: number, minOps: number, minMs: number) {
  let ops = 0;
  let sink = 0;
  const t0 = performance.now();
  let ms = 0;
  do {
    sink += batch();
    ops += perBatch;
    ms = performance.now() - t0;
  } while (ops < minOps || ms < minMs);
  return { ops, ms, perSec: ops / (ms / 1000), sink };
}

const allowed = (a: AuthorizationAnswer) => (a.type === "success" && a.response.decision === "allow" ? 1 : 0);

/**
 * Decisions/s of evaluatePolicy vs Cedar on the same corpus, same process. Ours runs at least
 * `n` evaluations (default 200k) and at least 2 s; each Cedar case runs at least as long as ours did.
 * Rows: Cedar with pre-built requests (the baseline, ratio 1); Cedar including the PolicyInput →
 * request mapping; Cedar's floor (a lone unconditional permit, same requests — NOT equivalent, it
 * shows how much is request marshalling); ours (ratio = ours / Cedar baseline).
 */
export async function policyBench(opts?: { n?: number }): Promise<BenchRow[]> {
  const n = opts?.n ?? 200_000;
  const minMs = 2000;
  const corpus = policyCorpus();
  const eq = checkPolicyEquivalence(corpus);
  const len = corpus.length;
  const requests = corpus.map((i) => toCedarRequest(i));
  const floorId = `${CEDAR_POLICY_SET_ID}/floor`;
  preparse(floorId, { floor: `permit ${HEAD};` });
  const floorRequests = corpus.map((i) => toCedarRequest(i, floorId));

  const oursBatch = () => {
    let s = 0;
    for (let j = 0; j < len; j++) if (evaluatePolicy(corpus[j] as PolicyInput).decision === "AUTO_EXECUTE") s++;
    return s;
  };
  const cedarBatch = (reqs: StatefulAuthorizationCall[]) => () => {
    let s = 0;
    for (let j = 0; j < len; j++) s += allowed(statefulIsAuthorized(reqs[j] as StatefulAuthorizationCall));
    return s;
  };
  const cedarMappedBatch = () => {
    let s = 0;
    for (let j = 0; j < len; j++) s += allowed(statefulIsAuthorized(toCedarRequest(corpus[j] as PolicyInput)));
    return s;
  };

  // Warm-up: JIT both sides, let the wasm allocator settle.
  timeLoop(oursBatch, len, 20 * len, 300);
  timeLoop(cedarBatch(requests), len, 2 * len, 300);
  timeLoop(cedarMappedBatch, len, len, 100);

  const ours = timeLoop(oursBatch, len, n, minMs);
  const cedarMs = Math.max(minMs, ours.ms);
  const cedar = timeLoop(cedarBatch(requests), len, 0, cedarMs);
  const cedarMapped = timeLoop(cedarMappedBatch, len, 0, cedarMs);
  const floor = timeLoop(cedarBatch(floorRequests), len, 0, cedarMs);
  for (const [name, r, perPass] of [
    ["ours", ours, eq.allowed],
    ["cedar", cedar, eq.allowed],
    ["cedar+mapping", cedarMapped, eq.allowed],
    ["cedar floor", floor, len],
  ] as const) {
    if (r.sink !== (r.ops / len) * perPass) throw new Error(`${name}: allow count drifted during timing (${r.sink})`);
  }

  const ratio = ours.perSec / cedar.perSec;
  const runs = (r: { ops: number; ms: number }) => `${r.ops.toLocaleString("en-US")} calls in ${(r.ms / 1000).toFixed(1)} s`;
  const row = (c: string, opsPerSec: number, r: number, note: string, target: BenchRow["target"] = null): BenchRow => ({
    suite: "gate",
    db: "—",
    case: c,
    opsPerSec,
    ratio: r,
    note,
    target,
  });
  return [
    row(
      `cedar-wasm ${getCedarVersion()} statefulIsAuthorized, equivalent pre-parsed set, pre-built requests (baseline)`,
      cedar.perSec,
      1,
      `${runs(cedar)}; corpus ${len} inputs (${eq.allowed} allowed), equivalence checked`,
    ),
    row("cedar-wasm incl. PolicyInput→request mapping", cedarMapped.perSec, cedarMapped.perSec / cedar.perSec, runs(cedarMapped)),
    row(
      "cedar-wasm floor: one unconditional permit, same requests",
      floor.perSec,
      floor.perSec / cedar.perSec,
      `not equivalent: request marshalling + call overhead only; ${runs(floor)}`,
    ),
    // Issue 13 raised the bar from 100× to 500× of Cedar pre-parsed (explanation and clause ids produced).
    row("evaluatePolicy (ours)", ours.perSec, ratio, runs(ours), atLeast(ratio, 500)),
  ];
}
