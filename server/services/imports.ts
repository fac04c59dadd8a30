import { createHash } from "node:crypto";
import { parse } from "csv-parse/sync";
import type { Clock } from "../clock";
import type { Db, Tx } from "../db";
import {
  type AccountRow,
  appendBounded,
  type ContactRow,
  type CsvParseFn,
  IMPORT_KINDS,
  IMPORT_LIMITS,
  type ImportKind,
  type ImportRow,
  type OpportunityRow,
  prepareFile,
  type RowError,
  unknownColumnNotices,
  type ValidatedFile,
  validateRecords,
} from "../engine/importRows";
import { readStoredJson } from "../engine/storedJson";
import { AppError, notFound, reportUnexpected } from "../errors";
import type { AccountPatch } from "../repos/accounts";
import { markHeatDirty } from "../repos/heat";
import {
  accountsByExternalIds,
  advanceImportJob,
  contactsByExternalIds,
  createImportedAccount,
  createImportedContact,
  createImportedOpportunity,
  findImportJob,
  findImportJobWithCsv,
  finishImportJob,
  insertImportJob,
  listImportJobs,
  lockImportChunk,
  markImportRunning,
  memberIdsByEmail,
  opportunitiesByExternalIds,
  updateImportedContact,
  updateImportedOpportunity,
} from "../repos/imports";
import { appendLedger } from "../repos/ledger";
import type { Viewer } from "../repos/scope";
import { inTransaction } from "../repos/tx";
import { applyAccountPatch } from "./accounts";
import { enqueue, JobError } from "./jobQueue";

/**
 * CSV import (SPEC §4.4, §5.1): accept a file (parse, header, limits — refused whole or not at
 * all), then a durable job writes it in chunks of IMPORT_LIMITS.chunkRows rows, one transaction
 * per chunk, moving rows_done after each so progress is visible. Rows are upserted by
 * (tenant, external id): importing the same file again creates nothing and changes nothing.
 *
 * Crash safety: a chunk's writes and its progress commit together, and the progress update is a
 * compare-and-set on rows_done — a re-run (the queue delivers at least once) resumes at the first
 * uncommitted chunk, and a late duplicate worker's chunk rolls back instead of counting twice.
 */

export const IMPORT_ROWS = "IMPORT_ROWS";

const csvParse = parse as unknown as CsvParseFn;

export interface ImportView {
  id: string;
  kind: string;
  status: string;
  fileName: string | null;
  sha256: string;
  rowsTotal: number;
  rowsDone: number;
  created: number;
  updated: number;
  errorCount: number;
  errors: RowError[];
  createdAt: Date;
  finishedAt: Date | null;
}

type JobSummary = NonNullable<Awaited<ReturnType<typeof findImportJob>>>;

/**
 * The stored kind is the model's vocabulary (ACCOUNTS | CONTACTS | OPPORTUNITIES, also in the
 * ledger); the API speaks the `?kind=` values (accounts | contacts | opportunities).
 */
const storedKind = (k: ImportKind) => k.toUpperCase();
function apiKind(stored: string): ImportKind {
  const k = stored.toLowerCase();
  return (IMPORT_KINDS as readonly string[]).includes(k) ? (k as ImportKind) : "accounts";
}

function toView(j: JobSummary): ImportView {
  return {
    id: j.id,
    kind: apiKind(j.kind),
    status: j.status,
    fileName: j.fileName,
    sha256: j.sha256,
    rowsTotal: j.rowsTotal,
    rowsDone: j.rowsDone,
    created: j.created,
    updated: j.updated,
    errorCount: j.errorCount,
    errors: storedErrors(j.errors),
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
  };
}

function storedErrors(text: string): RowError[] {
  const v = readStoredJson(text);
  return Array.isArray(v) ? v.filter((e): e is RowError => !!e && typeof e === "object" && "line" in e && "message" in e) : [];
}

/** The first U+0000 of the text, as a line number (PostgreSQL text cannot store it). */
function nulLine(text: string): number | null {
  const at = text.indexOf("\u0000");
  if (at < 0) return null;
  return (text.slice(0, at).match(/\r\n|\n|\r/g) ?? []).length + 1;
}

/**
 * Accept a CSV file: refused whole (4xx naming the column or the line) when it cannot be imported
 * at all — too large, not CSV, a required column missing, too many rows, a NUL character. Else
 * an ImportJob (PENDING) and its durable job are written in one transaction.
 */
