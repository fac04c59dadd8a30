import type { Clock } from "../../clock";
import type { DbOrTx } from "../../db";
import { evaluationHistory, listWeights } from "../../repos/learning";
import type { Viewer } from "../../repos/scope";

/**
 * The learning page's chart (issue 9 item 8): every SHADOW evaluation of a candidate beside the
 * ranking ACTIVE at the time, and every GUARD evaluation after a promotion, over the last `days`
 * days, oldest first, each named by its version number. Reads only.
 */

const DAY_MS = 86_400_000;
/** A shadow tick a day per candidate for 180 days is far below this; past it `truncated` says so. */
const HISTORY_MAX = 5000;
const VERSIONS_MAX = 200;

export interface EvaluationPoint {
  at: Date;
  kind: "SHADOW" | "GUARD";
  version_id: string;
  /** null when the version is no longer among the listed ones */
  version: number | null;
  metric: string;
  value: number | null;
  /** SHADOW: the ACTIVE ranking's value on the same proposals; GUARD: the replaced ranking's */
  baseline_value: number | null;
  /** SHADOW: the value to reach; GUARD: the floor to stay above; null when there was none */
  threshold: number | null;
  sample: number;
  min_sample: number;
  passed: boolean;
}

export async function shadowHistory(db: DbOrTx, clock: Clock, viewer: Viewer, days: number) {
  const since = new Date(clock.now().getTime() - days * DAY_MS);
  const [rows, versions] = await Promise.all([
    evaluationHistory(db, viewer.tenantId, since, HISTORY_MAX),
    listWeights(db, viewer.tenantId, VERSIONS_MAX),
  ]);
  const versionOf = new Map(versions.map((v) => [v.id, v.version]));
  const items: EvaluationPoint[] = rows.map((r) => ({
    at: r.at,
    kind: r.kind === "GUARD" ? "GUARD" : "SHADOW",
    version_id: r.versionId,
    version: versionOf.get(r.versionId) ?? null,
    metric: r.metric,
    value: r.value,
    baseline_value: r.baselineValue,
    // stored as 0 when the incumbent had no value yet: there was no threshold
    threshold: r.baselineValue === null ? null : r.threshold,
    sample: r.sample,
    min_sample: r.minSample,
    passed: r.passed,
  }));
  return { since, days, items, truncated: rows.length === HISTORY_MAX };
}
