import type { Clock } from "../clock";
import type { Db, DbOrTx } from "../db";
import { canonicalJson } from "../engine/canonical";
import type { Actor } from "../engine/ledger";
import {
  gapCutoff,
  inGap,
  LABEL_FOR_STATUS,
  missingLabel,
  OUTREACH_ACTION_TYPES,
  type OutcomeLabel,
  RESPONSE_LABELS,
  RESPONSE_SIGNAL_TYPES,
  type ResponseSignal,
  responseOutcome,
  UNDECIDED_STATUSES,
} from "../engine/outcomes";
import { readStoredJson } from "../engine/storedJson";
import { appendLedgerBatch, type LedgerAppend } from "../repos/ledger";
import {
  editedVersionsOf,
  gapCandidates,
  gapSummary,
  gapsWithOutcome,
  insertGapsOnce,
  insertOutcomesOnce,
  type LabelCandidate,
  labelCandidates,
  labelsOf,
  type OutcomeInsert,
  openGaps,
  originalExecutionsOf,
  resolveGap,
  responseCandidates,
  signalsSince,
} from "../repos/outcomes";
import type { Viewer } from "../repos/scope";
import { listTenants } from "../repos/tenants";
import { inTransaction } from "../repos/tx";
import { loadLearningSettings } from "./learning/settings";

/**
 * The `normalize` job (SPEC §4.5): every decided intent ends with its taxonomy label and an
 * OUTCOME_RECORDED entry on its correlation id. Per tenant, in small transactions:
 *   1. labels its status implies but nobody wrote (IDEA_BLOCKED always — the gate does not write
 *      it — and rows from before the inline writes existed);
 *   2. outreach response windows: the first reply, meeting, bounce or unsubscribe on the account
 *      inside the window closes it, else NO_RESPONSE once it has ended;
 *   3. gaps: open gaps that have an outcome by now are resolved; decided intents still without any
 *      outcome `missing_after_hours` after their decision are flagged and ledgered
 *      NORMALIZATION_MISSING, once.
 * Every write is insert-once on a deterministic key, and the ledger entry is appended only by the
 * transaction whose insert took effect: any number of concurrent normalizers record each once.
 */

const NORMALIZER: Actor = { type: "SYSTEM", id: "normalize" };
/** The OUTCOME_RECORDED reason for a label its inline writer should have recorded and did not. */
const BACKFILLED = "BACKFILLED";

export interface NormalizeOptions {
  /** intents per page and transaction */
  pageSize?: number;
  /** pages per tenant and phase in one tick; what is left is the next tick's */
  maxPages?: number;
}

export interface NormalizeResult {
  ok: boolean;
  tenants: number;
  /** labels implied by a status, recorded by this tick */
  recorded: number;
  /** response-window outcomes recorded by this tick */
  responses: number;
  /** intents newly flagged (and ledgered) as missing their outcome */
  missing: number;
  /** flagged intents whose outcome has appeared since */
  resolved: number;
}

type Tally = Omit<NormalizeResult, "ok" | "tenants">;
type Page = { pageSize: number; maxPages: number };

export async function runNormalizeTick(db: Db, clock: Clock, opts: NormalizeOptions = {}): Promise<NormalizeResult> {
  const page = { pageSize: opts.pageSize ?? 200, maxPages: opts.maxPages ?? 25 };
  const out: NormalizeResult = { ok: true, tenants: 0, recorded: 0, responses: 0, missing: 0, resolved: 0 };
  for (const tenant of await listTenants(db)) {
    try {
      const t = await normalizeTenant(db, clock, tenant.id, page);
      out.recorded += t.recorded;
      out.responses += t.responses;
      out.missing += t.missing;
      out.resolved += t.resolved;
      out.tenants++;
    } catch (err) {
      // One tenant's failure must not starve the others; its work is found again next tick.
      out.ok = false;
      console.error(`normalize: tenant ${tenant.id} not normalised (${err instanceof Error ? err.name : "error"})`);
    }
  }
  return out;
}

async function normalizeTenant(db: Db, clock: Clock, tenantId: string, page: Page): Promise<Tally> {
  const { settings } = await loadLearningSettings(db, tenantId);
  // One instant for what is due in this tick (windows ended, gaps overdue); rows carry write times.
  const now = clock.now();
  const recorded = await recordImpliedLabels(db, clock, tenantId, page);
  const responses = await closeResponseWindows(db, clock, tenantId, settings.response_window_days, now, page);
  const resolved = await resolveGaps(db, clock, tenantId, page);
  const missing = await flagGaps(db, clock, tenantId, settings.missing_after_hours, now, page);
  return { recorded, responses, missing, resolved };
}

