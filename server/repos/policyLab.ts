import type { DbOrTx, Tx } from "../db";
import { Prisma } from "../generated/sqlite/client.ts";
import type { ConfigTx } from "./autonomy";
import { decodeCursor, encodeCursor } from "./cursor";
import { tenantWhere } from "./scope";
import { isPostgres } from "./tx";

/**
 * Policy what-if and log-only proposals (SPEC §4.8). What-if only reads; proposals are started
 * and ended through withConfigWrite (ConfigTx), because the gate's cached configuration carries
 * the active ones — a started proposal must be seen by the very next evaluation.
 */

/** Which rows' stored inputs a page carries (engine/whatIf.ts `WhatIfReplay.inputScope`). */
export type InputScope = { all: true } | { all: false; actionTypes: string[]; autoExecuted: boolean };

/**
 * One page of a tenant's stored gate evaluations in [from, to), in time order (createdAt, id; as
 * ISO-8601 UTC text),
 * with each intent's account, type and source (always-on applies to decision runs only), and the
 * stored input of the rows `inputs` names (null on the others: it is most of a row's bytes, and
 * most rows of a what-if are counted from their row without it).
 *
 * One statement per page whose rows come back folded into one JSON text cell: a what-if reads
 * 100,000 evaluations, and converting them row by row through the client costs more than the
 * read itself (the same shape as learning.ts `decidedIntentsPage`). The page of evaluations is
 * taken first, in a LIMITed subquery, and only then joined to its intents: as one join, SQLite's
 * planner (with ANALYZE statistics) scanned every intent of the tenant and sorted the whole
 * period for each page — what made a 100,000-row what-if superlinear (10× the plain read). The
 * cursor's instant is also the lower bound of the range, so the (tenantId, createdAt) index scan
 * starts at the cursor; the rest of the keyset is a filter only (an OR there makes SQLite sort
 * the remaining range).
 */
export async function evaluationPage(
  db: DbOrTx,
  tenantId: string,
  from: Date,
  to: Date,
  after: { at: Date; id: string } | null,
  limit: number,
  inputs: InputScope,
) {
  const pg = isPostgres(db);
  const lower = after && after.at > from ? after.at : from;
  const keyset = after ? Prisma.sql` AND NOT (e."createdAt" = ${after.at} AND e."id" <= ${after.id})` : Prisma.empty;
  const wanted = inputs.all
    ? Prisma.sql`TRUE`
    : Prisma.sql`(${inputs.actionTypes.length > 0 ? Prisma.sql`i."actionType" IN (${Prisma.join(inputs.actionTypes)}) OR ` : Prisma.empty}p."reason" = 'BUDGET_EXHAUSTED'${inputs.autoExecuted ? Prisma.sql` OR p."decision" = 'AUTO_EXECUTE'` : Prisma.empty})`;
  // PostgreSQL: every cell text (the time as fixed-width ISO UTC), folded as text arrays —
  // json_build_array looks up each argument's type per row, a fifth of the server's work per page.
  const at = pg ? Prisma.raw(`to_char(p."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`) : Prisma.raw(`p."createdAt"`);
  const columns = Prisma.sql`p."id", p."intentId", p."decision", p."reason", ${at}, i."source", i."accountId", i."actionType", CASE WHEN ${wanted} THEN p."input" END`;
  const fold = (ordered: boolean) => {
    const order = ordered ? Prisma.raw(`ORDER BY p."createdAt", p."id"`) : Prisma.empty;
    return pg
      ? Prisma.sql`COALESCE(json_agg(ARRAY[${columns}] ${order}), '[]'::json)::text`
      : Prisma.sql`json_group_array(json_array(${columns}) ${order})`;
  };
  // PostgreSQL hash-joined the page to a full scan of the tenant's intents; a LATERAL lookup (its
  // LIMIT keeps the planner from turning it back into that join) reads the page's intents only.
  const intent = pg
    ? Prisma.sql`CROSS JOIN LATERAL (SELECT x."source", x."accountId", x."actionType" FROM "ActionIntent" x
        WHERE x."id" = p."intentId" AND x."tenantId" = p."tenantId" LIMIT 1) i`
    : Prisma.sql`JOIN "ActionIntent" i ON i."id" = p."intentId" AND i."tenantId" = p."tenantId"`;
  const read = async (ordered: boolean) => {
    const [row] = await db.$queryRaw<{ j: string }[]>`SELECT ${fold(ordered)} AS "j" FROM (
      SELECT e."id", e."intentId", e."decision", e."reason", e."createdAt", e."tenantId", e."input"
      FROM "PolicyEvaluation" e
      WHERE e."tenantId" = ${tenantId} AND e."createdAt" >= ${lower} AND e."createdAt" < ${to}${keyset}
      ORDER BY e."createdAt", e."id" LIMIT ${limit}
    ) p ${intent}`;
    return JSON.parse(row?.j ?? "[]") as (string | null)[][];
  };
  // The fold keeps the ordered page's order as the plans stand (the page drives a nested-loop
  // lookup of its intents), so it is read without an ORDER BY of its own: that sorted every page
  // again, row texts and all — a fifth of SQLite's work. Only if a plan ever changed that would
  // the page be read again with the ORDER BY.
  let rows = await read(false);
  if (!inTimeOrder(rows)) rows = await read(true);
  return rows.map((r) => ({
    id: r[0] as string,
    intentId: r[1] as string,
    decision: r[2] as string,
    reason: r[3] ?? null,
    createdAt: isoUtc(r[4] as string),
    source: r[5] as string,
    accountId: r[6] as string,
    actionType: r[7] as string,
    input: r[8] ?? null,
  }));
}