export async function createImport(db: Db, viewer: Viewer, input: { kind: ImportKind; fileName?: string; text: string }, clock: Clock) {
  const bytes = Buffer.byteLength(input.text, "utf8");
  if (bytes > IMPORT_LIMITS.maxBodyBytes)
    throw new AppError("PAYLOAD_TOO_LARGE", `The file is larger than ${IMPORT_LIMITS.maxBodyBytes} bytes`, "body");
  const nul = nulLine(input.text);
  if (nul !== null) throw new AppError("BAD_REQUEST", `line ${nul}: contains a NUL (U+0000) character`, "body");
  const file = prepareFile(input.kind, input.text, csvParse);
  if (!file.ok) {
    const e = file.error;
    const named = e.column && !e.message.includes(e.column) ? `, column ${e.column}` : "";
    throw new AppError("UNPROCESSABLE", `line ${e.line}${named}: ${e.message}`, e.column || "body");
  }
  const now = clock.now();
  const sha256 = createHash("sha256").update(input.text, "utf8").digest("hex");
  return inTransaction(db, async (tx) => {
    const job = await insertImportJob(
      tx,
      {
        tenantId: viewer.tenantId,
        kind: storedKind(input.kind),
        fileName: input.fileName ?? null,
        csv: input.text,
        sha256,
        rowsTotal: file.records.length,
        // Unknown columns are reported once, here; they are notices, not counted as row errors.
        errors: JSON.stringify(appendBounded([], unknownColumnNotices(file.header, file.unknown))),
        errorCount: 0,
        actorType: viewer.actor.type,
        actorId: viewer.actor.id,
      },
      now,
    );
    await enqueue(
      tx,
      { tenantId: viewer.tenantId, kind: IMPORT_ROWS, payload: { importId: job.id }, dedupeKey: `import:${job.id}` },
      clock,
    );
    return { importId: job.id, status: job.status, rowsTotal: job.rowsTotal, kind: input.kind };
  });
}

export async function getImport(db: Db, viewer: Viewer, id: string): Promise<ImportView> {
  const job = await findImportJob(db, viewer.tenantId, id);
  if (!job) throw notFound("Import");
  return toView(job);
}

export async function listImports(db: Db, viewer: Viewer, limit: number): Promise<ImportView[]> {
  return (await listImportJobs(db, viewer.tenantId, limit)).map(toView);
}

// ─────────────────────────────── the job ───────────────────────────────

interface ChunkCounts {
  created: number;
  updated: number;
  errors: RowError[];
}

/** Lost the compare-and-set on rows_done: another worker committed this chunk; roll ours back. */
class ChunkTaken extends Error {}

type Results = ValidatedFile["results"];

async function writeAccounts(tx: Tx, viewer: Viewer, rows: AccountRow[], now: Date, out: ChunkCounts) {
  const existing = new Map(
    (
      await accountsByExternalIds(
        tx,
        viewer.tenantId,
        rows.map((r) => r.externalId),
      )
    ).map((a) => [a.externalId, a]),
  );
  const owners = await memberIdsByEmail(
    tx,
    viewer.tenantId,
    rows.flatMap((r) => (r.ownerEmail ? [r.ownerEmail] : [])),
  );
  // Lock order (server/repos/heat.ts): the heat job locks heat rows, then the ledger head. This
  // chunk appends to the ledger row by row, so every existing heat row it may touch is marked
  // first, in account-id order like the job's own locks. (A new account's heat row is an insert
  // no one else can hold.)
  const postureMoves = rows
    .flatMap((r) => {
      const b = existing.get(r.externalId);
      return b && r.posture !== undefined && r.posture !== b.posture ? [b.id] : [];
    })
    .sort();
  for (const id of postureMoves) await markHeatDirty(tx, viewer.tenantId, id, now);
  for (const row of rows) {
    let ownerId: string | undefined;
    if (row.ownerEmail) {
      ownerId = owners.get(row.ownerEmail);
      if (!ownerId) {
        out.errors.push({ line: row.line, column: "owner_email", message: `${row.ownerEmail} is not a member of this workspace` });
        continue;
      }
    }
    const before = existing.get(row.externalId);
    if (!before) {
      const created = await createImportedAccount(
        tx,
        viewer.tenantId,
        {
          externalId: row.externalId,
          name: row.name,
          domain: row.domain,
          industry: row.industry,
          ownerId,
          lifecycle: row.lifecycle,
          posture: row.posture,
          arrCents: row.arrCents,
        },
        now,
      );
      // A new account is an input of heat (it starts COLD until the heat job looks at it).
      await markHeatDirty(tx, viewer.tenantId, created.id, now);
      out.created++;
      continue;
    }
    // Empty cells leave the stored value alone: only what the file states is compared and written.
    const patch: AccountPatch = {
      name: row.name,
      domain: row.domain,
      industry: row.industry,
      ownerId,
      lifecycle: row.lifecycle,
      posture: row.posture,
      arrCents: row.arrCents,
    };
    const changed = await applyAccountPatch(tx, viewer, { ...before, externalId: before.externalId }, patch, now, "import");
    if (Object.keys(changed).length > 0) out.updated++;
  }
}

