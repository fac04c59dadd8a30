import type { Clock } from "../../clock";
import type { Db, Tx } from "../../db";
import { canonicalJson } from "../../engine/canonical";
import type { Actor } from "../../engine/ledger";
import { readStoredJson } from "../../engine/storedJson";
import { AppError, badRequest, notFound } from "../../errors";
import { allTenantIds } from "../../repos/autonomy";
import {
  flipActive,
  GLOBAL,
  insertWeights,
  learningState,
  lockLearningState,
  nextWeightsVersion,
  setWeightsStatus,
  weightsById,
} from "../../repos/learning";
import { appendLedger } from "../../repos/ledger";
import { inTransaction } from "../../repos/tx";
import { ReasonBody } from "../../schemas/learning";
import { historyOf, lostRace, ShadowGateNotPassed } from "./registry";
import { loadLearningSettings } from "./settings";
import { shadowEvaluation } from "./shadow";

/**
 * The GLOBAL ranking scope's write path (SPEC §4.5: "per tenant with GLOBAL fallback"). A tenant
 * with no ACTIVE weights of its own ranks with the GLOBAL ACTIVE version (`activeRanker`); only
 * an operator moves that pointer, from the machine (`npm run cli -- learning publish-global` /
 * `rollback-global`), like the GLOBAL kill switch — no tenant's API or session reaches it.
 *
 * Publishing copies one tenant's version into the GLOBAL scope as a new version, so the GLOBAL
 * history has its own numbering and the source tenant's row keeps its status. Every move changes
 * what some tenants rank with, so it is ledgered in every tenant's chain, in its transaction.
 * Moves are conditional updates of the GLOBAL pointer; artifacts are never deleted (a replaced
 * or rolled-back GLOBAL version is RETIRED and stays listed to every tenant).
 *
 * There is no guard watch on the GLOBAL scope: the guard compares a promotion with what it
 * replaced on one tenant's decisions, and a GLOBAL version ranks for many. The `shadow` job
 * skips GLOBAL pointers for the same reason.
 */

const NOTHING_ACTIVE = "Nothing to roll back: no GLOBAL weights version is ACTIVE";

function checkedReason(reason: string) {
  const parsed = ReasonBody.safeParse({ reason });
  if (!parsed.success) throw badRequest("reason", "A reason of 3 to 500 characters is required");
  return parsed.data.reason;
}