/**
 * Are the folded rows ascending by (createdAt, id)? The stored time texts compare as times: SQLite
 * keeps one fixed-width form, PostgreSQL's JSON drops trailing zeros of the fraction, which still
 * compares as a decimal does. A false alarm (ids collated otherwise by the database) only costs a
 * second, ordered read.
 */
function inTimeOrder(rows: readonly (string | null)[][]): boolean {
  for (let k = 1; k < rows.length; k++) {
    const a = rows[k - 1] as (string | null)[];
    const b = rows[k] as (string | null)[];
    const at = a[4] as string;
    const bt = b[4] as string;
    if (at > bt || (at === bt && (a[0] as string) >= (b[0] as string))) return false;
  }
  return true;
}

/**
 * A time from folded JSON as ISO-8601 UTC text ("…Z"): SQLite keeps Prisma's text form (UTC,
 * "+00:00"), PostgreSQL's has no zone (UTC). Text, not a Date: the replay needs only its UTC day
 * (the first ten characters) for most rows, and a Date per row was a tenth of a what-if's time.
 */
function isoUtc(t: string): string {
  if (t.endsWith("+00:00")) return `${t.slice(0, -6)}Z`;
  if (t.endsWith("Z") || t.endsWith("z")) return t;
  if (/[+-]\d\d:\d\d$/.test(t)) return new Date(t).toISOString();
  return `${t}Z`;
}

/** The stored inputs of these evaluations, by evaluation id. */
export async function evaluationInputs(db: DbOrTx, tenantId: string, ids: string[]) {
  if (ids.length === 0) return new Map<string, string>();
  const rows = await db.policyEvaluation.findMany({ where: tenantWhere(tenantId, { id: { in: ids } }), select: { id: true, input: true } });
  return new Map(rows.map((r) => [r.id, r.input]));
}

/** The tenant's allowlist rows (every level) and budget caps: what the replay reads levels from. */
export async function whatIfConfig(db: DbOrTx, tenantId: string) {
  const [allowlist, budgets] = await Promise.all([
    db.allowlistEntry.findMany({ where: tenantWhere(tenantId), select: { accountKey: true, actionType: true } }),
    db.autonomyBudget.findMany({ where: tenantWhere(tenantId), select: { accountKey: true, maxPerDay: true } }),
  ]);
  return { allowlist, budgetCaps: new Map(budgets.map((b) => [b.accountKey, b.maxPerDay])) };
}

