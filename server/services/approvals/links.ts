import type { Db } from "../../db";
import { linkKeyFrom, newLinkId, signLink } from "../../engine/links";
import { type ApprovalLinkPurpose, insertApprovalLink } from "../../repos/approvalLinks";
import type { ConnectorDeps } from "../executor";

/** The signing key for links, or null when the server has no secret to derive it from. */
export function linkKey(connectors: Pick<ConnectorDeps, "secretKey">): Buffer | null {
  return connectors.secretKey ? linkKeyFrom(connectors.secretKey) : null;
}

export function publicOrigin(connectors: Pick<ConnectorDeps, "publicUrl">): string {
  return (connectors.publicUrl ?? "http://localhost:3000").replace(/\/+$/, "");
}

/**
 * A one-time link that approves or rejects one waiting intent without signing in (the digest
 * email, the approval webhook message). Null when no signing key is configured: the message then
 * goes out without links rather than with links that could not be verified.
 */
export async function mintApprovalLink(
  db: Db,
  connectors: Pick<ConnectorDeps, "secretKey" | "publicUrl">,
  link: { tenantId: string; intentId: string; purpose: ApprovalLinkPurpose; recipientUserId: string | null },
  now: Date,
): Promise<{ token: string; url: string; approveUrl: string; rejectUrl: string } | null> {
  const key = linkKey(connectors);
  if (!key) return null;
  const id = newLinkId();
  await insertApprovalLink(db, { id, ...link }, now);
  const token = signLink(key, "approval", id);
  const url = `${publicOrigin(connectors)}/approve/${token}`;
  return { token, url, approveUrl: `${url}?decision=approve`, rejectUrl: `${url}?decision=reject` };
}
