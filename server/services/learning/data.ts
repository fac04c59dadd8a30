import type { DbOrTx } from "../../db";
import { type FeatureSnapshot, feedGroup, SellerRates, type TrainingRow } from "../../engine/learning";
import { trainingLabel } from "../../engine/outcomes";
import { readStoredJson } from "../../engine/storedJson";
import { decidedIntentsPage, outcomeLabelsFor } from "../../repos/learning";

/**
 * Decided intents → labelled rows (SPEC §4.5): what calibration trains on and what the shadow
 * gate and the promotion guard score. One reader for all three, so a candidate is judged on
 * exactly the kind of rows it learned from.
 */

const PAGE = 2000;

/** The stored feature snapshot, or null when absent or not of this features version. */
export function parseFeatures(text: string | null): FeatureSnapshot | null {
  const v = readStoredJson(text);
  if (!v || typeof v !== "object" || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (o.v !== 1) return null;
  const str = (x: unknown) => (typeof x === "string" ? x : null);
  return {
    v: 1,
    tier: str(o.tier),
    posture: str(o.posture),
    lifecycle: str(o.lifecycle),
    owner_id: str(o.owner_id),
    signal_types: Array.isArray(o.signal_types) ? o.signal_types.filter((t): t is string => typeof t === "string") : [],
    trigger: str(o.trigger),
  };
}

export interface LabelledRows {
  rows: TrainingRow[];
  /** decided intents read, labelled or not */
  scanned: number;
  /** each owner's reject / edit rates after the last row */
  sellers: Record<string, { reject: number; edit: number }>;
}

/**
 * Every decided intent created in [from, to) with a training label, oldest first. Each row
 * carries its owner's reject and edit rates as they stood just before it (so a row never sees
 * its own outcome). `onPage` reports progress in intents read.
 */
export async function labelledRows(
  db: DbOrTx,
  tenantId: string,
  range: { from: Date; to: Date },
  onPage?: (scanned: number) => Promise<void> | void,
): Promise<LabelledRows> {
  const rates = new SellerRates();
  const rows: TrainingRow[] = [];
  let scanned = 0;
  let after: { createdAt: Date; id: string } | null = null;
  for (;;) {
    const page = await decidedIntentsPage(db, tenantId, range, after, PAGE);
    if (page.length === 0) break;
    const labels = await outcomeLabelsFor(
      db,
      tenantId,
      page.map((i) => i.id),
    );
    for (const i of page) {
      const ls = labels.get(i.id) ?? [];
      const autoExecuted = i.decision === "AUTO_EXECUTE";
      const features = parseFeatures(i.features);
      const owner = features?.owner_id ?? null;
      const label = trainingLabel(ls, autoExecuted);
      const before = rates.rates(owner);
      if (label !== null)
        rows.push({
          id: i.id,
          actionType: i.actionType,
          confidence: i.confidence,
          features,
          sellerRejectRate: before.reject,
          sellerEditRate: before.edit,
          at: i.createdAt,
          label,
          rulesRank: i.rankScore,
          group: feedGroup(owner, i.createdAt),
        });
      const judged =
        !autoExecuted &&
        ls.some((l) => l === "IDEA_REJECTED" || l === "IDEA_EDITED" || l === "EXECUTION_SUCCEEDED" || l === "EXECUTION_FAILED");
      if (judged) rates.add(owner, ls.includes("IDEA_REJECTED"), ls.includes("IDEA_EDITED"));
    }
    scanned += page.length;
    const last = page.at(-1);
    after = last ? { createdAt: last.createdAt, id: last.id } : null;
    await onPage?.(scanned);
    if (page.length < PAGE) break;
  }
  return { rows, scanned, sellers: rates.snapshot() };
}
