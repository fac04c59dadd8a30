import { randomUUID } from "node:crypto";
import type { Clock } from "../clock";
import { CrmError, type CrmRecord, type CrmThrottle, crmModified, HubSpotClient } from "../connectors/hubspot";
import { CallRefusedError } from "../connectors/types";
import type { Db } from "../db";
import {
  amountCents,
  COMPANY_PROPERTIES,
  CONTACT_PROPERTIES,
  companyToAccount,
  contactName,
  crmDate,
  DEAL_PROPERTIES,
  dealSignal,
  fieldChanges,
  mapDealStage,
  type OpportunityStage,
} from "../engine/crmMapping";
import type { Actor } from "../engine/ledger";
import { redactText } from "../engine/redact";
import { AppError } from "../errors";
import { acquireRequestSlot, claimConnectorSync, findConnectorState, recordThrottle, saveSyncResult } from "../repos/connectorState";
import {
  accountByExternalId,
  accountById,
  contactByExternalId,
  createCrmAccount,
  createCrmContact,
  createCrmOpportunity,
  memberIdsByEmail,
  opportunityByExternalId,
  updateCrmAccountRow,
  updateCrmContact,
  updateCrmOpportunity,
} from "../repos/crm";
import { markHeatDirty } from "../repos/heat";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { loadCrmConnection } from "./connectors";
import { loadDecisionSettings } from "./decisionSettings";
import type { ConnectorDeps } from "./executor";
import { resilienceDeps, resilientFetch } from "./resilience";
import { ingestSignal, recordTriggerEvent } from "./signals";

/**
 * The CRM sync (SPEC §4.4): HubSpot companies → accounts, contacts → contacts, deals →
 * opportunities, with their associations. The first sync lists everything (`after` paging); later
 * ones search by `hs_lastmodifieddate` from the stored high-water mark and touch only what moved.
 * Every account change is ledgered (ACCOUNT_UPDATED, `source: "crm"`, actor SYSTEM crm-sync),
 * posture and lifecycle moves are decision triggers, a lost or regressed deal is a signal, and
 * changed accounts are marked for the heat job. Records are written one transaction each, so a
 * sync stopped by the CRM's rate limit keeps what it applied and the next run (from the same
 * cursor, which only advances on success) re-reads the rest idempotently.
 */

export const CRM_SYNC_ACTOR: Actor = { type: "SYSTEM", id: "crm-sync" };
const CONNECTOR = "crm";
/** Cursor overlap: the CRM's search index lags writes by seconds, and clocks differ. */
const CURSOR_OVERLAP_MS = 60_000;
/** A sync that has not touched its state for this long is presumed dead; another may take over. */
const SYNC_LEASE_MS = 15 * 60_000;

export interface CrmDeps {
  db: Db;
  clock: Clock;
  connectors: ConnectorDeps;
}

export interface SyncCounts {
  companies: number;
  contacts: number;
  deals: number;
  created: number;
  updated: number;
  signals: number;
  requests: number;
}

export type SyncStatus =
  | "OK"
  | "NOT_ENABLED"
  | "ALREADY_RUNNING"
  | "THROTTLED"
  | "UNAUTHORIZED"
  | "FAILED"
  /** the crm connector's breaker is open, or it had no free slot: nothing more was sent; the next run resumes */
  | "BREAKER_OPEN"
  | "DEFERRED";

export interface SyncResult {
  ok: boolean;
  status: SyncStatus;
  mode: "FULL" | "INCREMENTAL" | null;
  counts: SyncCounts;
  error: string | null;
}

function dbThrottle(db: Db, tenantId: string): CrmThrottle {
  return {
    acquire: (now) => acquireRequestSlot(db, tenantId, CONNECTOR, now),
    observe: (obs, now) => recordThrottle(db, tenantId, CONNECTOR, obs, now),
  };
}