/** Which of these ids are accounts of the tenant. */
export async function tenantAccountIds(db: DbOrTx, tenantId: string, ids: string[]) {
  if (ids.length === 0) return new Set<string>();
  const rows = await db.account.findMany({ where: tenantWhere(tenantId, { id: { in: ids } }), select: { id: true } });
  return new Set(rows.map((r) => r.id));
}

// ───────────────────────────── proposals ─────────────────────────────

export const PROPOSAL_STATUSES = ["LOG_ONLY", "ENFORCED", "DISCARDED"] as const;

export function countActiveProposals(tx: Tx, tenantId: string) {
  return tx.policyProposal.count({ where: tenantWhere(tenantId, { status: "LOG_ONLY" }) });
}

export function insertProposal(
  tx: ConfigTx,
  data: { tenantId: string; name: string; changes: string; createdBy: string | null },
  now: Date,
) {
  return tx.policyProposal.create({ data: { ...data, status: "LOG_ONLY", createdAt: now } });
}

export function findProposal(db: DbOrTx, tenantId: string, id: string) {
  return db.policyProposal.findFirst({ where: tenantWhere(tenantId, { id }) });
}

export function listProposals(db: DbOrTx, tenantId: string) {
  return db.policyProposal.findMany({ where: tenantWhere(tenantId), orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: 100 });
}

/** The active proposals the gate runs beside the policy (read into its cached configuration). */
export function activeProposals(db: DbOrTx, tenantId: string) {
  return db.policyProposal.findMany({
    where: tenantWhere(tenantId, { status: "LOG_ONLY" }),
    select: { id: true, changes: true },
    orderBy: { createdAt: "asc" },
  });
}

/** LOG_ONLY → ENFORCED | DISCARDED, once: the conditional update is what makes two ends race safely. */
export async function endProposal(
  tx: ConfigTx,
  tenantId: string,
  id: string,
  data: { status: "ENFORCED" | "DISCARDED"; endedBy: string | null; endReason: string | null },
  now: Date,
) {
  const res = await tx.policyProposal.updateMany({
    where: tenantWhere(tenantId, { id, status: "LOG_ONLY" }),
    data: { ...data, endedAt: now },
  });
  return res.count === 1;
}

export function insertLogOnlyEvaluations(
  tx: Tx,
  rows: {
    tenantId: string;
    proposalId: string;
    intentId: string;
    actionType: string;
    decision: string;
    reason: string;
    proposedDecision: string;
    proposedReason: string | null;
  }[],
  now: Date,
) {
  return tx.logOnlyEvaluation.createMany({ data: rows.map((r) => ({ ...r, createdAt: now })) });
}

/** Counts per (action type, active answer, proposed answer): the report's summary, a few rows per type. */
export function logOnlyCounts(db: DbOrTx, tenantId: string, proposalId: string) {
  return db.logOnlyEvaluation.groupBy({
    by: ["actionType", "decision", "reason", "proposedDecision", "proposedReason"],
    where: tenantWhere(tenantId, { proposalId }),
    _count: { _all: true },
  });
}

/** The evaluations whose proposed decision differs from the active one, newest first. */
export async function changedLogOnly(db: DbOrTx, tenantId: string, proposalId: string, page: { limit: number; cursor?: string }) {
  const c = page.cursor ? decodeCursor(page.cursor, { t: "iso", i: "id" }) : undefined;
  const f = db.logOnlyEvaluation.fields;
  const rows = await db.logOnlyEvaluation.findMany({
    where: tenantWhere(tenantId, {
      proposalId,
      AND: [
        { NOT: { decision: { equals: f.proposedDecision } } },
        ...(c ? [{ OR: [{ createdAt: { lt: new Date(c.t) } }, { createdAt: new Date(c.t), id: { lt: c.i } }] }] : []),
      ],
    }),
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
  });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > page.limit && last ? encodeCursor({ t: last.createdAt.toISOString(), i: last.id }) : null };
}
