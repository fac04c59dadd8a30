import { randomUUID } from "node:crypto";
import type { Clock } from "../../clock";
import type { Db } from "../../db";
import { decideFire, hourlyCapExceeded, runIdempotencyKey, type TriggerType } from "../../engine/triggers";
import {
  accountRunState,
  countFire,
  dueWindows,
  ensureRunState,
  findRunByKey,
  insertRun,
  takeWindow,
  windowSignalIds,
} from "../../repos/decisions";
import { appendLedger } from "../../repos/ledger";
import { inTransaction } from "../../repos/tx";
import { loadDecisionSettings } from "../decisionSettings";
import { enqueue } from "../jobQueue";
import { RUN_DECISION, SYSTEM } from "./shared";

/**
 * Fire every due trigger window once. The engine decides (debounce, cooldown, hourly caps); this
 * only persists: the caps are enforced by conditional counter updates, so a storm cannot exceed
 * them. TRIGGER_FIRED / TRIGGER_SUPPRESSED and the run carry the window's correlation id — its
 * first signal's — and the run records the exact signals the window gathered.
 */
export async function fireDueTriggers(db: Db, clock: Clock) {
  const now = clock.now();
  const summary = { fired: 0, suppressed: 0 };
  for (const w of await dueWindows(db, now)) {
    const settings = (await loadDecisionSettings(db, w.tenantId)).triggers;
    const outcome = await inTransaction(db, async (tx) => {
      if (!(await takeWindow(tx, w, now))) return null; // another ticker fired it, or a signal joined it since it was listed
      await ensureRunState(tx, w.tenantId, w.accountId);
      const state = await accountRunState(tx, w.tenantId, w.accountId);
      const type = w.triggerType as TriggerType;
      const signalIds = windowSignalIds(w);
      const base = { tenantId: w.tenantId, accountId: w.accountId, correlationId: w.correlationId || randomUUID(), actor: SYSTEM };
      let verdict = decideFire(
        { openedAt: w.openedAt, lastEventAt: w.lastEventAt, events: w.events },
        type,
        now,
        // The hourly counters are enforced below by conditional updates, not read here.
        { accountLastRunAt: state?.lastFiredAt ?? null, accountRunsThisHour: 0, tenantRunsThisHour: 0 },
        settings,
      );
      if (verdict.kind === "FIRE") {
        const capped = await countFire(tx, w.tenantId, w.accountId, verdict.hourKey, verdict.caps, now);
        if (capped) verdict = hourlyCapExceeded(capped, now, settings);
      }
      if (verdict.kind === "SUPPRESS") {
        await appendLedger(
          tx,
          {
            ...base,
            type: "TRIGGER_SUPPRESSED",
            payload: {
              trigger_type: type,
              reason: verdict.reason,
              explanation: verdict.explanation,
              coalesced_events: w.events,
              signal_ids: signalIds,
            },
          },
          now,
        );
        return "suppressed" as const;
      }
      const key = runIdempotencyKey(w.tenantId, w.accountId, type, w.openedAt);
      if (await findRunByKey(tx, w.tenantId, key)) return "suppressed" as const;
      const run = await insertRun(
        tx,
        {
          tenantId: w.tenantId,
          accountId: w.accountId,
          triggerType: type,
          idempotencyKey: key,
          correlationId: base.correlationId,
          signalIds,
        },
        now,
      );
      await appendLedger(
        tx,
        {
          ...base,
          type: "TRIGGER_FIRED",
          payload: { trigger_type: type, run_id: run.id, idempotency_key: key, coalesced_events: w.events, signal_ids: signalIds },
        },
        now,
      );
      await enqueue(tx, { tenantId: w.tenantId, kind: RUN_DECISION, payload: { runId: run.id }, dedupeKey: `run:${run.id}` }, clock);
      return "fired" as const;
    });
    if (outcome) summary[outcome] += 1;
  }
  return summary;
}