/**
 * A client for the tenant's CRM, or null when the crm connector is not enabled (read fresh). With
 * `operation` (a sync, a pull) every request goes through the resilience wrapper on its own;
 * without, the caller wraps the whole exchange (an approved write is one admitted call, see
 * services/executor.ts) — never both, or a write would hold two of the connector's slots.
 */
export async function crmClient(deps: CrmDeps, tenantId: string, operation?: "sync" | "pull"): Promise<HubSpotClient | null> {
  const conn = await loadCrmConnection(deps.db, tenantId, deps.connectors.secretKey ?? null);
  if (!conn) return null;
  return new HubSpotClient({
    baseUrl: conn.baseUrl,
    token: conn.token,
    throttle: dbThrottle(deps.db, tenantId),
    clock: deps.clock,
    sleep: deps.connectors.sleep,
    maxWaitMs: deps.connectors.crmMaxWaitMs,
    fetch: operation
      ? resilientFetch(resilienceDeps(deps), { tenantId, connector: "crm", operation }, deps.connectors.fetch ?? fetch)
      : deps.connectors.fetch,
    pageSize: deps.connectors.crmPageSize,
    searchCap: deps.connectors.crmSearchCap,
  });
}

const emptyCounts = (): SyncCounts => ({ companies: 0, contacts: 0, deals: 0, created: 0, updated: 0, signals: 0, requests: 0 });

interface PendingSignal {
  accountId: string;
  severity: "high" | "medium";
  dedupeKey: string;
  occurredAt: Date | null;
  evidence: Record<string, unknown>;
}

/**
 * A per-account pull and a sync may create the same record at once: the unique (tenant,
 * externalId) lets one insert win; the loser's whole transaction rolled back, and running it again
 * finds the row and updates it instead.
 */
async function onceMoreOnConflict<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    return fn();
  }
}

/** Applies CRM records to one tenant's data; shared by the sync and the per-account pull. */
class Applier {
  readonly counts = emptyCounts();
  readonly signals: PendingSignal[] = [];
  maxModified = 0;
  private members: Map<string, string> | null = null;
  private owners: Map<string, string> | null = null;

  constructor(
    private readonly deps: CrmDeps,
    private readonly tenantId: string,
    private readonly client: HubSpotClient,
  ) {}

  private seen(r: CrmRecord) {
    const m = crmModified(r);
    if (m !== null && m > this.maxModified) this.maxModified = m;
    return m === null ? null : new Date(m);
  }

  private async ownerId(hubspotOwnerId: string | null | undefined): Promise<string | undefined> {
    if (!hubspotOwnerId) return undefined;
    if (!this.owners) this.owners = await this.client.owners();
    if (!this.members) this.members = await memberIdsByEmail(this.deps.db, this.tenantId);
    const email = this.owners.get(hubspotOwnerId);
    return email ? this.members.get(email) : undefined;
  }

