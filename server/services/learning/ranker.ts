import type { DbOrTx } from "../../db";
import { type Proposal, type RankingModel, scoreWith } from "../../engine/learning";
import { readStoredJson } from "../../engine/storedJson";
import { GLOBAL, learningState, weightsById } from "../../repos/learning";

/**
 * The ACTIVE ranking (SPEC §4.5): the tenant's ACTIVE weights, else the GLOBAL ACTIVE ones, else
 * the rules ranking the synthesizer gave each proposal. Production ranking reads only this.
 *
 * The pointer is read on every call (one primary-key read per scope), so a promotion or a
 * rollback on any instance ranks the very next request; only the immutable weights rows are
 * cached, by id.
 */
export interface Ranker {
  /** the weights version that ranks (null: the rules ranking) */
  weightsId: string | null;
  version: number | null;
  scope: "TENANT" | "GLOBAL" | null;
  score(p: Proposal & { rulesRank: number }): { rankScore: number; displayConfidence: number };
}

const cache = new Map<string, { version: number; model: RankingModel }>();
const CACHE_MAX = 200;

/** Stored model JSON → the engine's model, or null if it does not have the engine's shape. */
export function parseModel(text: string): RankingModel | null {
  const v = readStoredJson(text);
  if (!v || typeof v !== "object" || Array.isArray(v)) return null;
  const m = v as Partial<RankingModel>;
  if (typeof m.featuresVersion !== "string" || !m.coefficients || typeof m.coefficients !== "object" || !Array.isArray(m.curve))
    return null;
  return { featuresVersion: m.featuresVersion, coefficients: m.coefficients, curve: m.curve, sellers: m.sellers ?? {} };
}

/** A weights row as a ranker (cached by id: versions never change once written). */
export async function weightsRanker(db: DbOrTx, scopeId: string, id: string): Promise<Ranker | null> {
  let hit = cache.get(id);
  if (!hit) {
    const row = await weightsById(db, scopeId, id);
    const model = row ? parseModel(row.model) : null;
    if (!row || !model) return null;
    if (cache.size >= CACHE_MAX) cache.clear();
    hit = { version: row.version, model };
    cache.set(id, hit);
  }
  const { model, version } = hit;
  return {
    weightsId: id,
    version,
    scope: scopeId === GLOBAL ? "GLOBAL" : "TENANT",
    score: (p) => scoreWith(model, p),
  };
}

export const RULES_RANKER: Ranker = {
  weightsId: null,
  version: null,
  scope: null,
  score: (p) => ({ rankScore: p.rulesRank, displayConfidence: p.confidence }),
};

export async function activeRanker(db: DbOrTx, tenantId: string): Promise<Ranker> {
  for (const scope of [tenantId, GLOBAL]) {
    const state = await learningState(db, scope);
    if (state?.activeId) {
      const ranker = await weightsRanker(db, scope, state.activeId);
      if (ranker) return ranker;
    }
  }
  return RULES_RANKER;
}