/** account_external_id → account id, reporting rows whose account is not (yet) in this tenant. */
async function resolveAccounts<R extends { line: number; accountExternalId: string }>(
  tx: Tx,
  tenantId: string,
  rows: R[],
  out: ChunkCounts,
) {
  const accounts = new Map(
    (
      await accountsByExternalIds(
        tx,
        tenantId,
        rows.map((r) => r.accountExternalId),
      )
    ).map((a) => [a.externalId, a.id]),
  );
  const found: (R & { accountId: string })[] = [];
  for (const row of rows) {
    const accountId = accounts.get(row.accountExternalId);
    if (accountId) found.push({ ...row, accountId });
    else
      out.errors.push({
        line: row.line,
        column: "account_external_id",
        message: `no account with external_id ${row.accountExternalId.slice(0, 60)} (import accounts first)`,
      });
  }
  return found;
}

/** The fields of `next` that differ from `stored` (undefined in `next` = not stated, left alone). */
function diff<T extends Record<string, unknown>>(stored: Record<string, unknown>, next: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(next) as (keyof T & string)[]) {
    const v = next[k];
    if (v === undefined) continue;
    const s = stored[k];
    const same = v instanceof Date && s instanceof Date ? v.getTime() === s.getTime() : v === s;
    if (!same) out[k] = v;
  }
  return out;
}

/**
 * Create the rows the tenant does not have yet (by external id) and update the ones whose fields
 * changed; unchanged rows are not written. Contacts and opportunities differ only in their fields
 * and repo calls.
 */
async function upsertByExternalId<R extends { externalId: string; accountId: string }, D extends Record<string, unknown>>(
  rows: R[],
  /** the stored rows with every field `data` sets, so unchanged ones are recognised */
  existing: { id: string; externalId: string | null }[],
  data: (row: R) => D,
  write: { create: (externalId: string, data: D) => Promise<unknown>; update: (id: string, changes: Partial<D>) => Promise<unknown> },
  out: ChunkCounts,
) {
  const byExternalId = new Map(existing.map((e) => [e.externalId, e]));
  for (const row of rows) {
    const next = data(row);
    const stored = byExternalId.get(row.externalId);
    if (!stored) {
      await write.create(row.externalId, next);
      out.created++;
      continue;
    }
    const changes = diff(stored, next);
    if (Object.keys(changes).length === 0) continue;
    await write.update(stored.id, changes);
    out.updated++;
  }
}

async function writeContacts(tx: Tx, tenantId: string, rows: ContactRow[], now: Date, out: ChunkCounts) {
  const withAccounts = await resolveAccounts(tx, tenantId, rows, out);
  const existing = await contactsByExternalIds(
    tx,
    tenantId,
    withAccounts.map((r) => r.externalId),
  );
  await upsertByExternalId(
    withAccounts,
    existing,
    (row) => ({ accountId: row.accountId, name: row.name, email: row.email, title: row.title }),
    {
      create: (externalId, data) => createImportedContact(tx, tenantId, externalId, data, now),
      update: (id, changes) => updateImportedContact(tx, tenantId, id, changes, now),
    },
    out,
  );
}