  async company(r: CrmRecord): Promise<string> {
    this.counts.companies++;
    const modified = this.seen(r);
    const fields = companyToAccount(r.id, r.properties);
    const ownerId = await this.ownerId(r.properties.hubspot_owner_id);
    const { db, clock } = this.deps;
    return onceMoreOnConflict(() =>
      inTransaction(db, async (tx) => {
        const now = clock.now();
        const existing = await accountByExternalId(tx, this.tenantId, r.id);
        if (!existing) {
          const created = await createCrmAccount(
            tx,
            { tenantId: this.tenantId, externalId: r.id, ...fields, ownerId: ownerId ?? null, crmModifiedAt: modified },
            now,
          );
          await markHeatDirty(tx, this.tenantId, created.id, now);
          this.counts.created++;
          return created.id;
        }
        // Already applied this version (a cursor overlap or a re-run): nothing moved.
        if (existing.crmModifiedAt && modified && existing.crmModifiedAt.getTime() >= modified.getTime()) return existing.id;
        const patch = { ...fields, ...(ownerId ? { ownerId } : {}) };
        const changed = fieldChanges(existing, patch);
        await updateCrmAccountRow(tx, this.tenantId, existing.id, { ...patch, crmModifiedAt: modified }, now);
        if (Object.keys(changed).length === 0) return existing.id;
        this.counts.updated++;
        // Before the ledger append: the heat job's lock order (server/repos/heat.ts).
        await markHeatDirty(tx, this.tenantId, existing.id, now);
        const correlationId = randomUUID();
        await appendLedger(
          tx,
          {
            tenantId: this.tenantId,
            accountId: existing.id,
            correlationId,
            type: "ACCOUNT_UPDATED",
            actor: CRM_SYNC_ACTOR,
            payload: { changed, source: "crm", crm_id: r.id, crm_modified_at: modified?.toISOString() ?? null },
          },
          now,
        );
        if (changed.posture || changed.lifecycle) {
          const settings = (await loadDecisionSettings(tx, this.tenantId)).triggers;
          if (changed.posture)
            await recordTriggerEvent(
              tx,
              this.tenantId,
              existing.id,
              "POSTURE_CHANGE",
              { posture: changed.posture, source: "crm" },
              correlationId,
              CRM_SYNC_ACTOR,
              settings,
              now,
            );
          if (changed.lifecycle)
            await recordTriggerEvent(
              tx,
              this.tenantId,
              existing.id,
              "LIFECYCLE_STATE_CHANGE",
              { lifecycle: changed.lifecycle, source: "crm" },
              correlationId,
              CRM_SYNC_ACTOR,
              settings,
              now,
            );
        }
        return existing.id;
      }),
    );
  }

  private async accountFor(companyId: string | undefined): Promise<string | null> {
    if (!companyId) return null;
    return (await accountByExternalId(this.deps.db, this.tenantId, companyId))?.id ?? null;
  }

  async contact(r: CrmRecord, companyId: string | undefined, accountId?: string) {
    this.seen(r);
    const account = accountId ?? (await this.accountFor(companyId));
    if (!account) return; // a contact of no synced company has no account to belong to
    this.counts.contacts++;
    const p = r.properties;
    const data = {
      accountId: account,
      name: contactName(p),
      email: p.email?.trim().toLowerCase().slice(0, 320) || null,
      title: p.jobtitle?.trim().slice(0, 200) || null,
    };
    await onceMoreOnConflict(() =>
      inTransaction(this.deps.db, async (tx) => {
        const now = this.deps.clock.now();
        const existing = await contactByExternalId(tx, this.tenantId, r.id);
        if (!existing) {
          await createCrmContact(tx, { tenantId: this.tenantId, externalId: r.id, ...data }, now);
          this.counts.created++;
        } else if (Object.keys(fieldChanges(existing, data)).length > 0) {
          await updateCrmContact(tx, this.tenantId, existing.id, data, now);
          this.counts.updated++;
        }
      }),
    );
  }

  async deal(r: CrmRecord, companyId: string | undefined, accountId?: string) {
    const modified = this.seen(r);
    const account = accountId ?? (await this.accountFor(companyId));
    if (!account) return;
    this.counts.deals++;
    const p = r.properties;
    const stage = mapDealStage(p.dealstage);
    const data = {
      accountId: account,
      name: (p.dealname?.trim() || `HubSpot deal ${r.id}`).slice(0, 200),
      stage,
      amountCents: amountCents(p.amount),
      closeDate: crmDate(p.closedate),
    };
    await onceMoreOnConflict(() =>
      inTransaction(this.deps.db, async (tx) => {
        const now = this.deps.clock.now();
        const existing = await opportunityByExternalId(tx, this.tenantId, r.id);
        if (!existing) {
          await createCrmOpportunity(tx, { tenantId: this.tenantId, externalId: r.id, ...data }, now);
          this.counts.created++;
          return;
        }
        if (Object.keys(fieldChanges(existing, data)).length === 0) return;
        await updateCrmOpportunity(tx, this.tenantId, existing.id, data, now);
        this.counts.updated++;
        const sig = dealSignal(r.id, existing.stage as OpportunityStage, stage, modified);
        if (sig)
          this.signals.push({
            accountId: account,
            severity: sig.severity,
            dedupeKey: sig.dedupeKey,
            occurredAt: modified,
            evidence: { reason: sig.reason, crm_deal_id: r.id, deal_name: data.name, from: existing.stage, to: stage, source: "crm" },
          });
      }),
    );
  }

