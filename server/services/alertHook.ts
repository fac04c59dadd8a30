import type { Clock } from "../clock";
import type { Db } from "../db";
import { ALERT_HOOK_SCOPES, type AlertHookScope, alertReason } from "../engine/alertHook";
import type { KillSwitchScope } from "../engine/autonomy";
import { newLinkId, signLink, verifyLink } from "../engine/links";
import { AppError, badRequest, notFound } from "../errors";
import { findAlertHookById, findAlertHookForTenant, markAlertHookUsed, replaceAlertHook } from "../repos/alertHook";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { linkKey, publicOrigin } from "./approvals/links";
import { killSwitchKey, putKillSwitch } from "./autonomyConfig";
import type { ConnectorDeps } from "./executor";

/**
 * The tenant's alert hook (SPEC §4.6, §5.1 `POST /api/v1/hooks/kill-switch[/:token]`): a signed
 * URL a monitoring tool POSTs to, which turns one configured kill switch on with the alert's text
 * as the reason. The URL is the credential: shown once when an admin creates or rotates it,
 * never stored (only its id is), never ledgered.
 */

type Connectors = Pick<ConnectorDeps, "secretKey" | "publicUrl">;

export async function getAlertHook(db: Db, viewer: Viewer) {
  const hook = await findAlertHookForTenant(db, viewer.tenantId);
  if (!hook) return { exists: false as const };
  return {
    exists: true as const,
    scope: hook.scope as AlertHookScope,
    key: hook.key || null,
    createdAt: hook.createdAt,
    createdBy: hook.createdBy,
    lastUsedAt: hook.lastUsedAt,
  };
}

/**
 * Create the hook, or rotate it: a new id, so the previous URL answers 404 from this commit on.
 * 422 when the server has no secret to sign with — a URL that could not be verified is no use.
 */
export async function rotateAlertHook(
  db: Db,
  connectors: Connectors,
  viewer: Viewer,
  input: { scope: AlertHookScope; key?: string | null },
  clock: Clock,
) {
  if (!(ALERT_HOOK_SCOPES as readonly string[]).includes(input.scope))
    throw badRequest("scope", "An alert hook turns on a TENANT, ACTION_TYPE or CONNECTOR kill switch");
  if (input.scope === "TENANT" && input.key) throw badRequest("key", "The TENANT kill switch takes no key");
  const key = killSwitchKey(input.scope, input.key ?? undefined);
  const signing = linkKey(connectors);
  if (!signing)
    throw new AppError(
      "UNPROCESSABLE",
      "No signing key is configured (CONNECTOR_SECRET_KEY or BETTER_AUTH_SECRET), so a hook URL could not be verified",
      undefined,
      "NO_SIGNING_KEY",
    );
  const id = newLinkId();
  const now = clock.now();
  const hook = await inTransaction(db, async (tx) => {
    const change = await replaceAlertHook(tx, { tenantId: viewer.tenantId, id, scope: input.scope, key, createdBy: viewer.actor.id }, now);
    const view = (h: { scope: string; key: string } | null) => (h ? { scope: h.scope, key: h.key || null } : null);
    await appendLedger(
      tx,
      {
        tenantId: viewer.tenantId,
        type: "CONFIG_CHANGED",
        actor: viewer.actor,
        // The token never enters the ledger: it is the credential, and the ledger is readable by auditors.
        payload: { change: "alert_hook", before: view(change.before), after: { ...view(change.after), rotated: change.before !== null } },
      },
      now,
    );
    return change.after;
  });
  const token = signLink(signing, "alert-hook", id);
  return {
    url: `${publicOrigin(connectors)}/api/v1/hooks/kill-switch/${token}`,
    token,
    scope: hook.scope as AlertHookScope,
    key: hook.key || null,
    createdAt: hook.createdAt,
  };
}

/**
 * An alert arrived. The token is checked before the body is read, so a wrong or rotated URL costs
 * no body read and writes nothing (404 either way — no hint which). The switch goes on through
 * the same write path as the admin's toggle (withConfigWrite: the next evaluation sees it), with
 * the hook as actor. A switch already on stays as it is: a person's reason is not overwritten by
 * a repeating alert, and no new ledger entry is written (`alreadyOn: true`).
 */
export async function fireAlertHook(db: Db, connectors: Connectors, token: string, readBody: () => Promise<string>, clock: Clock) {
  const signing = linkKey(connectors);
  const id = signing ? verifyLink(signing, "alert-hook", token) : null;
  const hook = id ? await findAlertHookById(db, id) : null;
  if (!hook) throw notFound("Alert hook");
  const reason = alertReason(await readBody());
  const viewer: Viewer = { tenantId: hook.tenantId, actor: { type: "SYSTEM", id: `alert-hook:${hook.id}` }, role: null, userId: null };
  const scope = hook.scope as KillSwitchScope;
  const result = await putKillSwitch(db, viewer, { scope, key: hook.key || undefined, enabled: true, reason }, clock, { keepIfOn: true });
  await markAlertHookUsed(db, hook.id, clock.now());
  return { scope, key: hook.key || null, alreadyOn: "alreadyOn" in result };
}
