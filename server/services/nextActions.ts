import type { DbOrTx } from "../db";
import { readStoredJson } from "../engine/storedJson";
import { badRequest } from "../errors";
import { decodeCursor, encodeCursor } from "../repos/cursor";
import { accountOwners, intentsByIds, openProposalKeys, scopedAccountIds } from "../repos/nextActions";
import type { Viewer } from "../repos/scope";
import type { NextActionsOutput } from "../schemas/nextActions";
import { requireViewerAccount } from "./guards";
import { parseFeatures } from "./learning/data";
import { activeRanker, type Ranker } from "./learning/ranker";

/**
 * "What should I do next" (SPEC §4.5): the open proposals (PENDING_APPROVAL) a viewer may act
 * on, ranked by the ACTIVE ranker — the tenant's ACTIVE weights, else the GLOBAL ones, else the
 * rules ranking — each with its rank score, display confidence and the weights version that
 * ranked it. Ranking never changes a proposal's status, confidence or policy decision.
 *
 * A ranked list cannot be paged in the database: every proposal in scope is scored first, then
 * the page is cut. The candidates are capped at the CANDIDATE_CAP newest open proposals in scope
 * (`capped` says when more exist); older ones are not ranked until newer ones are decided.
 */
export const CANDIDATE_CAP = 5000;

export interface NextActionsQuery {
  accountId?: string;
  ownerId?: string;
  limit: number;
  cursor?: string;
}

interface Key {
  /** rank score */
  s: number;
  /** rules rank */
  r: number;
  /** created at, epoch ms */
  t: number;
  i: string;
}

/**
 * The feed's order: rank_score desc, then the rules rank desc (it breaks ties under the model:
 * scores are rounded, and proposals with identical features score identically), then created_at
 * desc (fresher first), then id desc — a total order, so the keyset cursor below is exact.
 * Negative when `a` comes first.
 */
function order(a: Key, b: Key): number {
  return b.s - a.s || b.r - a.r || b.t - a.t || (a.i > b.i ? -1 : a.i < b.i ? 1 : 0);
}

/**
 * The cursor is the last row's sort key, not an offset: a proposal decided between two pages
 * does not shift the next page. If the ACTIVE weights change between pages, the remaining pages
 * follow the new ranking from the same key (rows may then repeat or be passed over once).
 * Scores travel as their exact decimal text (the shared cursor codec has no float kind).
 */
function encodeKey(k: Key): string {
  return encodeCursor({ s: String(k.s), r: String(k.r), t: k.t, i: k.i });
}

function decodeKey(cursor: string): Key {
  const c = decodeCursor(cursor, { s: "id", r: "id", t: "epochMs", i: "id" });
  const num = (text: string) => {
    const n = Number(text);
    if (!Number.isFinite(n) || String(n) !== text)
      throw badRequest("cursor", "cursor is not valid; pass next_cursor from a previous page unchanged");
    return n;
  };
  return { s: num(c.s), r: num(c.r), t: c.t, i: c.i };
}

type IntentRow = Awaited<ReturnType<typeof intentsByIds>>[number];

export interface RankedProposal {
  key: Key;
  rankScore: number;
  rulesRank: number;
  displayConfidence: number;
}

/**
 * One page of the viewer's open proposals in ranked order, with the full intent rows of that page.
 * Sellers see only the accounts they own: an `ownerId` naming someone else answers an empty page,
 * never another seller's work. `accountId` must be an account the viewer may see (else 404).
 */
export async function rankedOpenProposals(db: DbOrTx, viewer: Viewer, q: NextActionsQuery) {
  // Validated before any read: a malformed cursor is the caller's 400, whatever else holds.
  const after = q.cursor ? decodeKey(q.cursor) : undefined;
  const ranker = await activeRanker(db, viewer.tenantId);
  const empty = { ranker, page: [] as RankedProposal[], intents: new Map<string, IntentRow>(), nextCursor: null, capped: false };
  if (q.accountId) await requireViewerAccount(db, viewer, q.accountId);
  if (viewer.role === "SELLER" && q.ownerId && q.ownerId !== viewer.userId) return empty;

  // Admins, auditors and API keys without a filter read the whole tenant; otherwise the accounts in scope.
  const scoped = viewer.role === "SELLER" || q.accountId || q.ownerId;
  const accountIds = scoped ? await scopedAccountIds(db, viewer, { accountId: q.accountId, ownerId: q.ownerId }) : undefined;
  if (accountIds && accountIds.length === 0) return empty;

  const rows = await openProposalKeys(db, viewer.tenantId, accountIds, CANDIDATE_CAP + 1);
  const capped = rows.length > CANDIDATE_CAP;
  const ranked = rows.slice(0, CANDIDATE_CAP).map((row): RankedProposal => {
    const { rankScore, displayConfidence } = ranker.score({
      id: row.id,
      actionType: row.actionType,
      confidence: row.confidence,
      features: parseFeatures(row.features),
      rulesRank: row.rankScore,
    });
    return {
      key: { s: rankScore, r: row.rankScore, t: row.createdAt.getTime(), i: row.id },
      rankScore,
      rulesRank: row.rankScore,
      displayConfidence,
    };
  });
  ranked.sort((a, b) => order(a.key, b.key));
  const rest = after ? ranked.filter((p) => order(p.key, after) > 0) : ranked;
  const page = rest.slice(0, q.limit);
  const last = page.at(-1);
  const full = await intentsByIds(
    db,
    viewer.tenantId,
    page.map((p) => p.key.i),
  );
  return {
    ranker,
    page,
    intents: new Map(full.map((i) => [i.id, i])),
    nextCursor: rest.length > q.limit && last ? encodeKey(last.key) : null,
    capped,
  };
}

function rankedBy(r: Ranker): NextActionsOutput["ranked_by"] {
  return r.weightsId && r.version !== null && r.scope ? { weights_id: r.weightsId, version: r.version, scope: r.scope } : null;
}

const reasons = (text: string) => {
  const v = readStoredJson(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
};

/** The feed as REST and tRPC answer it (snake_case, SPEC §5.1 fields plus what the page shows). */
export async function nextActions(db: DbOrTx, viewer: Viewer, q: NextActionsQuery): Promise<NextActionsOutput> {
  const res = await rankedOpenProposals(db, viewer, q);
  const accounts = await accountOwners(
    db,
    viewer.tenantId,
    [...res.intents.values()].map((i) => i.accountId),
  );
  const accountById = new Map(accounts.map((a) => [a.id, a]));
  const items: NextActionsOutput["items"] = [];
  for (const p of res.page) {
    const intent = res.intents.get(p.key.i);
    // Decided (and so no longer open) between the ranking read and this one: not a next action.
    if (intent?.status !== "PENDING_APPROVAL") continue;
    const account = accountById.get(intent.accountId);
    items.push({
      action_intent_id: intent.id,
      account_id: intent.accountId,
      account_name: account?.name ?? "(deleted)",
      owner_id: account?.ownerId ?? null,
      owner_name: account?.owner?.name ?? null,
      action_type: intent.actionType,
      why: reasons(intent.why),
      confidence: intent.confidence,
      rank_score: p.rankScore,
      rules_rank: p.rulesRank,
      display_confidence: p.displayConfidence,
      weights_version: res.ranker.version,
      weights_id: res.ranker.weightsId,
      created_at: intent.createdAt,
    });
  }
  return { items, next_cursor: res.nextCursor, ranked_by: rankedBy(res.ranker), capped: res.capped };
}
