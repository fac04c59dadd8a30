import type { Clock } from "../../clock";
import type { Db, DbOrTx } from "../../db";
import { type DigestFacts, digestConfigured } from "../../engine/alwaysOn";
import { nextSendAt } from "../../engine/digest";
import { badRequest, notFound } from "../../errors";
import { withConfigWrite } from "../../repos/autonomy";
import { findDigestSettings, memberRole, upsertDigestSettings, userEmail } from "../../repos/digest";
import { appendLedger } from "../../repos/ledger";
import type { Viewer } from "../../repos/scope";
import type { DigestSettingsPatch } from "../../schemas/digest";

export interface DigestSettingsView {
  user_id: string;
  enabled: boolean;
  email: string;
  hour_local: number;
  timezone: string;
  /** the settings would reach somebody (enabled, address, hour, zone): the always-on condition */
  configured: boolean;
  next_send_at: string | null;
  updated_at: string | null;
}

/** Nothing stored yet: off, to the user's sign-in address, at 08:00 UTC. */
async function current(db: DbOrTx, tenantId: string, userId: string): Promise<DigestFacts & { updatedAt: Date | null }> {
  const row = await findDigestSettings(db, tenantId, userId);
  if (row) return { enabled: row.enabled, email: row.email, hourLocal: row.hourLocal, timezone: row.timezone, updatedAt: row.updatedAt };
  const user = await userEmail(db, userId);
  return { enabled: false, email: user?.email ?? "", hourLocal: 8, timezone: "UTC", updatedAt: null };
}

function view(userId: string, s: DigestFacts & { updatedAt: Date | null }, now: Date): DigestSettingsView {
  return {
    user_id: userId,
    enabled: s.enabled,
    email: s.email,
    hour_local: s.hourLocal,
    timezone: s.timezone,
    configured: digestConfigured(s),
    next_send_at: nextSendAt(s, now)?.toISOString() ?? null,
    updated_at: s.updatedAt?.toISOString() ?? null,
  };
}

/**
 * Whose settings the viewer may read or write: their own; an admin (or an admin API key) any
 * member of the tenant. Anyone else's, or a user of another tenant, is not found.
 */
async function target(db: Db, viewer: Viewer, userId: string | undefined, write: boolean): Promise<string> {
  const id = userId ?? viewer.userId;
  if (!id) throw badRequest("user_id", "user_id is required: an API key has no user of its own");
  const mayOthers = viewer.role === "ADMIN" || viewer.role === null || (!write && viewer.role === "AUDITOR");
  if (id !== viewer.userId && !mayOthers) throw notFound("User");
  if (!(await memberRole(db, viewer.tenantId, id))) throw notFound("User");
  return id;
}

export async function digestSettingsFor(db: Db, viewer: Viewer, userId: string | undefined, now: Date): Promise<DigestSettingsView> {
  const id = await target(db, viewer, userId, false);
  return view(id, await current(db, viewer.tenantId, id), now);
}

/**
 * Digest settings are one of the always-on conditions the gate reads (a configured digest for the
 * account's owner), so they are written like autonomy configuration: through withConfigWrite
 * (the gate's cached configuration is invalidated) and ledgered CONFIG_CHANGED with before/after.
 */
export async function saveDigestSettings(
  db: Db,
  viewer: Viewer,
  userId: string | undefined,
  patch: DigestSettingsPatch,
  clock: Clock,
): Promise<DigestSettingsView> {
  const id = await target(db, viewer, userId, true);
  const saved = await withConfigWrite(db, viewer.tenantId, async (tx) => {
    const now = clock.now();
    const before = await current(tx, viewer.tenantId, id);
    const after: DigestFacts = {
      enabled: patch.enabled ?? before.enabled,
      email: patch.email ?? before.email,
      hourLocal: patch.hour_local ?? before.hourLocal,
      timezone: patch.timezone ?? before.timezone,
    };
    if (after.enabled && !digestConfigured(after)) throw badRequest("email", "email: an enabled digest needs an email address");
    await upsertDigestSettings(tx, { tenantId: viewer.tenantId, userId: id }, { ...after, updatedBy: viewer.actor.id, updatedAt: now });
    const shape = (s: DigestFacts) => ({ enabled: s.enabled, email: s.email, hour_local: s.hourLocal, timezone: s.timezone });
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        payload: { change: "digest_settings", user_id: id, before: before.updatedAt ? shape(before) : null, after: shape(after) },
      },
      now,
    );
    return { ...after, updatedAt: now };
  });
  return view(id, saved, clock.now());
}
