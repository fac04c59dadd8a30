import type { Clock } from "../../clock";
import { sendMail } from "../../connectors/email";
import type { Db } from "../../db";
import { DIGEST_LIST_CAP, type DigestRunStatus, digestDue } from "../../engine/digest";
import { redactText } from "../../engine/redact";
import { internalMessage, isUniqueViolation, reportUnexpected } from "../../errors";
import {
  findDigestRun,
  finishDigestRun,
  insertDigestRun,
  listEnabledDigestSettings,
  memberRole,
  reclaimFailedDigestRun,
  userEmail,
} from "../../repos/digest";
import { appendLedger } from "../../repos/ledger";
import { inTransaction } from "../../repos/tx";
import { mintApprovalLink, publicOrigin } from "../approvals/links";
import type { ConnectorDeps } from "../executor";
import { composeDigest } from "./compose";
import { renderDigestEmail, type WaitingLinks } from "./email";

export interface DigestDeps {
  db: Db;
  clock: Clock;
  connectors: ConnectorDeps;
}

const PAGE = 200;
const SYSTEM = { type: "SYSTEM" as const, id: "digest" };

/**
 * The `digest` job (hourly): every enabled digest whose send window is open (server/engine/
 * digest.ts) is claimed, composed, sent and recorded.
 *
 * Sent once: the DigestRun row (unique tenant, user, covered day) is inserted before anything is
 * sent; a concurrent tick's insert fails on the key and that tick moves on. Retries: a failed send
 * leaves the row FAILED (error kept, secrets scrubbed, ledgered DIGEST_SENT delivered=false); the
 * next tick inside the same send window takes it back with a conditional update (one tick wins) and
 * tries again — with the hourly cron and a 3-hour window that is at most three attempts, after
 * which it stays FAILED. A process that dies mid-send leaves the row SENDING and it is never
 * retried: a missing digest is better than a second copy of one that may have gone out.
 */
export async function runDigestTick(deps: DigestDeps) {
  const now = deps.clock.now();
  const out = { ok: true, due: 0, sent: 0, failed: 0, skipped: 0 };
  let after: { tenantId: string; userId: string } | null = null;
  for (;;) {
    const page = await listEnabledDigestSettings(deps.db, after, PAGE);
    for (const s of page) {
      const due = digestDue(s, now);
      if (!due.due) continue;
      out.due++;
      const result = await sendOne(deps, s, due.dateKey);
      if (result === "SENT") out.sent++;
      else if (result === "FAILED") out.failed++;
      else out.skipped++;
    }
    const last = page.at(-1);
    if (!last || page.length < PAGE) break;
    after = { tenantId: last.tenantId, userId: last.userId };
  }
  out.ok = out.failed === 0;
  return out;
}

/** Claim the day's run: a new row, or a FAILED one taken back; null when another tick holds it. */
async function claim(db: Db, key: { tenantId: string; userId: string; dateKey: string }, now: Date) {
  try {
    return await insertDigestRun(db, key, now);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  const existing = await findDigestRun(db, key.tenantId, key.userId, key.dateKey);
  if (existing?.status === ("FAILED" satisfies DigestRunStatus) && (await reclaimFailedDigestRun(db, existing.id))) return existing;
  return null;
}

async function sendOne(
  deps: DigestDeps,
  s: { tenantId: string; userId: string; email: string; timezone: string },
  dateKey: string,
): Promise<"SENT" | "FAILED" | "SKIPPED"> {
  const { db, clock, connectors } = deps;
  const run = await claim(db, { tenantId: s.tenantId, userId: s.userId, dateKey }, clock.now());
  if (!run) return "SKIPPED";

  let counts = {};
  let delivered = false;
  let messageId: string | null = null;
  let error: string | null = null;
  try {
    if (!(await memberRole(db, s.tenantId, s.userId))) throw new DigestError("The user is no longer a member of this tenant");
    if (!connectors.smtp) throw new DigestError("SMTP is not configured (SMTP_URL), so no digest email can be sent");
    const digest = await composeDigest(db, { tenantId: s.tenantId, userId: s.userId, date: dateKey, timezone: s.timezone }, clock.now());
    counts = digest.counts;
    const links = await waitingLinks(deps, s.tenantId, s.userId, digest.waiting.slice(0, DIGEST_LIST_CAP));
    const user = await userEmail(db, s.userId);
    const origin = publicOrigin(connectors);
    const mail = await renderDigestEmail({
      digest,
      recipientName: user?.name || s.email,
      links,
      inboxUrl: `${origin}/inbox`,
      digestUrl: `${origin}/digest?date=${dateKey}`,
    });
    const res = await sendMail(connectors.smtp, { to: s.email, subject: mail.subject, text: mail.text, html: mail.html });
    if (res.ok) {
      delivered = true;
      const id = (res.response as { message_id?: unknown } | undefined)?.message_id;
      messageId = typeof id === "string" ? id : null;
    } else {
      error = res.error;
    }
  } catch (err) {
    // A known condition is said as is; anything else is logged once and stored as its id only.
    error = err instanceof DigestError ? err.message : internalMessage(reportUnexpected("digest job", err));
  }

  const status: DigestRunStatus = delivered ? "SENT" : "FAILED";
  const safeError = error === null ? null : redactText(error).slice(0, 500);
  await inTransaction(db, async (tx) => {
    const at = clock.now();
    await finishDigestRun(tx, run.id, {
      status,
      counts: JSON.stringify(counts),
      messageId,
      error: safeError,
      sentAt: delivered ? at : null,
    });
    await appendLedger(
      tx,
      {
        tenantId: s.tenantId,
        type: "DIGEST_SENT",
        actor: SYSTEM,
        payload: {
          digest_run_id: run.id,
          user_id: s.userId,
          date: dateKey,
          timezone: s.timezone,
          delivered,
          counts,
          ...(messageId ? { message_id: messageId } : {}),
          ...(safeError ? { error: safeError } : {}),
        },
      },
      at,
    );
  });
  return status === "SENT" ? "SENT" : "FAILED";
}

/** One-time approve/reject links for each waiting item; null when the server has no signing key. */
async function waitingLinks(
  deps: DigestDeps,
  tenantId: string,
  userId: string,
  waiting: { intent_id: string }[],
): Promise<WaitingLinks | null> {
  const links: WaitingLinks = {};
  for (const w of waiting) {
    const link = await mintApprovalLink(
      deps.db,
      deps.connectors,
      { tenantId, intentId: w.intent_id, purpose: "DIGEST", recipientUserId: userId },
      deps.clock.now(),
    );
    if (!link) return null;
    links[w.intent_id] = { approveUrl: link.approveUrl, rejectUrl: link.rejectUrl };
  }
  return links;
}

class DigestError extends Error {}