async function writeOpportunities(tx: Tx, tenantId: string, rows: OpportunityRow[], now: Date, out: ChunkCounts) {
  const withAccounts = await resolveAccounts(tx, tenantId, rows, out);
  const existing = await opportunitiesByExternalIds(
    tx,
    tenantId,
    withAccounts.map((r) => r.externalId),
  );
  await upsertByExternalId(
    withAccounts,
    existing,
    (row) => ({ accountId: row.accountId, name: row.name, stage: row.stage, amountCents: row.amountCents, closeDate: row.closeDate }),
    {
      create: (externalId, data) => createImportedOpportunity(tx, tenantId, externalId, data, now),
      update: (id, changes) => updateImportedOpportunity(tx, tenantId, id, changes, now),
    },
    out,
  );
}

interface LoadedJob {
  id: string;
  tenantId: string;
  kind: ImportKind;
  viewer: Viewer;
  results: Results;
}

function actorOf(type: string, id: string | null): Viewer["actor"] {
  if (type === "USER" || type === "API_KEY") return { type, id: id ?? "unknown" };
  return { type: "SYSTEM", id: id ?? "import" };
}

/** One chunk, one transaction: the rows' writes, their errors and the progress commit together. */
async function runChunk(db: Db, job: LoadedJob, from: number, clock: Clock): Promise<number | null> {
  const slice = job.results.slice(from, from + IMPORT_LIMITS.chunkRows);
  const now = clock.now();
  try {
    return await inTransaction(db, async (tx) => {
      if (!(await lockImportChunk(tx, job.tenantId, job.id, from, now))) throw new ChunkTaken();
      const current = await findImportJob(tx, job.tenantId, job.id);
      if (!current) throw new ChunkTaken();
      const out: ChunkCounts = { created: 0, updated: 0, errors: [] };
      const valid: ImportRow[] = [];
      for (const { result } of slice) {
        if (result.ok) valid.push(result.row);
        else out.errors.push(...result.errors);
      }
      if (job.kind === "accounts") await writeAccounts(tx, job.viewer, valid as AccountRow[], now, out);
      else if (job.kind === "contacts") await writeContacts(tx, job.tenantId, valid as ContactRow[], now, out);
      else await writeOpportunities(tx, job.tenantId, valid as OpportunityRow[], now, out);
      out.errors.sort((a, b) => a.line - b.line);
      const rowsDone = from + slice.length;
      const ok = await advanceImportJob(
        tx,
        job.tenantId,
        job.id,
        from,
        {
          rowsDone,
          created: current.created + out.created,
          updated: current.updated + out.updated,
          errors: JSON.stringify(appendBounded(storedErrors(current.errors), out.errors)),
          errorCount: current.errorCount + out.errors.length,
        },
        now,
      );
      if (!ok) throw new ChunkTaken();
      return rowsDone;
    });
  } catch (err) {
    if (err instanceof ChunkTaken) return null;
    throw err;
  }
}

/** Load an import and validate its rows (pure, once per run). Null when there is nothing to do. */
async function loadForRun(db: Db, tenantId: string, importId: string, clock: Clock): Promise<LoadedJob | null> {
  const row = await findImportJobWithCsv(db, tenantId, importId);
  if (!row || row.status === "COMPLETED" || row.status === "FAILED") return null;
  if (row.status === "PENDING") await markImportRunning(db, tenantId, importId, clock.now());
  const kind = apiKind(row.kind);
  const file = prepareFile(kind, row.csv, csvParse);
  if (!file.ok) {
    // Accepted files always parse; this only happens if the rules changed between accept and run.
    await finishImportJob(db, tenantId, importId, { status: "FAILED", errors: JSON.stringify([file.error]), errorCount: 1 }, clock.now());
    return null;
  }
  return {
    id: row.id,
    tenantId,
    kind,
    viewer: { tenantId, actor: actorOf(row.actorType, row.actorId), role: null, userId: null },
    results: validateRecords(kind, file.header, file.index, file.records).results,
  };
}

/** Mark COMPLETED and ledger ACCOUNTS_IMPORTED — once: the status change is the guard. */
async function complete(db: Db, job: LoadedJob, clock: Clock) {
  const now = clock.now();
  await inTransaction(db, async (tx) => {
    if (!(await finishImportJob(tx, job.tenantId, job.id, { status: "COMPLETED" }, now))) return;
    const done = await findImportJob(tx, job.tenantId, job.id);
    if (!done) return;
    await appendLedger(
      tx,
      {
        tenantId: job.tenantId,
        type: "ACCOUNTS_IMPORTED",
        actor: job.viewer.actor,
        correlationId: job.id,
        payload: {
          import_id: job.id,
          kind: done.kind,
          rows_total: done.rowsTotal,
          created: done.created,
          updated: done.updated,
          errors: done.errorCount,
          sha256: done.sha256,
        },
      },
      now,
    );
  });
}

