import type { DbOrTx } from "../../db";
import { type FeatureSnapshot, feedGroup, SellerRates, type TrainingRow } from "../../engine/learning";
import { trainingLabel } from "../../engine/outcomes";
import { decidedIntentsPage } from "../../repos/learning";

/**
 * Decided intents → labelled rows (SPEC §4.5): what calibration trains on and what the shadow
 * gate and the promotion guard score. One reader for all three, so a candidate is judged on
 * exactly the kind of rows it learned from.
 */

const PAGE = 2000;

/** The stored feature snapshot, or null when absent or not of this features version. */
export function parseFeatures(text: string | null): FeatureSnapshot | null {
  if (text === null) return null;
  // A plain JSON.parse, not readStoredJson: only top-level scalars and one array of strings are
  // read, so that reader's depth pruning (for display) changes nothing here, and it costs more
  // than the parse itself on the 100,000 rows of a calibration.
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
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

/** What the labels of the training rows say people (and recipients) did: counted in provenance. */
export interface DecisionCounts {
  approved: number;
  edited: number;
  rejected: number;
  expired: number;
  no_response: number;
  negative_response: number;
  responded: number;
}

/**
 * One human decision per labelled row — rejected, expired, edited (then approved) or approved as
 * proposed — and the recipient's answer to outreach beside it. Auto-executed intents only ever
 * reach internal actions, which have no response window, so they carry no training label and are
 * not among these rows.
 */
function countDecision(c: DecisionCounts, ls: readonly string[]) {
  if (ls.includes("IDEA_REJECTED")) c.rejected++;
  else if (ls.includes("IDEA_EXPIRED")) c.expired++;
  else if (ls.includes("IDEA_EDITED")) c.edited++;
  else if (ls.includes("EXECUTION_SUCCEEDED") || ls.includes("EXECUTION_FAILED")) c.approved++;
  if (ls.includes("NO_RESPONSE")) c.no_response++;
  if (ls.includes("NEGATIVE_RESPONSE")) c.negative_response++;
  if (ls.includes("RESPONSE_RECEIVED")) c.responded++;
}

export interface LabelledRows {
  rows: TrainingRow[];
  /** the decisions behind `rows`, counted from the same labels in the same read */
  decisions: DecisionCounts;
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
  const decisions: DecisionCounts = { approved: 0, edited: 0, rejected: 0, expired: 0, no_response: 0, negative_response: 0, responded: 0 };
  let scanned = 0;
  let after: { createdAt: Date; id: string } | null = null;
  for (;;) {
    const page = await decidedIntentsPage(db, tenantId, range, after, PAGE);
    if (page.length === 0) break;
    for (const i of page) {
      const ls = i.labels;
      const autoExecuted = i.decision === "AUTO_EXECUTE";
      const features = parseFeatures(i.features);
      const owner = features?.owner_id ?? null;
      const label = trainingLabel(ls, autoExecuted);
      const before = rates.rates(owner);
      if (label !== null) {
        countDecision(decisions, ls);
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
      }
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
  return { rows, decisions, scanned, sellers: rates.snapshot() };
}