function provenanceOf(text: string): Record<string, unknown> {
  const v = readStoredJson(text);
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Which tenant version a GLOBAL version was published from (null for one not published here). */
/**
 * A GLOBAL version is listed to every tenant, so it carries nothing of the tenant it came from:
 * the model without that tenant's seller ids and rates (every owner ranks with the prior), and
 * the provenance without its tenant, data volume or decision counts — what the fit is and how it
 * evaluated, and which version it was published from (an id another tenant cannot open).
 */
function globalModel(model: string): string {
  const m = readStoredJson(model);
  if (!m || typeof m !== "object" || Array.isArray(m)) throw new AppError("CONFLICT", "The source version's model cannot be read");
  return canonicalJson({ ...(m as Record<string, unknown>), sellers: {} });
}

function globalProvenance(source: { id: string; version: number; provenance: string }, now: Date): string {
  const p = provenanceOf(source.provenance);
  const keep = ["features_version", "trained_from", "trained_to", "seed", "lambda", "k", "metrics", "baseline", "reliability"];
  const baseline = p.baseline && typeof p.baseline === "object" ? (p.baseline as Record<string, unknown>) : null;
  return canonicalJson({
    ...Object.fromEntries(keep.filter((key) => key in p).map((key) => [key, p[key]])),
    ...(baseline ? { baseline: { kind: baseline.kind, metrics: baseline.metrics } } : {}),
    published_at: now.toISOString(),
    published_from: { weights_id: source.id, version: source.version },
  });
}

function publishedFrom(provenance: string): string | null {
  const from = provenanceOf(provenance).published_from;
  if (!from || typeof from !== "object") return null;
  const id = (from as Record<string, unknown>).weights_id;
  return typeof id === "string" ? id : null;
}

/** One entry per tenant, in the caller's transaction: each tenant's ranking may have changed. */
async function ledgerEveryTenant(tx: Tx, append: (tenantId: string) => Promise<unknown>) {
  const tenants = await allTenantIds(tx);
  for (const tenantId of tenants) await append(tenantId);
  return tenants.length;
}

/**
 * Publish a tenant's weights version as the GLOBAL ACTIVE ranking. The version must pass its
 * shadow gate in its own tenant, computed now exactly as a tenant promotion computes it; if the
 * source tenant's ACTIVE ranking or the GLOBAL pointer moves before this commits, that result no
 * longer applies and the call is a CONFLICT.
 */
export async function publishGlobal(db: Db, clock: Clock, actor: Actor, sourceTenantId: string, weightsId: string, reason: string) {
  const why = checkedReason(reason);
  if (sourceTenantId === GLOBAL) throw badRequest("tenant", "Publish a tenant's version; GLOBAL versions are copies of one");
  const source = await weightsById(db, sourceTenantId, weightsId);
  if (!source) throw notFound("Weights version");
  const seenSource = (await learningState(db, sourceTenantId))?.activeId ?? null;
  const seenGlobal = (await learningState(db, GLOBAL))?.activeId ?? null;
  if (seenGlobal) {
    const current = await weightsById(db, GLOBAL, seenGlobal);
    if (current && publishedFrom(current.provenance) === weightsId)
      throw new AppError("CONFLICT", `This version is already the GLOBAL ACTIVE ranking (GLOBAL version ${current.version})`);
  }
  const { settings } = await loadLearningSettings(db, sourceTenantId);
  const shadow = await shadowEvaluation(db, clock, sourceTenantId, source, settings);
  if (!shadow.passed) throw new ShadowGateNotPassed(shadow);

  return inTransaction(db, async (tx) => {
    const now = clock.now();
    // Concurrent publishers queue here, so each reads the version number and the pointer the
    // previous one committed (the conditional flip below would also refuse a stale one).
    await lockLearningState(tx, GLOBAL, now);
    const state = await learningState(tx, GLOBAL);
    if (!state) throw notFound("GLOBAL ranking pointer");
    if ((state.activeId ?? null) !== seenGlobal) throw lostRace();
    if (((await learningState(tx, sourceTenantId))?.activeId ?? null) !== seenSource) throw lostRace();

    const version = await nextWeightsVersion(tx, GLOBAL);
    const published = await insertWeights(
      tx,
      {
        tenantId: GLOBAL,
        version,
        featuresVersion: source.featuresVersion,
        model: globalModel(source.model),
        provenance: globalProvenance(source, now),
        createdBy: actor.id,
      },
      now,
    );
    const history = historyOf(state.history);
    if (state.activeId) history.push(state.activeId);
    const moved = await flipActive(
      tx,
      GLOBAL,
      state.revision,
      { activeId: published.id, history: JSON.stringify(history), guard: null },
      actor.id,
      now,
    );
    if (!moved) throw lostRace();
    await setWeightsStatus(tx, GLOBAL, published.id, "ACTIVE", now);
    if (state.activeId) await setWeightsStatus(tx, GLOBAL, state.activeId, "RETIRED", now);
    const tenants = await ledgerEveryTenant(tx, (tenantId) =>
      appendLedger(
        tx,
        {
          tenantId,
          type: "RANKING_WEIGHTS_PROMOTED",
          actor,
          // The gate's numbers are the source tenant's: only its own chain carries them.
          payload: {
            weights_id: published.id,
            version,
            scope: "GLOBAL",
            previous_id: state.activeId,
            reason: why,
            shadow: tenantId === sourceTenantId ? { ...shadow } : null,
          },
        },
        now,
      ),
    );
    return {
      weights_id: published.id,
      version,
      previous_id: state.activeId,
      published_from: { tenant_id: sourceTenantId, weights_id: source.id, version: source.version },
      shadow,
      tenants,
    };
  });
}

/**
 * Roll back the GLOBAL ACTIVE version in one conditional flip: the GLOBAL version before it (or,
 * with none, the rules ranking) ranks the very next request of every tenant without weights of
 * its own. The rolled-back version is RETIRED and stays listed.
 */
export async function rollbackGlobal(db: Db, clock: Clock, actor: Actor, reason: string) {
  const why = checkedReason(reason);
  return inTransaction(db, async (tx) => {
    const now = clock.now();
    const state = await learningState(tx, GLOBAL);
    if (!state?.activeId) throw new AppError("CONFLICT", NOTHING_ACTIVE);
    const rolledBack = state.activeId;
    const history = historyOf(state.history);
    const restored = history.pop() ?? null;
    const moved = await flipActive(
      tx,
      GLOBAL,
      state.revision,
      { activeId: restored, history: JSON.stringify(history), guard: null },
      actor.id,
      now,
    );
    if (!moved) throw lostRace();
    await setWeightsStatus(tx, GLOBAL, rolledBack, "RETIRED", now);
    if (restored) await setWeightsStatus(tx, GLOBAL, restored, "ACTIVE", now);
    const version = (await weightsById(tx, GLOBAL, rolledBack))?.version ?? null;
    const restoredVersion = restored ? ((await weightsById(tx, GLOBAL, restored))?.version ?? null) : null;
    const tenants = await ledgerEveryTenant(tx, (tenantId) =>
      appendLedger(
        tx,
        {
          tenantId,
          type: "RANKING_WEIGHTS_ROLLED_BACK",
          actor,
          payload: { weights_id: rolledBack, version, restored_id: restored, scope: "GLOBAL", reason: why, automatic: false },
        },
        now,
      ),
    );
    return { weights_id: rolledBack, version, restored_id: restored, restored_version: restoredVersion, tenants };
  });
}
