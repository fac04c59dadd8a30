import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import {
  computeHeat,
  DEFAULT_HEAT_SETTINGS,
  type HeatReading,
  type HeatSettings,
  type HeatSignal,
  heatExplanation,
  heatSignalsFrom,
  readHeat,
} from "../engine/heat";
import type { Actor } from "../engine/ledger";
import { notFound } from "../errors";
import {
  deleteHeatRows,
  type HeatKey,
  type HeatWrite,
  heatAccounts,
  heatOf,
  heatRollups,
  heatSignals,
  heatTierCounts,
  heatWorkPage,
  hottestAccounts,
  lockHeatPage,
  type RollupWrite,
  SCORE_UNITS,
  writeHeat,
  writeRollups,
} from "../repos/heat";
import { appendLedgerBatch, type LedgerAppend } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { requireViewerAccount } from "./guards";

/**
 * The `heat` job (SPEC §4.4): recompute only the accounts whose inputs changed (dirty) or whose
 * tier could change by the passage of time alone (recheckAt due). Per page of rows and tenant:
 * lock the rows, read their posture and only the signals received since each was last computed,
 * let the engine decide, then write heat, daily rollups and HEAT_TIER_CHANGED in one transaction.
 */
export interface HeatDeps {
  db: Db;
  clock: Clock;
  /** engine defaults unless given (tenant-editable settings come later) */
  settings?: HeatSettings;
  /** rows per page and transaction */
  batchSize?: number;
}

const SYSTEM: Actor = { type: "SYSTEM", id: "heat" };
const roundScore = (x: number) => Math.round(x * SCORE_UNITS) / SCORE_UNITS;

export async function runHeatTick(deps: HeatDeps) {
  const settings = deps.settings ?? DEFAULT_HEAT_SETTINGS;
  const batch = deps.batchSize ?? 1000;
  const now = deps.clock.now();
  const summary = { ok: true, computed: 0, tierChanges: 0, pages: 0 };
  let after: HeatKey | null = null;
  for (;;) {
    const page = await heatWorkPage(deps.db, now, after, batch);
    if (page.length === 0) break;
    summary.pages += 1;
    after = page.at(-1) ?? null;
    const byTenant = new Map<string, string[]>();
    for (const k of page) byTenant.set(k.tenantId, [...(byTenant.get(k.tenantId) ?? []), k.accountId]);
    for (const [tenantId, ids] of byTenant) {
      const r = await computeTenantPage(deps.db, tenantId, ids, now, settings);
      summary.computed += r.computed;
      summary.tierChanges += r.tierChanges;
    }
    if (page.length < batch) break;
  }
  return summary;
}

async function computeTenantPage(db: Db, tenantId: string, ids: string[], now: Date, settings: HeatSettings) {
  return inTransaction(db, async (tx) => {
    // Read under the lock: another tick may have computed some of these meanwhile.
    const rows = (await lockHeatPage(tx, tenantId, ids)).filter((r) => r.dirtyAt !== null || (r.recheckAt && r.recheckAt <= now));
    if (rows.length === 0) return { computed: 0, tierChanges: 0 };
    const orphans = rows.filter((r) => !r.account).map((r) => r.accountId);
    if (orphans.length) await deleteHeatRows(tx, tenantId, orphans);
    const live = rows.filter((r) => r.account);
    const from = new Map(live.map((r) => [r.accountId, heatSignalsFrom(r, now, settings)]));
    const signals = await loadSignals(tx, tenantId, from, now);

    const writes: HeatWrite[] = [];
    const rollups: RollupWrite[] = [];
    const ledger: Omit<LedgerAppend, "tenantId">[] = [];
    for (const row of live) {
      const account = row.account;
      if (!account) continue;
      const c = computeHeat({
        previous: row,
        posture: account.posture,
        accountCreatedAt: account.createdAt,
        signals: signals.get(row.accountId) ?? [],
        now,
        settings,
      });
      writes.push({
        accountId: row.accountId,
        score: roundScore(c.score),
        tier: c.tier,
        since: c.since,
        mass: c.mass,
        recent: c.recent,
        pendingTier: c.pendingTier,
        pendingSince: c.pendingSince,
        computedAt: now,
        recheckAt: c.recheckAt,
        // A mark later than this tick's clock is an input not folded yet: keep it.
        clearDirtyAt: row.dirtyAt && row.dirtyAt <= now ? row.dirtyAt : null,
      });
      for (const d of c.days) {
        rollups.push({
          accountId: row.accountId,
          day: d.day,
          maxScore: roundScore(d.maxScore),
          lastScore: roundScore(d.lastScore),
          tier: d.tier,
        });
      }
      for (const ch of c.changes) {
        ledger.push({
          accountId: row.accountId,
          type: "HEAT_TIER_CHANGED",
          actor: SYSTEM,
          payload: {
            from: ch.from,
            to: ch.to,
            score: roundScore(ch.score),
            previous_score: roundScore(row.score),
            signals_in_window: ch.signalsInWindow,
            window_hours: settings.promotionWindowHours,
            rule: ch.rule,
            held_since: ch.heldSince?.toISOString() ?? null,
            at: ch.at.toISOString(),
          },
        });
      }
    }
    await writeHeat(tx, tenantId, writes);
    await writeRollups(tx, tenantId, rollups);
    await appendLedgerBatch(tx, tenantId, ledger, now);
    return { computed: writes.length, tierChanges: ledger.length };
  });
}