/** Insert the page's outcomes once and ledger those this transaction inserted. */
async function recordOnce(
  db: Db,
  clock: Clock,
  tenantId: string,
  rows: (OutcomeInsert & { ledger: Omit<LedgerAppend, "tenantId" | "type" | "actor" | "payload">; payload: Record<string, unknown> })[],
) {
  if (rows.length === 0) return 0;
  return inTransaction(db, async (tx) => {
    const at = clock.now();
    const inserted = await insertOutcomesOnce(tx, tenantId, rows, at);
    const entries = rows
      .filter((r) => inserted.has(r.id))
      .map((r) => ({
        ...r.ledger,
        type: "OUTCOME_RECORDED" as const,
        actor: NORMALIZER,
        payload: {
          action_intent_id: r.intentId,
          ...(r.executionId ? { execution_id: r.executionId } : {}),
          label: r.label,
          ...r.payload,
        },
      }));
    await appendLedgerBatch(tx, tenantId, entries, at);
    return entries.length;
  });
}

async function recordImpliedLabels(db: Db, clock: Clock, tenantId: string, page: Page) {
  let recorded = 0;
  let afterId: string | null = null;
  for (let p = 0; p < page.maxPages; p++) {
    const candidates = await labelCandidates(db, tenantId, LABEL_FOR_STATUS, afterId, page.pageSize);
    if (candidates.length === 0) break;
    afterId = candidates.at(-1)?.id ?? null;
    const ids = candidates.map((c) => c.id);
    const [labels, executions, versions] = await Promise.all([
      labelsOf(db, tenantId, ids),
      originalExecutionsOf(db, tenantId, ids),
      editedVersionsOf(db, tenantId, ids),
    ]);
    const rows = candidates.flatMap((c) => {
      const execution = executions.get(c.id) ?? null;
      const v = missingLabel({ status: c.status, labels: labels.get(c.id) ?? [], execution });
      if (v.kind !== "RECORD") return [];
      const { details, reason } = impliedRecord(v.label, c, execution, versions.get(c.id) ?? null);
      return [
        {
          id: `${c.id}:${v.label}`,
          intentId: c.id,
          executionId: v.executionId,
          label: v.label,
          details: canonicalJson(details),
          ledger: { accountId: c.accountId, correlationId: c.correlationId },
          payload: reason ? { reason } : {},
        },
      ];
    });
    recorded += await recordOnce(db, clock, tenantId, rows);
    if (candidates.length < page.pageSize) break;
  }
  return recorded;
}

/**
 * What a status-implied outcome records, in the shape its inline writer uses (executor, reviews),
 * and the reason its OUTCOME_RECORDED gives. Blocked and expired ideas are labelled here by
 * design; the other labels were due inline at the decision and are filled in after the fact.
 */
function impliedRecord(
  label: OutcomeLabel,
  c: LabelCandidate,
  execution: { outcome: string | null; error: string | null } | null,
  editedVersion: string | null,
): { details: unknown; reason: string | null } {
  switch (label) {
    case "IDEA_BLOCKED":
      return { details: { reason: c.reason }, reason: c.reason };
    case "IDEA_EXPIRED":
      return { details: {}, reason: null };
    case "IDEA_EDITED":
      return { details: { new_intent_id: editedVersion }, reason: BACKFILLED };
    case "EXECUTION_SUCCEEDED":
      return { details: readStoredJson(execution?.outcome) ?? {}, reason: BACKFILLED };
    case "EXECUTION_FAILED":
      return { details: { error: execution?.error ?? null }, reason: BACKFILLED };
    default:
      return { details: {}, reason: BACKFILLED };
  }
}

