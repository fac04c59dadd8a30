import { approvalExpiresAt } from "../../engine/approvals";
import { verifyLink } from "../../engine/links";
import { readStoredJson } from "../../engine/storedJson";
import { AppError, notFound } from "../../errors";
import { accountNames } from "../../repos/accounts";
import { claimApprovalLink, findApprovalLink } from "../../repos/approvalLinks";
import { findIntent } from "../../repos/intents";
import type { Viewer } from "../../repos/scope";
import type { GateDeps } from "../gate";
import { approveIntent, type LinkDecision, rejectIntent } from "../reviews";
import { linkKey } from "./links";
import { loadApprovalSettings } from "./settings";

/**
 * Deciding through a signed one-time link (SPEC §4.6, §5.1 `/approve/:token`): the token is the
 * whole credential, so everything about it is checked before anything is written.
 *  - not signed by this server, or no such link → 404 (nothing tells a forger what exists);
 *  - used, expired, or its intent no longer waiting → 410, and nothing changes.
 * The decision itself is the human path (reviews.ts) with the link claimed inside the same
 * transaction that moves the intent, so of any number of concurrent requests one decides.
 */

export const LINK_GONE_CODES = ["LINK_USED", "APPROVAL_EXPIRED", "INTENT_ALREADY_DECIDED"] as const;
export type LinkGoneCode = (typeof LINK_GONE_CODES)[number];

const GONE_MESSAGES: Record<LinkGoneCode, string> = {
  LINK_USED: "This link has already been used",
  APPROVAL_EXPIRED: "This approval request has expired",
  INTENT_ALREADY_DECIDED: "This action has already been decided",
};

export type LinkState =
  | { kind: "GONE"; code: LinkGoneCode; message: string }
  | {
      kind: "OPEN";
      intent: {
        id: string;
        actionType: string;
        accountName: string;
        why: string[];
        explanation: string | null;
        parameters: unknown;
        expiresAt: Date | null;
      };
    };

const gone = (code: LinkGoneCode) => ({ kind: "GONE" as const, code, message: GONE_MESSAGES[code] });

async function resolve(deps: GateDeps, token: string) {
  const key = linkKey(deps.connectors);
  const id = key ? verifyLink(key, "approval", token) : null;
  const link = id ? await findApprovalLink(deps.db, id) : null;
  // The signed id names its tenant through the stored row: the intent is read in that tenant only.
  const intent = link ? await findIntent(deps.db, link.tenantId, link.intentId) : null;
  if (!link || !intent) throw notFound("Link");
  return { link, intent };
}

/** The link, its intent and what it can still do; throws NOT_FOUND for a token that is not a link. */
async function check(deps: GateDeps, token: string) {
  const { link, intent } = await resolve(deps, token);
  const state = async (): Promise<LinkState> => {
    if (link.usedAt) return gone("LINK_USED");
    if (intent.status !== "PENDING_APPROVAL") return gone("INTENT_ALREADY_DECIDED");
    const settings = await loadApprovalSettings(deps.db, link.tenantId);
    const expiresAt = approvalExpiresAt(intent, settings);
    if (expiresAt && deps.clock.now().getTime() >= expiresAt.getTime()) return gone("APPROVAL_EXPIRED");
    const why = readStoredJson(intent.why);
    return {
      kind: "OPEN",
      intent: {
        id: intent.id,
        actionType: intent.actionType,
        accountName: (await accountNames(deps.db, link.tenantId, [intent.accountId])).get(intent.accountId) ?? "Unknown account",
        why: Array.isArray(why) ? why.map(String) : [],
        explanation: intent.explanation,
        parameters: readStoredJson(intent.parameters),
        expiresAt,
      },
    };
  };
  return { link, intent, state: await state() };
}

/** What the `/approve/:token` page shows; throws NOT_FOUND for a token that is not a link. */
export async function inspectLink(deps: GateDeps, token: string): Promise<LinkState> {
  return (await check(deps, token)).state;
}

export type LinkDecisionResult =
  | { ok: true; decision: "approve" | "reject"; actionIntentId: string; status: string }
  | { ok: false; code: LinkGoneCode; message: string };

/** Thrown inside the deciding transaction when another request used the link first: rolls it back. */
class LinkAlreadyUsed extends AppError {
  constructor() {
    super("CONFLICT", GONE_MESSAGES.LINK_USED, undefined, "LINK_USED");
  }
}

export async function decideByLink(
  deps: GateDeps,
  token: string,
  body: { decision: "approve" | "reject"; reason?: string },
): Promise<LinkDecisionResult> {
  const { link, intent, state } = await check(deps, token);
  if (state.kind === "GONE") return { ok: false, code: state.code, message: state.message };
  // Who decided: the digest's recipient (the email went only to them); for a webhook link nobody
  // is known, so the link itself is the actor — never a person who did not act.
  const viewer: Viewer =
    link.purpose === "DIGEST" && link.recipientUserId
      ? { tenantId: link.tenantId, actor: { type: "USER", id: link.recipientUserId }, role: null, userId: link.recipientUserId }
      : { tenantId: link.tenantId, actor: { type: "SYSTEM", id: `approval-link:${link.id}` }, role: null, userId: null };
  const decision = body.decision === "approve" ? "APPROVE" : "REJECT";
  const via: LinkDecision = {
    via: "LINK",
    linkId: link.id,
    claim: async (tx) => {
      if (!(await claimApprovalLink(tx, link.id, decision, deps.clock.now()))) throw new LinkAlreadyUsed();
    },
  };
  try {
    const v =
      body.decision === "approve"
        ? await approveIntent(deps, viewer, intent.id, { reason: body.reason, link: via })
        : await rejectIntent(deps, viewer, intent.id, { reason: body.reason ?? "Rejected from a one-time link", link: via });
    return { ok: true, decision: body.decision, actionIntentId: intent.id, status: v.status };
  } catch (err) {
    // Another request decided first (through this link or anyone else): nothing was written here.
    if (!(err instanceof AppError) || err.code !== "CONFLICT") throw err;
    const after = await findApprovalLink(deps.db, link.id);
    const code: LinkGoneCode = after?.usedAt ? "LINK_USED" : "INTENT_ALREADY_DECIDED";
    return { ok: false, code, message: GONE_MESSAGES[code] };
  }
}
