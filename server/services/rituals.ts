import { randomUUID } from "node:crypto";
import { Cron } from "croner";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { DEFAULT_CADENCES, RITUALS, type Ritual } from "../engine/triggers";
import { badRequest } from "../errors";
import { appendLedger } from "../repos/ledger";
import {
  claimSlot,
  enabledCadences,
  findCadence,
  listCadenceRows,
  overriddenAccounts,
  ritualAccounts,
  upsertCadence,
} from "../repos/rituals";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { loadDecisionSettings } from "./decisionSettings";
import { requireTenantAccount } from "./guards";
import { recordTriggerEvent } from "./signals";

/**
 * Time rituals (SPEC §4.3): per-tenant (and per-account) cron cadences that open
 * TIME_RITUAL_* trigger windows. Each slot is claimed once with a conditional update of
 * `lastSlot`, so overlapping scheduler ticks, cron routes and instances never double-fire it.
 */

/** Which accounts a tenant-wide ritual covers. */
const SCOPE: Record<Ritual, { lifecycle?: string }> = {
  TIME_RITUAL_DAILY_BRIEF: {},
  TIME_RITUAL_WEEKLY_REVIEW: {},
  TIME_RITUAL_RENEWAL_RUNWAY: { lifecycle: "CUSTOMER" },
};

export function validateCron(expr: string, timezone: string) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw badRequest("timezone", `Unknown time zone "${timezone}" (use an IANA name such as Europe/Berlin)`);
  }
  try {
    const next = new Cron(expr, { timezone, paused: true }).nextRun(new Date());
    if (!next) throw new Error("never runs");
  } catch (err) {
    throw badRequest("cron", `Not a valid schedule: ${err instanceof Error ? err.message : "invalid"}`);
  }
}

export async function listCadences(db: Db, viewer: Viewer) {
  const rows = await listCadenceRows(db, viewer.tenantId);
  const tenantRows = new Map(rows.filter((r) => r.accountKey === "").map((r) => [r.ritual, r]));
  return {
    tenant: RITUALS.map((ritual) => {
      const r = tenantRows.get(ritual);
      return {
        ritual,
        cron: r?.cron ?? DEFAULT_CADENCES[ritual],
        timezone: r?.timezone ?? "UTC",
        enabled: r?.enabled ?? false,
        configured: !!r,
        lastSlot: r?.lastSlot ?? null,
      };
    }),
    accounts: rows
      .filter((r) => r.accountKey !== "")
      .map((r) => ({
        accountId: r.accountKey,
        ritual: r.ritual,
        cron: r.cron,
        timezone: r.timezone,
        enabled: r.enabled,
        lastSlot: r.lastSlot,
      })),
  };
}

export async function setCadence(
  db: Db,
  viewer: Viewer,
  input: { accountId?: string; ritual: Ritual; cron: string; timezone: string; enabled: boolean },
  clock: Clock,
) {
  validateCron(input.cron, input.timezone);
  const accountKey = input.accountId ? await requireTenantAccount(db, viewer.tenantId, input.accountId) : "";
  return inTransaction(db, async (tx) => {
    const now = clock.now();
    const before = await findCadence(tx, viewer.tenantId, accountKey, input.ritual);
    // A new or re-enabled cadence starts from now: it never back-fills missed slots.
    const data = {
      cron: input.cron,
      timezone: input.timezone,
      enabled: input.enabled,
      updatedBy: viewer.actor.id,
      updatedAt: now,
      ...(!before?.enabled && input.enabled ? { lastSlot: now } : {}),
    };
    const after = await upsertCadence(tx, viewer.tenantId, accountKey, input.ritual, data, now);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        accountId: accountKey || null,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: {
          change: "ritual_cadence",
          ritual: input.ritual,
          account_id: accountKey || null,
          before: before ? { cron: before.cron, timezone: before.timezone, enabled: before.enabled } : null,
          after: { cron: after.cron, timezone: after.timezone, enabled: after.enabled },
        },
      },
      now,
    );
    return after;
  });
}

/** Open the trigger windows of every ritual slot that came due since it last ran. */
export async function runRitualTick(db: Db, clock: Clock) {
  const now = clock.now();
  let slots = 0;
  let events = 0;
  for (const c of await enabledCadences(db)) {
    const from = c.lastSlot ?? c.updatedAt;
    const next = new Cron(c.cron, { timezone: c.timezone, paused: true }).nextRun(from);
    if (!next || next > now) continue;
    // Catch up at most one slot: a scheduler that was down for a week runs the ritual once.
    if (!(await claimSlot(db, c.id, c.lastSlot, now))) continue;
    slots += 1;
    const ritual = c.ritual as Ritual;
    // An account with its own cadence for this ritual (on or off) follows that one instead.
    const accounts = c.accountKey
      ? [{ id: c.accountKey }]
      : await ritualAccounts(db, c.tenantId, {
          lifecycle: SCOPE[ritual]?.lifecycle,
          exclude: await overriddenAccounts(db, c.tenantId, c.ritual),
        });
    const settings = (await loadDecisionSettings(db, c.tenantId)).triggers;
    for (const a of accounts) {
      await inTransaction(db, (tx) =>
        recordTriggerEvent(
          tx,
          c.tenantId,
          a.id,
          ritual,
          { ritual, slot: next.toISOString() },
          // No signal behind a ritual: each account's window is a story of its own.
          randomUUID(),
          { type: "SYSTEM", id: "scheduler" },
          settings,
          now,
        ),
      );
      events += 1;
    }
  }
  return { ok: true, slots, events };
}