/**
 * Signals per account received in (from[account], now]. Rows folding incrementally share one
 * query from their earliest watermark; rows being rebuilt (new, or a late commit) another.
 */
async function loadSignals(tx: Tx, tenantId: string, from: Map<string, Date>, now: Date) {
  const out = new Map<string, HeatSignal[]>();
  const groups = new Map<boolean, string[]>();
  const horizonish = now.getTime() - 86_400_000;
  for (const [id, f] of from) {
    // A watermark more than a day back is a rebuild (or a long-idle row): keep it from dragging
    // the recent rows' query window back with it.
    const key = f.getTime() < horizonish;
    groups.set(key, [...(groups.get(key) ?? []), id]);
  }
  for (const ids of groups.values()) {
    const min = new Date(Math.min(...ids.map((id) => (from.get(id) as Date).getTime())));
    for (const s of await heatSignals(tx, tenantId, ids, min, now)) {
      if (s.receivedAt <= (from.get(s.accountId) as Date)) continue;
      const list = out.get(s.accountId) ?? [];
      list.push(s);
      out.set(s.accountId, list);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reads

/** Heat for a page of accounts as the product shows it: no row yet means COLD, 0, since creation. */
export async function heatForAccounts<A extends { id: string; tenantId: string; createdAt: Date }>(
  db: Db,
  tenantId: string,
  accounts: A[],
) {
  const rows = await heatOf(
    db,
    tenantId,
    accounts.map((a) => a.id),
  );
  return accounts.map((a) => ({ ...a, heat: readHeat(rows.get(a.id), a.createdAt) as HeatReading }));
}

export async function heatDistribution(db: Db, viewer: Viewer) {
  const counts = await heatTierCounts(db, viewer);
  const tiers = { HOT: 0, WARM: 0, COLD: 0 };
  for (const c of counts) if (c.tier === "HOT" || c.tier === "WARM" || c.tier === "COLD") tiers[c.tier] += c.count;
  return { tiers, explanation: heatExplanation(DEFAULT_HEAT_SETTINGS), thresholds: DEFAULT_HEAT_SETTINGS.thresholds };
}

export function hottest(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }) {
  return hottestAccounts(db, viewer, page);
}

/** An account's heat over time (daily UTC rollups) with its current heat; sellers: own accounts. */
export async function accountHeatHistory(db: Db, viewer: Viewer, accountId: string, days: number, now: Date) {
  await requireViewerAccount(db, viewer, accountId);
  const [account] = await heatAccounts(db, viewer.tenantId, [accountId]);
  if (!account) throw notFound("Account");
  const current = (await heatOf(db, viewer.tenantId, [accountId])).get(accountId);
  const fromDay = new Date(now.getTime() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  const rollups = await heatRollups(db, viewer.tenantId, accountId, fromDay);
  return { current: readHeat(current, account.createdAt), rollups };
}

/** `GET /api/v1/perception/heat`: the tier counts and a page of the hottest accounts. */
export async function heatOverview(db: Db, viewer: Viewer, page: { limit: number; cursor?: string }) {
  const [distribution, list] = await Promise.all([heatDistribution(db, viewer), hottestAccounts(db, viewer, page)]);
  return { tiers: distribution.tiers, items: list.items, nextCursor: list.nextCursor };
}