  /** Signals go through the one intake (dedupe, trigger window, heat) after the records are written. */
  async flushSignals() {
    const viewer: Viewer = { tenantId: this.tenantId, actor: { type: "SYSTEM", id: "crm-sync" }, role: null, userId: null };
    for (const s of this.signals.splice(0)) {
      const res = await ingestSignal(
        this.deps.db,
        viewer,
        {
          accountId: s.accountId,
          signalType: "DISCOVERY_PROGRESS_STALLED",
          severity: s.severity,
          evidence: s.evidence,
          dedupeKey: s.dedupeKey,
          occurredAt: s.occurredAt ?? undefined,
          source: "crm",
        },
        this.deps.clock,
      );
      if (!res.duplicate) this.counts.signals++;
    }
  }
}

/** A clear, secret-free sentence for any failure (the client's own messages are already safe). */
function describeFailure(err: unknown): { status: SyncStatus; error: string } {
  if (err instanceof CallRefusedError) return { status: err.reason === "BREAKER_OPEN" ? "BREAKER_OPEN" : "DEFERRED", error: err.message };
  if (err instanceof CrmError)
    return { status: err.code === "THROTTLED" ? "THROTTLED" : err.code === "UNAUTHORIZED" ? "UNAUTHORIZED" : "FAILED", error: err.message };
  if (err instanceof AppError) return { status: "FAILED", error: redactText(err.message) };
  return { status: "FAILED", error: `sync failed (${err instanceof Error ? err.name : "error"})` };
}

