import type { GateView } from "../services/gate";

/** snake_case response shapes of REST v1 (SPEC §5.1). */
type AccountRow = {
  id: string;
  externalId: string | null;
  name: string;
  domain: string | null;
  industry: string | null;
  lifecycle: string;
  posture: string;
  momentum: string;
  arrCents: number;
  createdAt: Date;
  updatedAt: Date;
  owner: { id: string; name: string; email: string } | null;
  /** as computed by the `heat` job (services/heat.ts heatForAccounts) */
  heat: { score: number; tier: string; since: Date };
};

export function accountDto(a: AccountRow) {
  return {
    id: a.id,
    external_id: a.externalId,
    name: a.name,
    domain: a.domain,
    industry: a.industry,
    owner: a.owner ? { id: a.owner.id, name: a.owner.name, email: a.owner.email } : null,
    lifecycle: a.lifecycle,
    posture: a.posture,
    momentum: a.momentum,
    arr_cents: a.arrCents,
    heat: heatDto(a.heat),
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
  };
}

/** SPEC §5.1: `heat: { score, tier, since }`, computed by the `heat` job (unscored: COLD, 0, since creation). */
export function heatDto(h: { score: number; tier: string; since: Date }) {
  return { score: h.score, tier: h.tier, since: h.since.toISOString() };
}

export function contactDto(c: { id: string; name: string; email: string | null; title: string | null }) {
  return { id: c.id, name: c.name, email: c.email, title: c.title };
}

export function opportunityDto(o: { id: string; name: string; stage: string; amountCents: number; closeDate: Date | null }) {
  return { id: o.id, name: o.name, stage: o.stage, amount_cents: o.amountCents, close_date: o.closeDate?.toISOString() ?? null };
}

export function ledgerEntryDto(e: {
  id: string;
  seq: number;
  type: string;
  accountId: string | null;
  correlationId: string;
  actor: { type: string; id: string | null };
  payload: unknown;
  createdAt: Date;
  prevHash: string;
  hash: string;
}) {
  return {
    id: e.id,
    seq: e.seq,
    type: e.type,
    account_id: e.accountId,
    correlation_id: e.correlationId,
    actor: e.actor,
    payload: e.payload,
    created_at: e.createdAt.toISOString(),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

export function gateViewDto(v: GateView) {
  return {
    action_intent_id: v.actionIntentId,
    decision: v.decision,
    reason: v.reason,
    explanation: v.explanation,
    policy_version: v.policyVersion,
    policy_clause: v.policyClause,
    execution_id: v.executionId,
    status: v.status,
  };
}

/** Fields that carry a client's or connector's own JSON: returned exactly as stored. */
const OPAQUE = new Set(["parameters", "executed_parameters", "target", "details", "diff", "evidence", "response", "policy_input"]);

/** Recursively snake_case an object's keys (for service results shaped in camelCase). */
export function snake(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snake);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const key = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        return [key, OPAQUE.has(key) ? v : snake(v)];
      }),
    );
  }
  return value;
}
