import type { Clock } from "@/server/clock";
import type { Db } from "@/server/db";
import { submitIntent } from "@/server/services/gate";
import { rejectIntent } from "@/server/services/reviews";
import type { TestTenant, TestUser } from "./factory";
import { approveAndRun, intent } from "./gate";

/**
 * A judged history made through the production paths (SPEC §4.5 bar: "sellers reject type X and
 * approve type Y"): each proposal enters through the gate (`submitIntent`, so its feature snapshot
 * is the gate's), waits for approval, and the owning seller approves, edits-then-approves or
 * rejects it (`approveIntent` / `rejectIntent`, so executions and outcomes are the real ones).
 *
 * Time is the caller's: day d's proposals are made at `start` + d days, a minute apart, so each
 * seller's day is one top-K group of the learning engine.
 */
export type Verdict = "approve" | "edit" | "reject";

export interface JudgedKind {
  actionType: string;
  verdict: Verdict;
  /** proposals of this kind per seller per day (default 1) */
  perDay?: number;
  confidence?: number;
}

export interface JudgedIntent {
  id: string;
  actionType: string;
  verdict: Verdict;
  ownerId: string;
  at: Date;
}

export interface JudgedHistory {
  intents: JudgedIntent[];
  counts: Record<Verdict, number>;
}

const DAY = 86_400_000;

export async function seedJudgedHistory(
  db: Db,
  tenant: TestTenant,
  opts: { start: Date; days: number; kinds: JudgedKind[]; sellers?: ("seller" | "seller2")[] },
): Promise<JudgedHistory> {
  const out: JudgedHistory = { intents: [], counts: { approve: 0, edit: 0, reject: 0 } };
  let at = opts.start.getTime();
  const clock: Clock = { now: () => new Date(at) };
  const deps = { db, clock, connectors: { smtp: null } };
  for (let day = 0; day < opts.days; day++) {
    for (const who of opts.sellers ?? ["seller", "seller2"]) {
      const seller: TestUser = tenant[who];
      const accounts = tenant.accounts[who];
      let n = 0;
      at = opts.start.getTime() + day * DAY;
      for (const kind of opts.kinds) {
        for (let i = 0; i < (kind.perDay ?? 1); i++, n++) {
          at += 60_000;
          const accountId = accounts[n % accounts.length] as string;
          const proposed = await submitIntent(
            deps,
            seller.viewer,
            intent(accountId, {
              actionType: kind.actionType,
              confidence: kind.confidence ?? 0.8,
              parameters: { title: `${kind.actionType} day ${day} #${n}` },
              source: "DECISION",
              signalTypes: ["USAGE_DROP"],
              trigger: "TIME_RITUAL_DAILY_BRIEF",
            }),
          );
          if (proposed.status !== "PENDING_APPROVAL") throw new Error(`expected PENDING_APPROVAL, got ${proposed.status}`);
          at += 1000;
          const id = proposed.actionIntentId;
          if (kind.verdict === "reject") await rejectIntent(deps, seller.viewer, id, { reason: "not useful for this account" });
          else if (kind.verdict === "edit")
            await approveAndRun(deps, seller.viewer, id, { editedParameters: { title: `edited ${day} #${n}` } });
          else await approveAndRun(deps, seller.viewer, id, {});
          out.intents.push({ id, actionType: kind.actionType, verdict: kind.verdict, ownerId: seller.id, at: new Date(at) });
          out.counts[kind.verdict]++;
        }
      }
    }
  }
  return out;
}
