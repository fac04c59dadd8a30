import { randomUUID } from "node:crypto";
import { systemClock } from "../server/clock";
import type { Db } from "../server/db";
import type { Viewer } from "../server/repos/scope";
import { addMembership, createTenant } from "../server/repos/tenants";
import { inTransaction } from "../server/repos/tx";
import { putAllowlist, putBudget, putMode } from "../server/services/autonomyConfig";
import { submitIntent } from "../server/services/gate";
import { atLeast, type BenchRow } from "./ledger";
import { driverInsertRate, rawFor } from "./raw";

async function rate(n: number, fn: (i: number) => Promise<unknown>) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return n / ((performance.now() - t0) / 1000);
}

/** `n` calls from `callers` concurrent callers, each starting its next call when one returns. */
async function concurrentRate(n: number, callers: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** Concurrent submitters in the group-commit row: what a busy API or several decision runs look like. */
const CALLERS = 64;
/** The per-account daily cap is at most 1000 (BudgetCap), so the concurrent row spreads over accounts. */
const PER_ACCOUNT = 900;

/**
 * Full gate throughput — intent in → policy → budget → internal execution → ledger — one intent
 * at a time, and from 64 concurrent submitters whose intents the gate admits in groups (group
 * commit: one transaction and multi-row writes per group). The bar is on the concurrent row,
 * against two baselines measured in the same run on the same database:
 *  - the physical limit (issue 13): the plain driver, no ORM — on SQLite better-sqlite3 committing
 *    one single-row transaction at a time on the app's own file and settings (WAL, the default
 *    synchronous FULL the app uses); on PostgreSQL 8 connections doing autocommit single-row
 *    inserts concurrently. Bars: ≥ 0.5 of it on SQLite, ≥ 1.0 on PostgreSQL.
 *  - the ORM level: a Prisma interactive transaction around one insert (what any gate write pays).
 */
export async function gateBench(db: Db, label: string, url: string, n: number): Promise<BenchRow[]> {
  const { tenant, accountId, viewer } = await inTransaction(db, async (tx) => {
    const tenant = await createTenant(tx, { slug: `bench-${randomUUID().slice(0, 8)}`, name: "bench" });
    const user = await tx.user.create({ data: { email: `bench-${randomUUID()}@bench.test`, name: "bench" } });
    await addMembership(tx, tenant.id, user.id, "ADMIN");
    const account = await tx.account.create({ data: { tenantId: tenant.id, name: "Bench account", lifecycle: "CUSTOMER" } });
    const viewer: Viewer = { tenantId: tenant.id, actor: { type: "USER", id: user.id }, role: "ADMIN", userId: user.id };
    return { tenant, accountId: account.id, viewer };
  });
  const grouped = Math.max(n * 4, 2000);
  const groupAccounts = await inTransaction(db, (tx) =>
    Promise.all(
      Array.from({ length: Math.ceil(grouped / PER_ACCOUNT) }, (_, k) =>
        tx.account.create({ data: { tenantId: tenant.id, name: `Bench account ${k}`, lifecycle: "CUSTOMER" } }),
      ),
    ),
  );
  await putAllowlist(db, viewer, { actionTypes: ["CREATE_INTERNAL_TASK"] }, systemClock);
  await putMode(db, viewer, { actionType: "CREATE_INTERNAL_TASK", mode: "AUTO_EXECUTE" }, systemClock);
  for (const id of [accountId, ...groupAccounts.map((a) => a.id)])
    await putBudget(db, viewer, { accountId: id, maxPerDay: 1000 }, systemClock);

  // Warm both paths so neither pays first-query planning in the measured loop.
  for (let i = 0; i < 10; i++) await ormInsert(db, tenant.id, -1 - i);
  const orm = await rate(n, (i) => ormInsert(db, tenant.id, i));
  const driver = await driverRate(label, url, tenant.id, Math.max(n, 2000));
  const deps = { db, clock: systemClock, connectors: { smtp: null } };
  const intent = (i: number, onAccount = accountId) => ({
    accountId: onAccount,
    actionType: "CREATE_INTERNAL_TASK",
    confidence: 0.9,
    riskLevel: "LOW",
    why: ["BENCH"],
    parameters: { title: `task ${i}` },
    target: {},
    blockingUnknowns: [],
    source: "API" as const,
  });
  for (let i = 0; i < 5; i++) await submitIntent(deps, viewer, intent(-i));
  let succeeded = 0;
  const gate = await rate(n, async (i) => {
    const r = await submitIntent(deps, viewer, intent(i));
    if (r.status === "SUCCEEDED") succeeded++;
  });
  if (succeeded !== n) throw new Error(`gate bench: only ${succeeded}/${n} intents auto-executed`);
  succeeded = 0;
  let sampleIntent = "";
  const together = await concurrentRate(grouped, CALLERS, async (i) => {
    const r = await submitIntent(deps, viewer, intent(i, (groupAccounts[Math.floor(i / PER_ACCOUNT)] as { id: string }).id));
    if (r.status === "SUCCEEDED") succeeded++;
    sampleIntent = r.actionIntentId;
  });
  if (succeeded !== grouped) throw new Error(`gate bench: only ${succeeded}/${grouped} concurrent intents auto-executed`);
  const floor = await driverGateWrites(label, url, tenant.id, sampleIntent, grouped, CALLERS);
  const bar = label === "sqlite" ? 0.5 : 1.0;
  return [
    {
      suite: "gate",
      db: label,
      case:
        label === "sqlite"
          ? "driver: better-sqlite3 single-row transactions, one at a time (physical limit)"
          : "driver: pg, 8 connections of autocommit single-row inserts (physical limit)",
      opsPerSec: driver,
      ratio: 1,
      note: "",
    },
    {
      suite: "gate",
      db: label,
      case: "ORM: Prisma interactive transaction, one insert",
      opsPerSec: orm,
      ratio: orm / driver,
      note: "ratio to the driver",
    },
    {
      suite: "gate",
      db: label,
      case: "full gate: intent → policy → budget → internal execution → ledger, one at a time",
      opsPerSec: gate,
      ratio: gate / driver,
      note: `ratio to the driver; ${(gate / orm).toFixed(2)} of the ORM baseline; no company to group with`,
    },
    {
      suite: "gate",
      db: label,
      case: `full gate, ${CALLERS} concurrent submitters (group commit)`,
      opsPerSec: together,
      ratio: together / driver,
      note: `ratio to the driver; ${(together / orm).toFixed(2)} of the ORM baseline; ${(together / floor.perSec).toFixed(2)} of the driver writing the same rows (below)`,
      target: atLeast(together / driver, bar),
    },
    {
      suite: "gate",
      db: label,
      case: `driver: the rows one auto-executed intent writes (${floor.rowsPerIntent} inserts + head and budget updates), groups of ${CALLERS} per transaction`,
      opsPerSec: floor.perSec,
      ratio: floor.perSec / driver,
      note: "intents/s; ratio to the single-row driver: the write volume's own ceiling, no policy, JSON, hashing or ORM",
    },
  ];
}

/**
 * What one auto-executed intent writes, for the floor row: each table, how its rows are found from
 * the intent (one bound parameter), and its unique columns (a clone needs fresh values there).
 */
const GATE_ROWS: { table: string; where: string; unique: string[] }[] = [
  { table: "ActionIntent", where: `"id" = ?`, unique: ["idempotencyKey"] },
  { table: "PolicyEvaluation", where: `"intentId" = ?`, unique: [] },
  { table: "Execution", where: `"intentId" = ?`, unique: ["nonReplayKey"] },
  { table: "ToolCall", where: `"executionId" IN (SELECT "id" FROM "Execution" WHERE "intentId" = ?)`, unique: ["idempotencyKey"] },
  { table: "InternalArtifact", where: `"executionId" IN (SELECT "id" FROM "Execution" WHERE "intentId" = ?)`, unique: [] },
  { table: "Outcome", where: `"intentId" = ?`, unique: [] },
  { table: "LedgerEntry", where: `"correlationId" = (SELECT "correlationId" FROM "ActionIntent" WHERE "id" = ?)`, unique: ["seq"] },
];

/**
 * The physical ceiling of the gate's write volume: the plain driver inserting, per intent, copies of
 * the very rows an auto-executed intent wrote (same columns, same payload sizes, same indexes; ids,
 * unique keys and ledger seqs made fresh), `group` intents per transaction with one multi-row INSERT
 * per table, plus the ledger head and budget counter updates a group makes — what the gate's group
 * commit writes, without deciding, canonicalising, hashing or the ORM. Intents per second.
 */
async function driverGateWrites(label: string, url: string, tenantId: string, intentId: string, n: number, group: number) {
  const raw = await rawFor(label, url);
  try {
    const sample: { table: string; columns: string[]; rows: unknown[][]; unique: string[] }[] = [];
    for (const spec of GATE_ROWS) {
      const rows = await raw.all(`SELECT * FROM "${spec.table}" WHERE ${spec.where.replace("?", raw.p(0))}`, [intentId]);
      if (!rows.length) throw new Error(`gate bench floor: the sample intent wrote no ${spec.table} row`);
      const columns = Object.keys(rows[0] as object);
      sample.push({ table: spec.table, columns, rows: rows.map((r) => columns.map((c) => r[c])), unique: spec.unique });
    }
    // Every id of the sample (and its correlation id) is replaced consistently in each clone.
    const ids = new Set<unknown>();
    for (const t of sample) for (const r of t.rows) ids.add(r[t.columns.indexOf("id")]);
    for (const r of sample.find((t) => t.table === "ActionIntent")?.rows ?? [])
      ids.add(r[sample[0]?.columns.indexOf("correlationId") ?? -1]);
    const top = await raw.all(`SELECT MAX("seq") AS m FROM "LedgerEntry" WHERE "tenantId" = ${raw.p(0)}`, [tenantId]);
    let seq = Number(top[0]?.m ?? 0) + 1;
    let clone = 0;
    const rowsPerIntent = sample.reduce((k, t) => k + t.rows.length, 0);
    const t0 = performance.now();
    for (let done = 0; done < n; done += group) {
      const size = Math.min(group, n - done);
      await raw.tx(async (exec) => {
        const clones = Array.from({ length: size }, () => ++clone);
        for (const t of sample) {
          const values: unknown[] = [];
          const tuples: string[] = [];
          for (const c of clones)
            for (const r of t.rows) {
              const start = values.length;
              t.columns.forEach((col, k) => {
                const v = r[k];
                if (col === "seq" && t.unique.includes("seq")) values.push(seq++);
                else if (t.unique.includes(col) && v !== null) values.push(`${v}:floor${c}`);
                else values.push(ids.has(v) ? `${v}:floor${c}` : v);
              });
              tuples.push(`(${t.columns.map((_, k) => raw.p(start + k)).join(", ")})`);
            }
          await exec(`INSERT INTO "${t.table}" (${t.columns.map((c) => `"${c}"`).join(", ")}) VALUES ${tuples.join(", ")}`, values);
        }
        await exec(`UPDATE "LedgerHead" SET "seq" = ${raw.p(0)}, "hash" = ${raw.p(1)} WHERE "tenantId" = ${raw.p(2)}`, [
          seq - 1,
          "f".repeat(64),
          tenantId,
        ]);
        await exec(`UPDATE "BudgetUsage" SET "consumed" = "consumed" WHERE "tenantId" = ${raw.p(0)} AND "id" = ${raw.p(1)}`, [
          tenantId,
          "floor",
        ]);
      });
    }
    return { perSec: n / ((performance.now() - t0) / 1000), rowsPerIntent };
  } finally {
    await raw.close();
  }
}

/** The plain driver's single-row commit rate on this database (see gateBench). */
function driverRate(label: string, url: string, tenantId: string, n: number): Promise<number> {
  const columns = ["id", "tenantId", "seq", "correlationId", "type", "actorType", "actorId", "payload", "createdAt", "prevHash", "hash"];
  return driverInsertRate(label, url, "LedgerEntry", columns, n, (i, date) => [
    `drv-${randomUUID()}`,
    tenantId,
    20_000_000 + i,
    randomUUID(),
    "SIGNAL_RECEIVED",
    "SYSTEM",
    "bench",
    '{"n":1}',
    date,
    "",
    "",
  ]);
}

function ormInsert(db: Db, tenantId: string, i: number) {
  return inTransaction(db, (tx) =>
    tx.ledgerEntry.create({
      data: {
        tenantId,
        seq: 10_000_000 + i,
        correlationId: randomUUID(),
        type: "SIGNAL_RECEIVED",
        actorType: "SYSTEM",
        actorId: "bench",
        payload: '{"n":1}',
        createdAt: new Date(),
        prevHash: "",
        hash: "",
      },
    }),
  );
}