async function closeResponseWindows(db: Db, clock: Clock, tenantId: string, days: number, now: Date, page: Page) {
  let recorded = 0;
  let afterId: string | null = null;
  for (let p = 0; p < page.maxPages; p++) {
    const candidates = await responseCandidates(db, tenantId, OUTREACH_ACTION_TYPES, RESPONSE_LABELS, afterId, page.pageSize);
    if (candidates.length === 0) break;
    afterId = candidates.at(-1)?.id ?? null;
    const since = new Date(Math.min(...candidates.map((c) => c.finishedAt.getTime())));
    const byAccount = new Map<string, ResponseSignal[]>();
    for (const s of await signalsSince(
      db,
      tenantId,
      candidates.map((c) => c.accountId),
      RESPONSE_SIGNAL_TYPES,
      since,
    )) {
      const list = byAccount.get(s.accountId) ?? [];
      list.push({ id: s.id, type: s.type, occurredAt: s.occurredAt, evidence: readStoredJson(s.evidence) });
      byAccount.set(s.accountId, list);
    }
    const rows = candidates.flatMap((c) => {
      const v = responseOutcome({ start: c.finishedAt, days }, now, byAccount.get(c.accountId) ?? []);
      if (!v) return [];
      const window = { window_start: c.finishedAt.toISOString(), window_end: v.windowEnd.toISOString(), window_days: days };
      const signal = v.signal ? { signal_id: v.signal.id, signal_type: v.signal.type } : null;
      return [
        {
          // One key for all three response labels: a window closes once, whichever way.
          id: `${c.id}:RESPONSE`,
          intentId: c.id,
          executionId: c.executionId,
          label: v.label,
          details: canonicalJson({ ...window, ...signal }),
          ledger: { accountId: c.accountId, correlationId: c.correlationId },
          payload: signal ?? { reason: "RESPONSE_WINDOW_ENDED", window_days: days },
        },
      ];
    });
    recorded += await recordOnce(db, clock, tenantId, rows);
    if (candidates.length < page.pageSize) break;
  }
  return recorded;
}

async function resolveGaps(db: Db, clock: Clock, tenantId: string, page: Page) {
  let resolved = 0;
  for (const intentId of await gapsWithOutcome(db, tenantId, page.pageSize * page.maxPages)) {
    if (await resolveGap(db, tenantId, intentId, clock.now())) resolved++;
  }
  return resolved;
}

async function flagGaps(db: Db, clock: Clock, tenantId: string, afterHours: number, now: Date, page: Page) {
  let flagged = 0;
  let afterId: string | null = null;
  const cutoff = gapCutoff(now, afterHours);
  for (let p = 0; p < page.maxPages; p++) {
    const candidates = await gapCandidates(db, tenantId, UNDECIDED_STATUSES, cutoff, afterId, page.pageSize);
    if (candidates.length === 0) break;
    afterId = candidates.at(-1)?.id ?? null;
    const due = candidates.filter((c) => inGap({ status: c.status, decidedAt: c.decidedAt, outcomes: 0 }, now, afterHours));
    if (due.length > 0)
      flagged += await inTransaction(db, async (tx) => {
        const at = clock.now();
        const inserted = await insertGapsOnce(
          tx,
          tenantId,
          due.map((c) => c.id),
          at,
        );
        const entries = due
          .filter((c) => inserted.has(c.id))
          .map((c) => ({
            accountId: c.accountId,
            correlationId: c.correlationId,
            type: "NORMALIZATION_MISSING" as const,
            actor: NORMALIZER,
            payload: { action_intent_id: c.id, status: c.status, decided_at: c.decidedAt.toISOString(), after_hours: afterHours },
          }));
        await appendLedgerBatch(tx, tenantId, entries, at);
        return entries.length;
      });
    if (candidates.length < page.pageSize) break;
  }
  return flagged;
}

export interface NormalizationGapView {
  after_hours: number;
  /** decided intents of the viewer's without any outcome `after_hours` or more after their decision, now */
  gap: number;
  oldest_decided_at: string | null;
  /** the flagged (ledgered) ones still without an outcome, newest decision first, at most 100 */
  items: { action_intent_id: string; account_id: string; status: string; decided_at: string | null; flagged_at: string }[];
}

/**
 * The normalisation gap of the viewer's tenant (a seller: their own accounts). `gap` is counted
 * live at `clock`'s now; `items` are what the job has flagged and ledgered, so an intent that
 * became overdue since its last tick is counted before it is listed.
 */
export async function normalizationGap(db: DbOrTx, viewer: Viewer, clock: Clock): Promise<NormalizationGapView> {
  const { settings } = await loadLearningSettings(db, viewer.tenantId);
  const afterHours = settings.missing_after_hours;
  const [summary, items] = await Promise.all([
    gapSummary(db, viewer, UNDECIDED_STATUSES, gapCutoff(clock.now(), afterHours)),
    openGaps(db, viewer, 100),
  ]);
  return {
    after_hours: afterHours,
    gap: summary.gap,
    oldest_decided_at: summary.oldestDecidedAt?.toISOString() ?? null,
    items: items.map((i) => ({
      action_intent_id: i.intentId,
      account_id: i.accountId,
      status: i.status,
      decided_at: i.decidedAt?.toISOString() ?? null,
      flagged_at: i.flaggedAt.toISOString(),
    })),
  };
}
