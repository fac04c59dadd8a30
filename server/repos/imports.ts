import type { DbOrTx } from "../db";
import { tenantWhere } from "./scope";

/**
 * CSV imports: the ImportJob row (progress, bounded errors) and the rows an import upserts by
 * (tenantId, externalId). Every query is scoped to the tenant, so an import can never read or
 * touch another tenant's account that happens to share an external id.
 */

export interface NewImportJob {
  tenantId: string;
  kind: string;
  fileName: string | null;
  csv: string;
  sha256: string;
  rowsTotal: number;
  errors: string;
  errorCount: number;
  actorType: string;
  actorId: string | null;
}

export function insertImportJob(db: DbOrTx, data: NewImportJob, now: Date) {
  return db.importJob.create({ data: { ...data, status: "PENDING", createdAt: now, updatedAt: now } });
}

/** Everything but the CSV text (which can be megabytes): what status reads need. */
const summarySelect = {
  id: true,
  tenantId: true,
  kind: true,
  status: true,
  fileName: true,
  sha256: true,
  rowsTotal: true,
  rowsDone: true,
  created: true,
  updated: true,
  errors: true,
  errorCount: true,
  actorType: true,
  actorId: true,
  createdAt: true,
  updatedAt: true,
  finishedAt: true,
} as const;

export function findImportJob(db: DbOrTx, tenantId: string, id: string) {
  return db.importJob.findFirst({ where: tenantWhere(tenantId, { id }), select: summarySelect });
}

export function findImportJobWithCsv(db: DbOrTx, tenantId: string, id: string) {
  return db.importJob.findFirst({ where: tenantWhere(tenantId, { id }) });
}

export function listImportJobs(db: DbOrTx, tenantId: string, limit: number) {
  return db.importJob.findMany({
    where: tenantWhere(tenantId),
    select: summarySelect,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

export function markImportRunning(db: DbOrTx, tenantId: string, id: string, now: Date) {
  return db.importJob.updateMany({ where: tenantWhere(tenantId, { id, status: "PENDING" }), data: { status: "RUNNING", updatedAt: now } });
}

/**
 * Take the import's row lock for the chunk starting at `fromRow`, first thing in the chunk's
 * transaction: a second worker on the same chunk waits here, then finds rows_done moved and
 * writes nothing (no duplicate inserts, no duplicate ledger entries). False = someone else has it.
 */
export async function lockImportChunk(db: DbOrTx, tenantId: string, id: string, fromRow: number, now: Date) {
  const res = await db.importJob.updateMany({
    where: tenantWhere(tenantId, { id, status: "RUNNING", rowsDone: fromRow }),
    data: { updatedAt: now },
  });
  return res.count === 1;
}

export interface ChunkProgress {
  rowsDone: number;
  created: number;
  updated: number;
  errors: string;
  errorCount: number;
}

/**
 * Record one chunk's progress — a compare-and-set on `rowsDone`: only the writer that read
 * `fromRow` may move it. Called last in the chunk's transaction; a false return means another
 * worker already committed this chunk, and the caller rolls its own writes back.
 */
export async function advanceImportJob(db: DbOrTx, tenantId: string, id: string, fromRow: number, next: ChunkProgress, now: Date) {
  const res = await db.importJob.updateMany({
    where: tenantWhere(tenantId, { id, status: "RUNNING", rowsDone: fromRow }),
    data: { ...next, updatedAt: now },
  });
  return res.count === 1;
}

export async function finishImportJob(
  db: DbOrTx,
  tenantId: string,
  id: string,
  outcome: { status: "COMPLETED" | "FAILED"; errors?: string; errorCount?: number },
  now: Date,
) {
  const res = await db.importJob.updateMany({
    where: tenantWhere(tenantId, { id, status: { in: ["PENDING", "RUNNING"] } }),
    data: { ...outcome, finishedAt: now, updatedAt: now },
  });
  return res.count === 1;
}

// ───────────────────────── the rows an import writes ─────────────────────────

/** The tenant's members by (lower-cased) email: owner_email resolves only to a member. */
export async function memberIdsByEmail(db: DbOrTx, tenantId: string, emails: string[]) {
  const wanted = [...new Set(emails)];
  if (wanted.length === 0) return new Map<string, string>();
  const rows = await db.membership.findMany({
    where: tenantWhere(tenantId, { user: { email: { in: wanted } } }),
    select: { userId: true, user: { select: { email: true } } },
  });
  return new Map(rows.map((r) => [r.user.email.toLowerCase(), r.userId]));
}

const accountFields = {
  id: true,
  externalId: true,
  name: true,
  domain: true,
  industry: true,
  lifecycle: true,
  posture: true,
  momentum: true,
  arrCents: true,
  ownerId: true,
} as const;

export function accountsByExternalIds(db: DbOrTx, tenantId: string, externalIds: string[]) {
  if (externalIds.length === 0) return Promise.resolve([]);
  return db.account.findMany({ where: tenantWhere(tenantId, { externalId: { in: [...new Set(externalIds)] } }), select: accountFields });
}

export function createImportedAccount(
  db: DbOrTx,
  tenantId: string,
  data: {
    externalId: string;
    name: string;
    domain?: string;
    industry?: string;
    ownerId?: string;
    lifecycle?: string;
    posture?: string;
    arrCents?: number;
  },
  now: Date,
) {
  return db.account.create({ data: { ...data, tenantId, createdAt: now, updatedAt: now }, select: { id: true } });
}

export function contactsByExternalIds(db: DbOrTx, tenantId: string, externalIds: string[]) {
  if (externalIds.length === 0) return Promise.resolve([]);
  return db.contact.findMany({
    where: tenantWhere(tenantId, { externalId: { in: [...new Set(externalIds)] } }),
    select: { id: true, externalId: true, accountId: true, name: true, email: true, title: true },
  });
}

export interface ContactData {
  accountId: string;
  name: string;
  email?: string;
  title?: string;
}

export function createImportedContact(db: DbOrTx, tenantId: string, externalId: string, data: ContactData, now: Date) {
  return db.contact.create({ data: { ...data, tenantId, externalId, createdAt: now, updatedAt: now }, select: { id: true } });
}

export function updateImportedContact(db: DbOrTx, tenantId: string, id: string, data: Partial<ContactData>, now: Date) {
  return db.contact.updateMany({ where: tenantWhere(tenantId, { id }), data: { ...data, updatedAt: now } });
}

export function opportunitiesByExternalIds(db: DbOrTx, tenantId: string, externalIds: string[]) {
  if (externalIds.length === 0) return Promise.resolve([]);
  return db.opportunity.findMany({
    where: tenantWhere(tenantId, { externalId: { in: [...new Set(externalIds)] } }),
    select: { id: true, externalId: true, accountId: true, name: true, stage: true, amountCents: true, closeDate: true },
  });
}

export interface OpportunityData {
  accountId: string;
  name: string;
  stage: string;
  amountCents?: number;
  closeDate?: Date;
}

export function createImportedOpportunity(db: DbOrTx, tenantId: string, externalId: string, data: OpportunityData, now: Date) {
  return db.opportunity.create({ data: { ...data, tenantId, externalId, createdAt: now, updatedAt: now }, select: { id: true } });
}

export function updateImportedOpportunity(db: DbOrTx, tenantId: string, id: string, data: Partial<OpportunityData>, now: Date) {
  return db.opportunity.updateMany({ where: tenantWhere(tenantId, { id }), data: { ...data, updatedAt: now } });
}