/** One CRM pull now for a tenant (the `crm-sync` job, `npm run cli -- crm sync`, "Sync now"). */
export async function syncCrm(deps: CrmDeps, tenantId: string): Promise<SyncResult> {
  const { db, clock } = deps;
  let client: HubSpotClient | null;
  try {
    client = await crmClient(deps, tenantId, "sync");
  } catch (err) {
    const d = describeFailure(err);
    await saveSyncResult(db, tenantId, CONNECTOR, { status: d.status, error: d.error, counts: "{}" }, clock.now());
    return { ok: false, status: d.status, mode: null, counts: emptyCounts(), error: d.error };
  }
  if (!client) return { ok: false, status: "NOT_ENABLED", mode: null, counts: emptyCounts(), error: "the crm connector is not enabled" };
  const startedAt = clock.now();
  if (!(await claimConnectorSync(db, tenantId, CONNECTOR, startedAt, SYNC_LEASE_MS)))
    return { ok: false, status: "ALREADY_RUNNING", mode: null, counts: emptyCounts(), error: "another sync of this tenant is running" };
  const state = await findConnectorState(db, tenantId, CONNECTOR);
  const cursor = state?.cursor && /^\d+$/.test(state.cursor) ? Number(state.cursor) : null;
  const mode = cursor === null ? "FULL" : "INCREMENTAL";
  const apply = new Applier(deps, tenantId, client);
  try {
    if (cursor === null) {
      // Company → contacts/deals associations come with the companies; contacts and deals are
      // then listed without associations and placed by that map.
      const contactCompany = new Map<string, string>();
      const dealCompany = new Map<string, string>();
      for await (const c of client.listAll("companies", COMPANY_PROPERTIES, ["contacts", "deals"])) {
        await apply.company(c);
        for (const id of c.associations.contacts ?? []) contactCompany.set(id, c.id);
        for (const id of c.associations.deals ?? []) dealCompany.set(id, c.id);
      }
      for await (const ct of client.listAll("contacts", CONTACT_PROPERTIES)) await apply.contact(ct, contactCompany.get(ct.id));
      for await (const d of client.listAll("deals", DEAL_PROPERTIES)) await apply.deal(d, dealCompany.get(d.id));
    } else {
      for await (const c of client.searchModifiedSince("companies", cursor, COMPANY_PROPERTIES)) await apply.company(c);
      // Search results carry no associations: a changed contact or deal is read once more with its company.
      for await (const ct of client.searchModifiedSince("contacts", cursor, CONTACT_PROPERTIES)) {
        const full = await client.get("contacts", ct.id, CONTACT_PROPERTIES, ["companies"]);
        await apply.contact(full, full.associations.companies?.[0]);
      }
      for await (const d of client.searchModifiedSince("deals", cursor, DEAL_PROPERTIES)) {
        const full = await client.get("deals", d.id, DEAL_PROPERTIES, ["companies"]);
        await apply.deal(full, full.associations.companies?.[0]);
      }
    }
    await apply.flushSignals();
    apply.counts.requests = client.requests;
    const floor = startedAt.getTime() - CURSOR_OVERLAP_MS;
    const next = apply.maxModified > 0 ? Math.min(apply.maxModified, Math.max(floor, cursor ?? 0)) : Math.max(floor, cursor ?? 0);
    await saveSyncResult(
      db,
      tenantId,
      CONNECTOR,
      { cursor: String(Math.max(next, cursor ?? 0)), status: "OK", error: null, counts: JSON.stringify({ mode, ...apply.counts }) },
      clock.now(),
    );
    if (mode === "FULL" && apply.counts.created > 0) {
      await inTransaction(db, (tx) =>
        appendLedger(
          tx,
          {
            tenantId,
            type: "ACCOUNTS_IMPORTED",
            actor: CRM_SYNC_ACTOR,
            payload: {
              import_id: `crm-sync:${startedAt.toISOString()}`,
              kind: "CRM_SYNC",
              rows_total: apply.counts.companies + apply.counts.contacts + apply.counts.deals,
              created: apply.counts.created,
              updated: apply.counts.updated,
              errors: 0,
              source: "crm",
            },
          },
          clock.now(),
        ),
      );
    }
    return { ok: true, status: "OK", mode, counts: apply.counts, error: null };
  } catch (err) {
    // What was applied stays applied; signals for it still go through intake.
    await apply.flushSignals().catch(() => undefined);
    apply.counts.requests = client.requests;
    const d = describeFailure(err);
    await saveSyncResult(
      db,
      tenantId,
      CONNECTOR,
      { status: d.status, error: d.error, counts: JSON.stringify({ mode, ...apply.counts }) },
      clock.now(),
    );
    return { ok: false, status: d.status, mode, counts: apply.counts, error: d.error };
  }
}

/**
 * One account's CRM record now (the perception scheduler's pull): SHALLOW reads the company,
 * DEEP also its associated contacts and deals. Returns how many new signals it produced.
 */
export async function pullCrmAccount(
  deps: CrmDeps,
  tenantId: string,
  accountId: string,
  depth: "SHALLOW" | "DEEP",
): Promise<{ signals: number }> {
  const account = await accountById(deps.db, tenantId, accountId);
  if (!account) throw new AppError("NOT_FOUND", "Account not found");
  if (!account.externalId) return { signals: 0 }; // not a CRM company: nothing to pull
  const client = await crmClient(deps, tenantId, "pull");
  if (!client) throw new AppError("UNPROCESSABLE", "The crm connector is not enabled for this tenant", "connector");
  const apply = new Applier(deps, tenantId, client);
  const company = await client.get("companies", account.externalId, COMPANY_PROPERTIES, depth === "DEEP" ? ["contacts", "deals"] : []);
  await apply.company(company);
  if (depth === "DEEP") {
    for (const id of company.associations.contacts ?? [])
      await apply.contact(await client.get("contacts", id, CONTACT_PROPERTIES), undefined, account.id);
    for (const id of company.associations.deals ?? [])
      await apply.deal(await client.get("deals", id, DEAL_PROPERTIES), undefined, account.id);
  }
  await apply.flushSignals();
  return { signals: apply.counts.signals };
}
