import { type ArtifactContext, DATA_BACKED_ACTIONS } from "../connectors/internal";
import type { DbOrTx } from "../db";
import { tenantWhere } from "./scope";

const LOOKBACK_MS = 90 * 86_400_000;

/**
 * The internal connector's context for one action: the account's name and the intent's why, plus
 * — for research and briefs only, so notes and tasks stay one cheap read — the stored data the
 * artifact is computed from (contacts, opportunities, proposals waiting for a person, signals).
 */
export async function loadArtifactContext(
  db: DbOrTx,
  tenantId: string,
  accountId: string,
  actionType: string,
  base: { accountName: string; why: string[] },
  now: Date,
): Promise<ArtifactContext> {
  if (!(DATA_BACKED_ACTIONS as readonly string[]).includes(actionType)) return base;
  const where = tenantWhere(tenantId, { accountId });
  const [contacts, opportunities, openIntents, signals] = await Promise.all([
    db.contact.findMany({
      where,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: 20,
      select: { name: true, title: true, email: true },
    }),
    db.opportunity.findMany({
      where,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: 10,
      select: { name: true, stage: true, amountCents: true, closeDate: true },
    }),
    db.actionIntent.findMany({
      where: { ...where, status: "PENDING_APPROVAL" },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: 10,
      select: { actionType: true, createdAt: true },
    }),
    db.signal.findMany({
      where: { ...where, occurredAt: { gte: new Date(now.getTime() - LOOKBACK_MS), lte: now } },
      orderBy: [{ occurredAt: "desc" }, { id: "desc" }],
      take: 100,
      select: { id: true, type: true, severity: true, evidence: true, occurredAt: true },
    }),
  ]);
  return {
    ...base,
    data: {
      now,
      contacts,
      opportunities,
      openIntents,
      signals: signals.map((s) => ({ id: s.id, type: s.type, severity: s.severity, evidence: parseObject(s.evidence), at: s.occurredAt })),
    },
  };
}

function parseObject(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