export interface ImportRunOptions {
  /** stop after this many chunks (tests inspect progress between chunks) */
  maxChunks?: number;
  /** stop starting new chunks at this time (the job's lease, less a margin) */
  deadline?: Date;
}

export interface ImportRunResult {
  importId: string;
  status: "COMPLETED" | "PARTIAL" | "NOTHING_TO_DO";
  rowsDone: number;
}

/**
 * Run (or resume) an import: chunks from the committed rows_done on, until the file is done, the
 * chunk budget is spent or the deadline passes. Safe to call again at any point.
 */
export async function runImport(
  db: Db,
  tenantId: string,
  importId: string,
  clock: Clock,
  opts: ImportRunOptions = {},
): Promise<ImportRunResult> {
  const job = await loadForRun(db, tenantId, importId, clock);
  if (!job) return { importId, status: "NOTHING_TO_DO", rowsDone: (await findImportJob(db, tenantId, importId))?.rowsDone ?? 0 };
  let from = (await findImportJob(db, tenantId, importId))?.rowsDone ?? 0;
  let chunks = 0;
  while (from < job.results.length) {
    if (opts.maxChunks !== undefined && chunks >= opts.maxChunks) return { importId, status: "PARTIAL", rowsDone: from };
    // At least one chunk per run, so even a short lease always makes progress.
    if (opts.deadline && chunks > 0 && clock.now() >= opts.deadline) return { importId, status: "PARTIAL", rowsDone: from };
    const next = await runChunk(db, job, from, clock);
    // Another worker committed this chunk: it owns the import now; stop without counting twice.
    if (next === null) return { importId, status: "PARTIAL", rowsDone: (await findImportJob(db, tenantId, importId))?.rowsDone ?? from };
    from = next;
    chunks++;
  }
  await complete(db, job, clock);
  return { importId, status: "COMPLETED", rowsDone: from };
}

/** Leave this much of the lease for the last chunk's commit and the continuation's enqueue. */
const LEASE_MARGIN_MS = 30_000;

/**
 * The durable-queue handler (server/jobs/registry.ts). A big file that outlasts one lease queues
 * a continuation (keyed by the import and its progress, so a retry cannot queue two) and ends;
 * the continuation resumes from rows_done. The last attempt to fail marks the import FAILED with
 * a reason that names no internals, so it never stays RUNNING forever.
 */
export async function handleImportJob(
  payload: unknown,
  ctx: { db: Db; clock: Clock; job: { tenantId: string; attempt: number; maxAttempts: number; leaseUntil: Date } },
) {
  const importId = (payload as { importId?: unknown } | null)?.importId;
  if (typeof importId !== "string") throw new JobError("payload has no importId", { permanent: true });
  const { db, clock } = ctx;
  try {
    const res = await runImport(db, ctx.job.tenantId, importId, clock, {
      deadline: new Date(ctx.job.leaseUntil.getTime() - LEASE_MARGIN_MS),
    });
    if (res.status === "PARTIAL") {
      await enqueue(
        db,
        { tenantId: ctx.job.tenantId, kind: IMPORT_ROWS, payload: { importId }, dedupeKey: `import:${importId}:from:${res.rowsDone}` },
        clock,
      );
    }
    return res;
  } catch (err) {
    if (ctx.job.attempt >= ctx.job.maxAttempts) {
      const id = reportUnexpected(`import ${importId}`, err);
      const job = await findImportJob(db, ctx.job.tenantId, importId);
      const reason: RowError = { line: 0, column: "", message: `The import stopped after ${ctx.job.attempt} attempts (error id ${id})` };
      await finishImportJob(
        db,
        ctx.job.tenantId,
        importId,
        {
          status: "FAILED",
          errors: JSON.stringify([reason, ...storedErrors(job?.errors ?? "[]")].slice(0, IMPORT_LIMITS.maxStoredErrors)),
        },
        clock.now(),
      );
    }
    throw err;
  }
}
