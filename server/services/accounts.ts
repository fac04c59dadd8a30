import { randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import type { HeatReading } from "../engine/heat";
import { storedObject } from "../engine/storedJson";
import { badRequest, notFound } from "../errors";
import { type AccountFilter, type AccountPatch, findAccount, listAccounts, updateAccount } from "../repos/accounts";
import { markHeatDirty } from "../repos/heat";
import { appendLedger, listLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { findMembership } from "../repos/tenants";
import { inTransaction } from "../repos/tx";
import { loadDecisionSettings } from "./decisionSettings";
import { heatForAccounts } from "./heat";
import { recordTriggerEvent } from "./signals";

/** Accounts come with their heat as the `heat` job computed it (SPEC §5.1). */
export async function listVisibleAccounts(db: Db, viewer: Viewer, filter: AccountFilter, page: { limit: number; cursor?: string }) {
  const res = await listAccounts(db, viewer, filter, page);
  return { items: await heatForAccounts(db, viewer.tenantId, res.items), nextCursor: res.nextCursor };
}

export async function getVisibleAccount(db: Db, viewer: Viewer, id: string) {
  const account = await findAccount(db, viewer, id);
  // Another tenant's (or another seller's) account is indistinguishable from a missing one.
  if (!account) throw notFound("Account");
  const [withHeat] = await heatForAccounts(db, viewer.tenantId, [account]);
  return withHeat as NonNullable<typeof withHeat>;
}

const TRACKED: (keyof AccountPatch)[] = [
  "name",
  "domain",
  "industry",
  "lifecycle",
  "posture",
  "momentum",
  "arrCents",
  "ownerId",
  "externalId",
];

/** CRM-side update (REST PUT). Records before/after of the fields that changed. */
export async function updateCrmAccount(db: Db, viewer: Viewer, id: string, patch: AccountPatch, clock: Clock) {
  const now = clock.now();
  return inTransaction(db, async (tx) => {
    const before = await findAccount(tx, viewer, id);
    if (!before) throw notFound("Account");
    if (patch.ownerId) {
      if (!(await findMembership(tx, viewer.tenantId, patch.ownerId)))
        throw badRequest("owner_id", "owner_id is not a member of this tenant");
    }
    await applyAccountPatch(tx, viewer, before, patch, now);
    const after = await findAccount(tx, viewer, id);
    if (!after) throw notFound("Account");
    return after;
  }).then(async (after) => (await heatForAccounts(db, viewer.tenantId, [after]))[0] as NonNullable<typeof after> & { heat: HeatReading });
}

type TrackedFields = { id: string } & { [K in keyof AccountPatch]-?: AccountPatch[K] };

/**
 * Write the fields of `patch` that differ from `before`, with one ACCOUNT_UPDATED entry naming
 * before/after, and the posture / lifecycle decision triggers (posture is also an input of heat).
 * Nothing is written when nothing differs. Runs inside the caller's transaction; shared by the
 * REST PUT and the CSV import (`source: "import"`). Returns the changed fields.
 */
export async function applyAccountPatch(
  tx: Tx,
  viewer: Viewer,
  before: TrackedFields,
  patch: AccountPatch,
  now: Date,
  source?: "crm" | "import",
) {
  const id = before.id;
  const changed: Record<string, { before: unknown; after: unknown }> = {};
  for (const k of TRACKED) {
    if (patch[k] !== undefined && patch[k] !== before[k]) changed[k] = { before: before[k], after: patch[k] };
  }
  if (Object.keys(changed).length === 0) return changed;
  await updateAccount(tx, viewer, id, patch, now);
  // Posture is an input of heat. Marked before the ledger append: the heat job takes heat rows
  // first and the ledger head second, and every writer keeps that order (no deadlock).
  if (changed.posture) await markHeatDirty(tx, viewer.tenantId, id, now);
  const correlationId = randomUUID();
  await appendLedger(
    tx,
    {
      tenantId: viewer.tenantId,
      accountId: id,
      correlationId,
      type: "ACCOUNT_UPDATED",
      actor: viewer.actor,
      payload: { changed, ...(source ? { source } : {}) },
    },
    now,
  );
  // Posture and lifecycle moves are decision triggers, recorded with the change itself.
  const settings = changed.posture || changed.lifecycle ? (await loadDecisionSettings(tx, viewer.tenantId)).triggers : null;
  if (settings && changed.posture) {
    await recordTriggerEvent(
      tx,
      viewer.tenantId,
      id,
      "POSTURE_CHANGE",
      { posture: changed.posture },
      correlationId,
      viewer.actor,
      settings,
      now,
    );
  }
  if (settings && changed.lifecycle) {
    await recordTriggerEvent(
      tx,
      viewer.tenantId,
      id,
      "LIFECYCLE_STATE_CHANGE",
      { lifecycle: changed.lifecycle },
      correlationId,
      viewer.actor,
      settings,
      now,
    );
  }
  return changed;
}

/** An account's ledger history, for anyone who may see the account (sellers: their own). */
export async function accountActivity(db: Db, viewer: Viewer, id: string, page: { limit: number; cursor?: string }) {
  await getVisibleAccount(db, viewer, id);
  const res = await listLedger(db, viewer.tenantId, { accountId: id }, page);
  return {
    items: res.items.map((e) => ({
      id: e.id,
      seq: e.seq,
      type: e.type,
      actorType: e.actorType,
      actorId: e.actorId,
      payload: storedObject(e.payload),
      createdAt: e.createdAt,
      correlationId: e.correlationId,
    })),
    nextCursor: res.nextCursor,
  };
}
